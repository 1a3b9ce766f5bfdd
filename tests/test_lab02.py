"""Lab 02 (SQL on patient data): the question table names every question, and an exam release without reference and
answers still imports (its checks then say there is no reference, on the data and on the made-up scenarios).
(Worked, alternative and known-wrong answers are proven for every lab in tests/test_checks.py.)"""

from __future__ import annotations

import subprocess
import sys

from hitlab.checks import lab02
from hitlab.checks.lab02 import questions


def test_grade_ids_points_and_the_table():
    ids = [q.grade_id for q in lab02.QUESTIONS]
    assert ids == ["lab02_age_at_encounter", "lab02_encounters_by_class_year", "lab02_latest_hba1c",
                   "lab02_hba1c_flag", "lab02_length_of_stay", "lab02_hba1c_care_gap", "lab02_controlling_bp",
                   "lab02_readmission_rate", "lab02_polypharmacy", "lab02_charlson",
                   "lab02_telehealth_share"]  # fmt: skip
    assert sum(q.points for q in lab02.QUESTIONS) == 32
    for q in lab02.QUESTIONS:
        assert f"| {q.grade_id} " in questions.__doc__
        assert f"`{q.variable}`" in questions.__doc__


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab02.reference'] = None\n"
        "sys.modules['hitlab.checks.lab02.answers'] = None\n"
        "from hitlab.checks import lab02\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab02.QUESTIONS)\n"
        "assert not any(q.alternatives for q in lab02.QUESTIONS)\n"
        "assert 'ICD10' in lab02.icd10_map().columns and 'charlson' in lab02.charlson_sql()\n"
        "sql = 'select ENCOUNTERCLASS, count(*) as encounters from encounters group by 1'\n"
        "for check in (lambda: lab02.q2.check(sql), lambda: lab02.q5.edge_cases[0](sql)):\n"
        "    try:\n"
        "        check()\n"
        "    except RuntimeError as err:\n"
        "        assert 'no reference' in str(err), err\n"
        "    else:\n"
        "        raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
