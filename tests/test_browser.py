"""What a learner sees in JupyterLab under ``hitlab lab``, in a real browser: Playwright driving Debian's Chromium.

A copy of the workbook (lab00, its source, data/README.md) in a temporary folder is served by ``hitlab lab``
(``HITLAB_ROOT``), so the checkout gets no work/; the dataset is the checkout's shared one. The servers run with
their own HOME, whose ``.bashrc`` resets PATH as many do. Screenshots go to ``$HITLAB_ARTIFACTS/browser``
(default: pytest's temporary folder); each test saves at least one, and one of the page when it ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from lab_process import LabServer, running_lab
from workbook_copy import workbook_copy

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]
LAB = "lab00_orientation"
NOTEBOOK = f"work/{LAB}/{LAB}.ipynb"
INSTRUCTOR_TOOLS = ("Formgrader", "Assignment List", "Course List", "Create assignment")
BASHRC = "export PATH=/usr/bin:/bin\nexport FROM_TEST_BASHRC=yes\n"
TIMEOUT_MS = 60_000


# --- servers and the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    root = workbook_copy(tmp_path_factory.mktemp("workbook"))
    home = root.parent / "home"
    home.mkdir()
    (home / ".bashrc").write_text(BASHRC)
    return root


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    base = os.environ.get("HITLAB_ARTIFACTS")
    folder = Path(base) / "browser" if base else tmp_path_factory.mktemp("browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def hitlab_lab(root: Path, *args: str) -> Iterator[LabServer]:
    """``hitlab lab --no-browser --port <free> *args`` on the workbook copy *root*; stopped at the end."""
    run = Path(tempfile.mkdtemp(prefix="lab-", dir=root.parent))
    env = {
        "HITLAB_ROOT": str(root),
        "HITLAB_HOME": str(run / "hitlab-home"),
        "HOME": str(root.parent / "home"),
    }
    with running_lab(run, env=env, args=args) as server:
        yield server


@pytest.fixture(scope="module")
def learner(workbook) -> Iterator[LabServer]:
    from hitlab.data import build_dataset

    build_dataset("default")  # notebooks connect to it; built once for the whole suite
    with hitlab_lab(workbook) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Debian's Chromium under Playwright, with a new empty profile."""
    missing = (
        "Playwright (pip install playwright)"
        if _no_playwright()
        else f"{CHROMIUM} (apt-get install chromium)"
    )
    if _no_playwright() or not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _no_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.fixture
def page(chromium, artifacts, request):
    page = chromium.new_page()

    def shot(name: str, target=None) -> None:
        """Screenshot the page, or *target* once scrolled into view (JupyterLab lays cells out lazily)."""
        if target is not None:
            target.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
        (target or page).screenshot(path=str(artifacts / f"{request.node.name}-{name}.png"))

    page.shot = shot
    try:
        yield page
    finally:
        with contextlib.suppress(Exception):
            page.shot("end")
        page.close()


def open_lab(page, server: LabServer, path: str = "work") -> None:
    """Open JupyterLab at *path* in a workspace of this test's own (so no tabs come back from another test)."""
    workspace = re.sub(r"\W", "-", os.environ.get("PYTEST_CURRENT_TEST", "t").split(" ")[0])[-60:]
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?token={server.token}")
    page.locator(".jp-DirListing-item").first.wait_for()


def open_notebook(page, server: LabServer, path: str):
    open_lab(page, server, path)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    # The kernel is attached (the toolbar's indicator says idle before that, and Run All would then ask for one).
    page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle").wait_for()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for()
    return page.locator(".jp-NotebookPanel .jp-Cell")


def wait_for_text(page, locator, text: str, timeout: float = TIMEOUT_MS) -> str:
    """Wait until *locator*'s text contains *text*; its text."""
    page.wait_for_function(
        "([el, text]) => el.textContent.includes(text)", arg=[locator.element_handle(), text], timeout=timeout
    )
    return locator.text_content()


def menu(page, *path: str) -> None:
    """Click through JupyterLab's main menu, e.g. menu(page, "File", "New", "Terminal")."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{path[0]}$")).click()
    for label in path[1:-1]:
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{label}$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{path[-1]}$")).click()


def palette_labels(page, query: str) -> list[str]:
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill(query)
    time.sleep(0.3)
    labels = [e.inner_text() for e in page.locator(".lm-CommandPalette-itemLabel").all()]
    page.keyboard.press("Escape")
    return labels


def news_toasts(page) -> list[str]:
    return [t for t in page.locator(".Toastify__toast").all_inner_texts() if "news" in t.lower()]


# --- a learner's notebook ------------------------------------------------------------------------------------


def answers(nb, given: dict[str, str]) -> None:
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in given:
            cell.source = given[grade_id]


def index_of(nb, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def message_for(question, code: str) -> str:
    """The first line of what the question's check says about the answer *code* (computed here, not pasted)."""
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(AssertionError) as err:
        question.check(namespace[question.variable])
    return str(err.value).splitlines()[0]


# --- the tests -----------------------------------------------------------------------------------------------


def test_learner_runs_a_lab_and_sees_each_checks_verdict(page, learner, workbook):
    """Run All on the working copy: a right answer's test cell says Correct, a wrong one shows the message."""
    from hitlab.checks import lab00

    path = workbook / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    answers(nb, {lab00.q1.grade_id: lab00.q1.solution_code, lab00.q2.grade_id: lab00.q2.wrong[0]})
    nbformat.write(nb, path)
    expected = message_for(lab00.q2, lab00.q2.wrong[0])

    cells = open_notebook(page, learner, NOTEBOOK)
    menu(page, "Run", "Run All Cells")
    right = cells.nth(index_of(nb, f"{lab00.q1.grade_id}_test"))
    wrong = cells.nth(index_of(nb, f"{lab00.q2.grade_id}_test"))
    shown = wait_for_text(page, wrong.locator(".jp-OutputArea"), expected)
    assert "Correct" in wait_for_text(page, right.locator(".jp-OutputArea"), "Correct")
    assert "Correct" not in shown
    page.shot("q1-correct", right)
    page.shot("q2-incorrect", wrong)
    # The file browser shows the working copy, not labs/.
    assert "work" in page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text()


def test_check_my_work_saves_the_notebook_and_reports_its_score(page, learner, workbook):
    """An answer typed but not saved counts: check_my_work() saves first, then grades the saved file."""
    from hitlab.checks import lab00

    path = workbook / f"work/{LAB}/check_me.ipynb"
    nb = nbformat.read(workbook / "labs" / LAB / f"{LAB}.ipynb", as_version=4)
    answers(nb, {lab00.q1.grade_id: lab00.q1.solution_code})
    nb.cells.append(nbformat.v4.new_code_cell("from hitlab import check_my_work\n\ncheck_my_work()"))
    nbformat.write(nb, path)
    total = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    )
    score = lab00.q1.points + lab00.q6.points

    cells = open_notebook(page, learner, f"work/{LAB}/check_me.ipynb")
    cells.nth(index_of(nb, lab00.q6.grade_id)).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(lab00.q6.solution_code)  # typed, not saved
    check = cells.nth(len(nb.cells) - 1)
    check.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    output = check.locator(".jp-OutputArea")
    wait_for_text(page, output, "Saved check_me.ipynb at", timeout=30_000)
    text = wait_for_text(page, output, LAB, timeout=120_000)
    page.shot("report", check)
    assert "Could not confirm" not in text
    assert re.search(rf"\b{score:g} / {total:g}\b", text), text
    assert (
        lab00.q6.solution_code
        in nbformat.read(path, as_version=4).cells[index_of(nb, lab00.q6.grade_id)].source
    )


def test_learner_mode_has_no_instructor_tools_nor_news(page, learner):
    open_lab(page, learner)
    page.locator(".jp-DirListing-item", has_text=LAB).wait_for()
    time.sleep(3)  # the news question, when on, pops up right after start-up
    page.shot("start")
    assert news_toasts(page) == []
    assert "Nbgrader" not in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    tabs = " ".join(
        t or "" for t in page.locator(".lm-TabBar-tab").evaluate_all("ts => ts.map(t => t.title)")
    )
    assert "Create Assignment" not in tabs and "Nbgrader" not in tabs
    for tool in INSTRUCTOR_TOOLS:
        assert tool not in palette_labels(page, tool)
    assert learner.get("/formgrader").status_code == 404
    log = learner.output()
    assert "nbgrader" not in log.lower() and "without encryption" not in log, log


def test_data_readme_opens_from_a_link_in_a_working_copy(page, learner, workbook):
    """A lab under work/<lab>/ links the data dictionary as ../../data/README.md."""
    path = workbook / f"work/{LAB}/links.ipynb"
    nb = nbformat.read(workbook / "labs" / LAB / f"{LAB}.ipynb", as_version=4)  # for its kernel metadata
    nb.cells = [
        nbformat.v4.new_markdown_cell("[data dictionary](../../data/README.md)"),
        nbformat.v4.new_code_cell(),  # JupyterLab asks which kernel to start for a notebook without code
    ]
    nbformat.write(nb, path)
    open_notebook(page, learner, f"work/{LAB}/links.ipynb")
    page.locator(".jp-RenderedMarkdown a", has_text="data dictionary").click()
    tab = page.locator(".lm-TabBar-tab", has_text="README.md")
    tab.wait_for()
    first_line = (workbook / "data" / "README.md").read_text().splitlines()[0].lstrip("# ").strip()
    page.locator(".jp-RenderedMarkdown h1", has_text=first_line).wait_for()  # opened as rendered Markdown
    page.shot("readme")


def test_terminal_has_hitlab_first_on_path(page, learner, workbook):
    """The terminal reads the user's ~/.bashrc (which resets PATH here) and still finds the venv's hitlab."""
    open_lab(page, learner)
    menu(page, "File", "New", "Terminal")
    page.locator(".jp-Terminal .xterm-helper-textarea").wait_for(state="attached")
    page.locator(".jp-Terminal").click()
    out = workbook / "work" / "terminal.txt"
    page.keyboard.type(
        f'hitlab --version; command -v hitlab; echo "bashrc:$FROM_TEST_BASHRC" > {out.name}; '
        f"command -v hitlab >> {out.name}; hitlab --version >> {out.name}\n"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(out.read_text().splitlines() if out.exists() else []) < 3:
        time.sleep(0.2)
    page.shot("terminal", page.locator(".jp-Terminal"))
    lines = out.read_text().splitlines()
    assert lines[0] == "bashrc:yes"
    assert lines[1] == str(Path(sys.executable).parent / "hitlab")
    assert lines[2].startswith("hitlab, version")


def test_instructor_mode_shows_nbgrader_tools(page, workbook):
    with hitlab_lab(workbook, "--instructor") as server:
        open_lab(page, server)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        items = page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts()
        page.shot("nbgrader-menu")
        page.keyboard.press("Escape")
        assert {"Formgrader", "Assignment List", "Course List"} <= set(items)
        tabs = page.locator(".lm-TabBar-tab").evaluate_all("ts => ts.map(t => t.title)")
        assert any("Create Assignment" in (t or "") for t in tabs)
        assert "Formgrader" in palette_labels(page, "Formgrader")
        assert news_toasts(page) == []
        assert server.get("/formgrader/api/assignments").status_code == 200
        assert "No nbgrader_config.py" not in server.output()
