"""``check_my_work()`` outside the browser: how it finds its notebook, and what it says when it cannot save.

The whole path (JupyterLab saves, the saved file is graded) is tests/test_browser.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import hitlab
from hitlab.notebook_check import RUNNING, check_my_work, notebook_path
from workbook_copy import REPO

LAB = "lab00_orientation"


def test_exported_from_the_package_without_import_time_work():
    assert hitlab.check_my_work is check_my_work
    with pytest.raises(AttributeError):
        _ = hitlab.no_such_thing


def test_notebook_path_from_jupyter_servers_session_name(monkeypatch, tmp_path):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert notebook_path() is None
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "a.ipynb"))
    assert notebook_path() == tmp_path / "a.ipynb"
    # A path relative to the server's root: the kernel runs in the notebook's folder.
    (tmp_path / "b.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "work/lab/b.ipynb")
    assert notebook_path() == tmp_path / "b.ipynb"


def test_outside_jupyter_it_says_how_to_check(monkeypatch, capsys):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv(RUNNING, raising=False)
    check_my_work()
    assert "pass the path" in capsys.readouterr().out
    check_my_work("no/such/notebook.ipynb")
    assert "is not there" in capsys.readouterr().out


def test_does_nothing_inside_the_check_it_started(monkeypatch, capsys):
    """The check's kernel runs the notebook, this call included: it must not start another check."""
    monkeypatch.setenv(RUNNING, "1")
    monkeypatch.setenv("JPY_SESSION_NAME", str(REPO / "labs" / LAB / f"{LAB}.ipynb"))
    check_my_work()
    assert "being checked" in capsys.readouterr().out


@pytest.mark.notebook
def test_with_a_path_it_checks_the_saved_file(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(RUNNING, raising=False)
    monkeypatch.setenv("HITLAB_HOME", str(tmp_path / "home"))
    check_my_work(Path(REPO / "labs" / LAB / f"{LAB}.ipynb"))
    out = capsys.readouterr().out
    assert "as saved at" in out and LAB in out
