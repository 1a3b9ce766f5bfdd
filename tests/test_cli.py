"""The command line is a thin layer: real work in, clean messages and exit status 2 for bad input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hitlab.cli import main


def test_generate_then_load(tmp_path):
    runner = CliRunner()
    out = tmp_path / "pop"
    result = runner.invoke(main, ["data", "generate", "-n", "12", "-s", "4", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "wrote 12 patients" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["patients"] == 12 and manifest["seed"] == 4
    assert f"{manifest['counts']['encounters']:>10,}" in result.output
    result = runner.invoke(main, ["data", "load", str(out), "--db", str(tmp_path / "pop.duckdb")])
    assert result.exit_code == 0, result.output
    assert "patients" in result.output and "fhir_patient" in result.output


def test_bad_arguments_are_clean_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["data", "generate", "-n", "5", "-o", str(tmp_path / "x"), "--formats", "csv,xml"]
    )
    assert result.exit_code == 2
    assert "unknown format(s) xml: choose from csv, fhir, hl7v2" in result.output
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = runner.invoke(main, ["data", "generate", "-n", "5", "-o", str(tmp_path / "busy"), "-q"])
    assert result.exit_code == 2 and "not a hitlab dataset" in result.output
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_every_help_ends_with_an_example():
    runner = CliRunner()
    for args in ([], ["data"], ["data", "generate"], ["data", "load"], ["data", "build"], ["lab"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, args
        last_two = [line.strip() for line in result.output.rstrip().splitlines()[-2:]]
        assert last_two[0] == "Example:" and last_two[1].startswith("hitlab "), args
