"""Lab 00 (orientation): an exam release (the package without ``reference`` and ``answers``) still imports,
releases no answer, and says so when a check needs the reference. (Worked, alternative and known-wrong answers
are proven for every lab in tests/test_checks.py.)"""

from __future__ import annotations

import subprocess
import sys

from hitlab.checks import lab00


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
