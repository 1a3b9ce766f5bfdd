"""`make docs`: the website builds without a warning, holds every guide and every released lab with its Binder
link, its links lead somewhere, and it shows no solution or hidden-test text."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from hitlab.course.notebooks import source_notebook
from hitlab.course.verify import secret_lines

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import docs  # noqa: E402  (tools/docs.py, what make docs runs)

LABS = [nb.stem for nb in docs.labs()]


def _text(page: Path) -> str:
    """A page's text as a reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "docs.py"), "--out", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stdout + run.stderr
    assert f"site built: {out / 'html' / 'index.html'}" in run.stdout
    return out / "html"


def test_the_site_has_the_readme_the_guides_and_every_lab(site):
    assert len(LABS) == 11 and LABS[0] == "lab00_orientation"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<title>hitlab &#8212; hitlab: healthcare-IT interview labs</title>" in index
    for page in ("labs/README.html", "data/README.html", "graders/README.html"):
        assert f'href="{page}"' in index
    assert "Working through a lab" in _text(site / "labs" / "README.html")
    assert "Grading hitlab" in _text(site / "graders" / "README.html")
    for lab in LABS:
        page = site / "labs" / lab / f"{lab}.html"
        assert f'href="labs/{lab}/{lab}.html"' in index
        title = (
            nbformat.read(ROOT / "labs" / lab / f"{lab}.ipynb", as_version=4).cells[0].source.splitlines()[0]
        )
        assert title.removeprefix("# ") in _text(page)
        link = f'href="{html.escape(docs.binder_url(lab))}"'
        assert link in page.read_text(encoding="utf-8"), lab
        assert (
            docs.binder_url(lab)
            == f"https://mybinder.org/v2/gh/hitlab/hitlab/HEAD?urlpath=lab/tree/work/{lab}/{lab}.ipynb"
        )


def test_the_binder_links_open_the_repository_that_the_readme_badge_opens():
    badge = re.search(r"\(https://mybinder\.org/v2/gh/([^?)]+)\?", (ROOT / "README.md").read_text()).group(1)
    assert f"https://mybinder.org/v2/gh/{badge}" == docs.BINDER


def test_every_link_leads_somewhere(site):
    """Links inside the site reach a page or file of it (and its anchors exist); links to the repository name
    files that exist in it."""
    checked = 0
    for page in site.rglob("*.html"):
        if page.parent.name == "_static":
            continue  # the theme's template fragments
        text = page.read_text(encoding="utf-8")
        for href in re.findall(r'href="([^"]+)"', text):
            href = html.unescape(href)
            parts = urlsplit(href)
            if href.startswith(docs.REPOSITORY + "/"):
                path = parts.path.split("/HEAD/", 1)[1]
                assert (ROOT / path).exists(), f"{page.relative_to(site)} links {href}"
                checked += 1
            elif not parts.scheme and parts.path:
                target = (page.parent / parts.path).resolve()
                assert target.exists(), f"{page.relative_to(site)} links {href}"
                if parts.fragment and target.suffix == ".html":
                    assert f'id="{parts.fragment}"' in target.read_text(encoding="utf-8"), (page, href)
                checked += 1
    assert checked > 200


@pytest.mark.parametrize("lab", LABS)
def test_no_solution_or_hidden_test_text_in_the_site(site, lab):
    secrets = secret_lines(nbformat.read(source_notebook(ROOT, lab), as_version=4))
    assert len(secrets) > 3
    shown = {line.strip() for line in _text(site / "labs" / lab / f"{lab}.html").splitlines()}
    sources = [p for p in (site / "_sources").rglob(f"{lab}*") if p.is_file()]
    assert sources  # the page's source, as the site offers it for download
    for source in sources:
        shown |= {line.strip() for line in source.read_text(encoding="utf-8").splitlines()}
    shown |= {line.strip() for line in _text(site / "searchindex.js").splitlines()}
    assert not secrets & shown
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS"):
        assert marker not in "\n".join(shown)
