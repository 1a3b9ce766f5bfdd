"""The similarity report: normalization that renaming and reformatting cannot defeat, and precision on generated
cohorts whose honest answers are alike because the exercises are small (each question answered with one of its
few worked, alternative or known-wrong answers, or left blank), with planted copies disguised by renamed
variables, reformatting and comments."""

from __future__ import annotations

import random
import re

import pytest

from hitlab.checks import questions
from hitlab.course.notebooks import (
    answered,
    graded_cells,
    lab_names,
    read,
    release_notebook,
    solution_code,
    source_notebook,
)
from hitlab.grading.report import report_html
from hitlab.grading.similarity import BLANK, answers_of, normalize, similar_pairs
from workbook_copy import REPO

SQL = 'q = """\nSELECT p.Id, count(*) AS n\nFROM patients p JOIN encounters e ON e.PATIENT = p.Id\nGROUP BY p.Id\n"""'


def test_renaming_reformatting_and_comments_change_nothing():
    original = "def age(born, when):\n    years = when.year - born.year\n    return years - (when.month < born.month)\n"
    disguised = (
        "# my own work\ndef my_age( b , w ):\n\n    # years first\n    y = w.year-b.year\n\n"
        "    return y - ( w.month < b.month )\n"
    )
    assert normalize(original) == normalize(disguised)
    assert normalize(original) != normalize(original.replace("<", "<="))
    assert normalize(SQL) == normalize(
        SQL.replace("SELECT", "select").replace("\n", "  \n").replace('"""', "'''")
    )
    assert normalize("# YOUR CODE HERE\nraise NotImplementedError()") == ()
    assert normalize("def f(:\n  x", "code")  # not Python: still compared, word by word


PROSE = [
    f"Point {w} about {t}."
    for w in ("one", "two", "three", "four")
    for t in ("the data", "the rule", "the risk")
]


def _disguise(code: str) -> str:
    for name in set(re.findall(r"^(\w+)\s*=", code, re.M)):
        code = re.sub(rf"\b{name}\b", f"{name}_x", code)
    return "# my own work\n" + code.replace("\n", "\n\n")


def _cohort(lab: str, honest: int, seed: int):
    """Notebooks of ``honest`` independent learners and of planted copiers: two copy a whole notebook, one 60%
    of it; returns (answers per learner, the planted pairs)."""
    rng = random.Random(seed)
    release = read(release_notebook(REPO, lab))
    qs = list(questions(lab))
    written = [c.grade_id for c in graded_cells(read(source_notebook(REPO, lab))) if c.kind == "manual"]

    def learner() -> dict[str, str]:
        given = {q.grade_id: solution_code(rng.choice([q.solution_code, *q.alternatives, *q.wrong]))
                 for q in qs if rng.random() > 0.12}  # fmt: skip
        return {**given, **{w: " ".join(rng.sample(PROSE, 3)) for w in written}}

    people = {f"s{i:03d}": learner() for i in range(honest)}
    planted = {("c001", "s000"): 1.0, ("c002", "s001"): 1.0, ("c003", "s002"): 0.6}
    for (copier, source), share in planted.items():
        base, own = people[source], learner()
        keep = set(rng.sample(sorted(base), int(len(base) * share)))
        people[copier] = {g: (_disguise(a) if g not in written else a) if g in keep else own.get(g, "")
                          for g, a in base.items()}  # fmt: skip
    notebooks = {s: answered(release, {g: a for g, a in given.items() if a}) for s, given in people.items()}
    return {s: answers_of(nb) for s, nb in notebooks.items()}, planted


LABS = ["lab02", "lab03", "lab06", "lab07", "lab09", "lab10"]


@pytest.fixture(scope="module")
def outcomes():
    found = {}
    for short in LABS:
        lab = lab_names(REPO, [short])[0]
        answers, planted = _cohort(lab, honest=30, seed=1)
        found[lab] = ({p.students for p in similar_pairs(lab, answers)}, planted, answers)
    return found


def test_no_honest_pair_is_flagged(outcomes):
    for lab, (flagged, planted, _answers) in outcomes.items():
        assert flagged <= set(planted), f"{lab}: honest pairs flagged: {sorted(flagged - set(planted))}"


def test_the_planted_copies_are_found(outcomes):
    whole = [(lab, pair) for lab, (_f, planted, _a) in outcomes.items() for pair, share in planted.items()
             if share == 1.0]  # fmt: skip
    found = [(lab, pair) for lab, pair in whole if pair in outcomes[lab][0]]
    assert len(found) >= 10, f"whole copies found: {len(found)} of {len(whole)}"  # measured: 10 of 12
    assert any(("c003", "s002") in outcomes[lab][0] for lab in outcomes)  # a 60% copy, in some labs


def test_the_report_shows_the_evidence_side_by_side(outcomes):
    lab = next(lab for lab, (flagged, _p, _a) in outcomes.items() if ("c001", "s000") in flagged)
    answers = outcomes[lab][2]
    pairs = similar_pairs(lab, answers)
    page = report_html(
        [lab], {lab: {}}, {}, {}, {}, {lab: pairs}
    )  # no graded scores: the section still shows
    assert (
        "<h3>Similar submissions (evidence for you to judge, not a verdict)</h3>" not in page
    )  # lab not in sources
    source = read(source_notebook(REPO, lab))
    few = report_html(
        [lab], {lab: {s: {} for s in sorted(answers)[:4]}}, {}, {lab: source}, {lab: {}}, {lab: pairs}
    )
    assert "Fewer than 5 graded submissions: too few to tell" in few and "c001 and s000" not in few
    page = report_html([lab], {lab: {s: {} for s in answers}}, {}, {lab: source}, {lab: {}}, {lab: pairs})
    assert "c001 and s000" in page and '<table class="side">' in page
    copied = next(p for p in pairs if p.students == ("c001", "s000"))
    # the copier's cells as written (disguised), next to the originals they match
    assert any(
        m.sources[0].startswith("# my own work") and not m.sources[1].startswith("#") for m in copied.matches
    )
    assert BLANK == ("blank", "")
