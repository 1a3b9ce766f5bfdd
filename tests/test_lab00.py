"""Lab 00 (orientation): each question's worked answer and alternatives pass and each known-wrong answer
fails, and an exam release (the package without ``reference`` and ``answers``) still imports, releases no
answer, and says so when a check needs the reference."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_proof import prove_answers
from hitlab.checks import lab00


@pytest.mark.parametrize("q", lab00.QUESTIONS, ids=lambda q: q.grade_id)
def test_solution_passes_and_wrong_answers_fail(q, capsys):
    prove_answers(q, capsys)


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab00.reference'] = None\n"
        "sys.modules['hitlab.checks.lab00.answers'] = None\n"
        "from hitlab.checks import lab00\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab00.QUESTIONS)\n"
        "assert all(not q.alternatives for q in lab00.QUESTIONS)\n"
        "assert not hasattr(lab00, 'CODE_SYSTEMS') and not hasattr(lab00, 'HIPAA_ROLES')\n"
        "try:\n"
        "    lab00.q1.check('B')\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_keys_of_q2_and_q3_are_still_offered():
    """``lab00.CODE_SYSTEMS`` and ``lab00.HIPAA_ROLES`` (the keys of Q2 and Q3) read the reference."""
    assert lab00.q3.answer_key == lab00.CODE_SYSTEMS and lab00.q2.answer_key == lab00.HIPAA_ROLES
