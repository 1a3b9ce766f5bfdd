"""Lab 01 (EHR data modeling): an exam release (the package without ``reference`` and ``answers``) still imports,
releases no answer, and says so when a check needs the reference. (Worked, alternative and known-wrong answers
are proven for every lab in tests/test_checks.py.)"""

from __future__ import annotations

import subprocess
import sys


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab01.reference'] = None\n"
        "sys.modules['hitlab.checks.lab01.answers'] = None\n"
        "from hitlab.checks import lab01\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab01.QUESTIONS)\n"
        "assert all(not q.alternatives for q in lab01.QUESTIONS)\n"
        "try:\n"
        "    lab01.q1.check({'patients.ZIP, such as 02138': 'VARCHAR'})\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
