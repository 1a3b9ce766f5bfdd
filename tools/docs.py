"""Build hitlab's website: a static HTML site of the README, the learner's guide, every released lab, the data
dictionary and the instructor's guide (``make docs``; open ``docs/_build/html/index.html``).

    .venv/bin/python tools/docs.py [--out DIR]

Sphinx with MyST (``myst-nb`` renders the notebooks as they are released, unexecuted; ``sphinx-book-theme``
lays them out). The pages are copied into a staging folder at their paths in the repository, so the links
between them work as they do on GitHub; a link to any other file of the repository becomes a link to that file
on GitHub. Each lab's page opens with a link that starts it on Binder in the learner's working copy. The build
treats every warning as an error.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/hitlab/hitlab"
BINDER = "https://mybinder.org/v2/gh/hitlab/hitlab/HEAD"
#: The guides, by their path in the repository, in the site's order (the README is the home page).
GUIDES = ("README.md", "labs/README.md", "data/README.md", "graders/README.md")
#: Where a page is in the site when not at its path in the repository: the README is the home page.
SITE_PATHS = {"README.md": "index.md"}
#: A Markdown link or image target: ``](target)`` (no spaces; an optional title is kept).
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)(\s+\"[^\"]*\")?\)")

CONF = """\
project = "hitlab"
author = "the hitlab authors"
copyright = "the hitlab authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "sphinx_book_theme"
html_title = "hitlab: healthcare-IT interview labs"
html_theme_options = {{
    "repository_url": {repository!r},
    "use_repository_button": True,
    "home_page_in_toc": True,
}}
html_show_sourcelink = False
"""


def labs(root: Path = ROOT) -> list[Path]:
    """The released lab notebooks, ``labs/<lab>/<lab>.ipynb``, in order."""
    return sorted(
        p / f"{p.name}.ipynb" for p in (root / "labs").iterdir() if (p / f"{p.name}.ipynb").is_file()
    )


def binder_url(lab: str) -> str:
    """Binder, opening the learner's working copy of ``lab`` (``work/``, seeded from ``labs/`` on Binder)."""
    return f"{BINDER}?urlpath=lab/tree/work/{lab}/{lab}.ipynb"


def _relink(text: str, page: str, staged: set[str], root: Path) -> str:
    """Links of ``page`` (a repository path) to files the site does not hold become links to GitHub."""

    def fix(match: re.Match) -> str:
        target, title = match.group(1), match.group(2) or ""
        path, _, anchor = target.partition("#")
        resolved = (root / Path(page).parent / path).resolve()
        try:
            repo_path = resolved.relative_to(root).as_posix()
        except ValueError:
            return match.group(0)
        if not path:
            return match.group(0)
        if repo_path in staged:
            site = SITE_PATHS.get(repo_path)
            if site is None:
                return match.group(0)
            here = Path(SITE_PATHS.get(page, page)).parent
            relative = Path(*[".."] * len(here.parts), site).as_posix()
            return f"]({relative}{'#' + anchor if anchor else ''}{title})"
        kind = "tree" if resolved.is_dir() else "blob"
        url = f"{REPOSITORY}/{kind}/HEAD/{repo_path}" + (f"#{anchor}" if anchor else "")
        return f"]({url}{title})"

    return LINK.sub(fix, text)


def stage(out: Path, root: Path = ROOT) -> Path:
    """Write the site's sources into ``out/src`` and return it."""
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    notebooks = labs(root)
    staged = {*GUIDES, *(nb.relative_to(root).as_posix() for nb in notebooks)}
    toc = "\n".join(
        [
            "",
            "```{toctree}",
            ":hidden:",
            ":caption: Contents",
            "",
            "labs/README",
            *(nb.relative_to(root).with_suffix("").as_posix() for nb in notebooks),
            "data/README",
            "graders/README",
            "```",
            "",
        ]
    )
    for page in GUIDES:
        text = _relink((root / page).read_text(encoding="utf-8"), page, staged, root)
        if page == "README.md":
            text += toc
        site = src / SITE_PATHS.get(page, page)
        site.parent.mkdir(parents=True, exist_ok=True)
        site.write_text(text, encoding="utf-8")
    for nb_path in notebooks:
        page = nb_path.relative_to(root).as_posix()
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        launch = (
            f"[Open this lab on Binder]({binder_url(nb_path.stem)}): a live JupyterLab with the data built "
            "(your work there is not kept)."
        )
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cell["source"] = _relink(text, page, staged, root)
                if launch and cell["source"].startswith("# "):  # under the lab's title
                    title, _, rest = cell["source"].partition("\n")
                    cell["source"], launch = f"{title}\n\n{launch}\n{rest}", ""
        if launch:
            raise SystemExit(f"error: {page} does not open with a '# ' title for its Binder link")
        (src / page).parent.mkdir(parents=True, exist_ok=True)
        (src / page).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(repository=REPOSITORY), encoding="utf-8")
    return src


def build(out: Path = ROOT / "docs" / "_build") -> Path:
    """Stage and build the site; return the folder of its HTML. Raises on any Sphinx warning."""
    src = stage(out)
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)  # no page left over from an earlier build
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        str(src),
        str(html),
    ]
    print(" ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "_build", help="build folder (default docs/_build)"
    )
    args = parser.parse_args(argv)
    try:
        html = build(args.out)
    except subprocess.CalledProcessError as err:
        print(
            f"error: the site did not build cleanly (Sphinx exit status {err.returncode}; warnings above)",
            file=sys.stderr,
        )
        return 1
    print(f"site built: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
