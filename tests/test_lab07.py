"""Lab 07 (security and access): the references against the data and the access log's ground truth, the
designed outcome of every token and scope case, the made-up edge cases, an exam release without reference
and answers, and the checks themselves (solutions pass, known-wrong answers fail)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import jwt
import pytest

from course_proof import define, prove_grading
from hitlab.checks import lab07
from hitlab.checks.core import Incorrect
from hitlab.checks.lab07 import answers, questions, reference
from hitlab.checks.sql import connection, table
from hitlab.data import dataset_dir

# -- the checks ------------------------------------------------------------------------------------------------


def test_grade_ids_points_and_the_table():
    ids = [q.grade_id for q in lab07.QUESTIONS]
    assert ids == ["lab07_rbac_views", "lab07_break_glass", "lab07_audit_no_relationship",
                   "lab07_audit_after_hours_bulk", "lab07_audit_vip_coworker", "lab07_authorize_scopes",
                   "lab07_least_privilege", "lab07_validate_token", "lab07_smart_backend", "lab07_tls_client",
                   "lab07_password_storage", "lab07_consent_filter"]  # fmt: skip
    assert sum(q.points for q in lab07.QUESTIONS) == 32
    for q in lab07.QUESTIONS:
        assert q.grade_id in questions.__doc__


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab07.reference'] = None\n"
        "sys.modules['hitlab.checks.lab07.answers'] = None\n"
        "from hitlab.checks import lab07\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab07.QUESTIONS)\n"
        "try:\n"
        "    lab07.q2.check(lambda user, patient, care_team, audit, when, reason=None: True)\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- Q1 ---------------------------------------------------------------------------------------------------------


def test_role_rows_on_the_data_match_the_solution_sql():
    sql = define(answers.RBAC)["role_sql"]
    expected = reference.role_rows(table("patients"), table("encounters"))
    con = connection().cursor()
    for role, columns in lab07.ROLE_COLUMNS.items():
        rows = con.execute(sql[role]).fetchall()
        assert sorted(map(repr, rows)) == sorted(map(repr, expected[role]))
        assert len(rows) == con.execute("select count(*) from encounters").fetchone()[0]
        assert len(rows[0]) == len(columns)


def test_role_rows_on_made_up_rows():
    (_what, frames), = questions._rbac_scenarios()  # fmt: skip
    from hitlab.checks.sql import toy_database

    _con, typed = toy_database(**frames)
    rows = reference.role_rows(typed["patients"], typed["encounters"])
    assert len(rows["clinician"]) == 4  # the orphan encounter shows nowhere
    zips = [r[2] for r in rows["researcher"]]
    assert zips == ["021", "021", None, "010"]
    assert [r[-1] for r in rows["billing"]] == ["XXX-XX-3456", "XXX-XX-3456", None, "XXX-XX-0007"]


# -- Q2 ---------------------------------------------------------------------------------------------------------


def test_break_glass_writes_utc_and_records_refusals():
    audit: list = []
    ny = ZoneInfo("America/New_York")
    user = {"id": "dr-x", "role": "clinician"}
    granted = reference.open_record(user, "p", set(), audit, datetime(2025, 3, 9, 6, 30, tzinfo=ny), " ED ")
    assert granted and audit[-1]["TIMESTAMP"] == "2025-03-09T10:30:00Z" and audit[-1]["PURPOSE"] == "ETREAT"
    assert audit[-1]["REASON"] == "ED"
    assert not reference.open_record({"id": "b", "role": "billing"}, "p", set(), audit,
                                     datetime(2025, 1, 1, tzinfo=ny), "urgent")  # fmt: skip
    assert audit[-1]["OUTCOME"] == "4" and len(audit) == 2
    with pytest.raises(ValueError, match="time zone"):
        reference.open_record(user, "p", set(), audit, datetime(2025, 1, 1), None)
    assert len(audit) == 2


# -- Q3 ---------------------------------------------------------------------------------------------------------


def test_no_relationship_reference_equals_the_ground_truth():
    truth = json.loads((dataset_dir() / "access_log_truth.json").read_text(encoding="utf-8"))
    rows = reference.no_relationship({n: table(n) for n in ("staff", "access_log", "encounters")})
    assert sorted(r[0] for r in rows) == truth["categories"]["no_relationship"]
    sql = define(answers.NO_RELATIONSHIP)["no_relationship_sql"]
    assert sorted(connection().cursor().execute(sql).fetchall()) == sorted(rows)


def test_no_relationship_bounds_on_made_up_logs():
    from hitlab.checks.sql import toy_database

    bounds, others = questions._NO_RELATIONSHIP_SCENARIOS
    _con, frames = toy_database(**bounds.frames())
    assert [r[0] for r in reference.no_relationship(frames)] == ["a1", "a3"]  # one second outside each bound
    _con, frames = toy_database(**others.frames())
    assert [r[0] for r in reference.no_relationship(frames)] == ["a1", "a3"]  # the failed attempt, p2


# -- Q4, Q5 -----------------------------------------------------------------------------------------------------


def _truth() -> dict:
    return json.loads((dataset_dir() / "access_log_truth.json").read_text(encoding="utf-8"))["categories"]


def _audit_frames() -> dict:
    return {n: table(n) for n in ("staff", "access_log", "encounters", "vip_patients")}


def test_after_hours_reference_equals_the_ground_truth_and_the_solution_in_any_session_time_zone():
    import duckdb

    rows = reference.after_hours_bulk(_audit_frames())
    assert sorted(r[0] for r in rows) == _truth()["after_hours_bulk"]
    nights = {(u, str(n)) for _, u, n in rows}
    assert ("u568372", "2025-11-01") in nights and len(nights) == 3  # the night the clocks go back
    sql = define(answers.AFTER_HOURS)["after_hours_sql"]
    con = duckdb.connect(str(dataset_dir() / "hitlab.duckdb"), read_only=True)
    try:
        for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
            con.execute(f"set TimeZone = '{zone}'")
            assert sorted(con.execute(sql).fetchall()) == sorted(rows), zone
    finally:
        con.close()


def test_vip_and_coworker_reference_equals_the_ground_truth_and_the_solution():
    rows = reference.vip_and_coworker(_audit_frames())
    truth = _truth()
    for category in ("vip", "coworker"):
        assert sorted(r[0] for r in rows if r[3] == category) == truth[category]
    sql = define(answers.SNOOPING)["snooping_sql"]
    assert sorted(connection().cursor().execute(sql).fetchall()) == sorted(rows)


def _on_scenarios(scenarios, ref) -> list[dict]:
    from hitlab.checks.sql import toy_database

    out = []
    for s in scenarios:
        _con, frames = toy_database(**s.frames())
        out.append(ref(frames))
    return out


def test_made_up_nights_have_the_designed_outcomes():
    import collections

    got = [collections.Counter((u, str(n)) for _, u, n in rows)
           for rows in _on_scenarios(questions._bulk_scenarios(), reference.after_hours_bulk)]  # fmt: skip
    midnight, bounds, dst, threshold = got
    assert midnight == {("u1", "2025-11-10"): 20}  # u2's 24 patients are split 12 + 12 over two nights
    assert bounds == {("u1", "2025-12-02"): 20, ("u2", "2025-12-02"): 20}  # 22:00:00 and 05:59:59 count
    assert dst == {("u1", "2025-11-01"): 20}
    assert threshold == {("u2", "2025-12-05"): 20}


@pytest.mark.parametrize(
    "change",
    [
        (
            """timezone('America/New_York', timezone('UTC', "TIMESTAMP"))""",
            """"TIMESTAMP" - interval 5 hours""",
        ),
        (
            """timezone('America/New_York', timezone('UTC', "TIMESTAMP"))""",
            """"TIMESTAMP" - interval 4 hours""",
        ),
        ("hour(local_time) >= 22 or hour(local_time) < 6", "hour(local_time) > 22 or hour(local_time) < 6"),
        ("hour(local_time) >= 22 or hour(local_time) < 6", "hour(local_time) >= 22 or hour(local_time) <= 6"),
        ("cast(local_time - interval 6 hours as date)", "cast(local_time as date)"),
        (">= 20", "> 20"),
    ],
    ids=[
        "fixed EST offset",
        "fixed EDT offset",
        "22:xx excluded",
        "06:xx included",
        "calendar date",
        "over 20",
    ],
)
def test_plausible_mistakes_lose_q4(change):
    wrong = answers.AFTER_HOURS.replace(*change)
    assert wrong != answers.AFTER_HOURS
    with pytest.raises(Incorrect):
        lab07.q4.check(define(wrong)["after_hours_sql"])


def test_made_up_snooping_logs_have_the_designed_outcomes():
    first, second = _on_scenarios(questions._SNOOP_SCENARIOS, reference.vip_and_coworker)
    assert [(r[0], r[3]) for r in first] == [("a1", "vip"), ("a2", "vip"), ("a5", "vip")]
    assert [(r[0], r[3]) for r in second] == [("a1", "coworker"), ("a2", "coworker"), ("a6", "vip"),
                                              ("a6", "coworker")]  # fmt: skip  # not a4 (research), a5, a6 twice


# -- Q6 ---------------------------------------------------------------------------------------------------------


def test_authorize_cases_have_the_designed_outcomes():
    outcomes = {}
    for case in questions._authorize_cases():
        try:
            outcomes[case.label] = reference.authorize(*case.args)
        except ValueError as err:
            assert str(err)  # a clear message
            outcomes[case.label] = "ValueError"
    assert outcomes["v1 read allows a search"] == "allow"
    assert outcomes["v1 write does not allow a read"] == "deny"
    assert outcomes["a granular scope and a search with no parameters"] == "filter"
    assert outcomes["a granular scope and a search for that category"] == "allow"
    assert outcomes["a granular and an unrestricted scope together"] == "allow"
    assert outcomes["identity and launch scopes only"] == "deny"
    assert outcomes["no scopes at all"] == "deny"
    refused = [label for label, got in outcomes.items() if got == "ValueError"]
    assert len(refused) == 12 and all(
        any(w in label for w in ("order", "repeated", "unknown", "lowercase", "no permissions", "query", "space",
                                 "capitalized", "no scope"))
        for label in refused
    )  # fmt: skip


# -- Q8 ---------------------------------------------------------------------------------------------------------


def test_token_cases_have_the_designed_outcomes_in_the_reference_and_in_pyjwt():
    solution = define(answers.VALIDATE)["validate_token"]
    for call in questions._token_calls():
        outcomes = []
        for fn in (reference.validate_token, solution):
            try:
                outcomes.append(("claims", fn(*call.make())["iss"]))
            except PermissionError:
                outcomes.append(("403", None))
            except jwt.InvalidTokenError:
                outcomes.append(("401", None))
        assert outcomes[0] == outcomes[1], call.label
        kind = outcomes[0][0]
        if call.label.startswith("a valid token with"):
            assert kind == ("claims" if "several" in call.label else "403"), call.label
        elif call.label == "a valid token":
            assert kind == "claims"
        elif "scope" in call.label and "valid token" in call.label:
            assert kind == "403", call.label
        else:
            assert kind == "401", call.label


def test_a_string_that_is_not_a_jwt_gets_a_clear_error():
    with pytest.raises(jwt.InvalidTokenError, match="not a compact JWS"):
        reference.validate_token("hello", lab07.jwks(), lab07.ISSUER, lab07.AUDIENCE, "x")


# -- Q9, Q10 ---------------------------------------------------------------------------------------------------


def test_the_lab_reference_reads_what_the_store_holds_and_the_session_stops_every_server():
    before = threading.active_count()
    with questions._smart_session() as plan:
        session_patients = {c.label: c.args[-1] for c in plan}
        first = plan[0]
        srv_args = first.ref_args
        got = reference.fetch_lab_results(*srv_args)
        from hitlab.checks import lab04

        store = lab04.store()
        assert got and [r["id"] for r in got] == [
            r["id"] for r in reference.lab_results_in(store, srv_args[-1])
        ]
        assert reference.lab_results_in(store, session_patients["a patient without lab results"]) == []
        assert threading.active_count() > before
    assert threading.active_count() == before


@pytest.mark.parametrize(
    "change",
    [
        ('"exp": now + 300, "jti": str(uuid.uuid4())', '"exp": now + 300'),
        ('"exp": now + 300', '"exp": now + 3600'),
        ('algorithm="RS384", headers={"kid": kid}', 'algorithm="RS384"'),
        ('"scope": f"system/Observation.rs?category={LAB}"', '"scope": "system/Observation.rs"'),
        (
            "    if status != 200:\n        raise PermissionError",
            "    if False:\n        raise PermissionError",
        ),
    ],
    ids=["no jti", "an hour-long assertion", "no kid", "all Observations", "token errors ignored"],
)
def test_more_wrong_smart_clients_lose_q9_and_leave_no_thread(change):
    before = threading.active_count()
    wrong = answers.SMART_CLIENT.replace(*change)
    assert wrong != answers.SMART_CLIENT
    with pytest.raises(Incorrect):
        lab07.q9.check(define(wrong)["fetch_lab_results"])
    assert threading.active_count() == before


def test_a_client_that_hangs_or_crashes_is_stopped_and_the_servers_too():
    import time

    before = threading.active_count()

    def hangs(token_url, fhir_base, client_id, private_key_pem, kid, patient):
        time.sleep(60)

    def crashes(token_url, fhir_base, client_id, private_key_pem, kid, patient):
        raise ZeroDivisionError("oops")

    lab07.q9.time_limit, saved = 30.0, lab07.q9.time_limit
    try:
        with pytest.raises(Incorrect, match="did not finish"):
            lab07.q9.check(hangs)
    finally:
        lab07.q9.time_limit = saved
    with pytest.raises(Incorrect, match="ZeroDivisionError"):
        lab07.q9.check(crashes)
    assert threading.active_count() == before


def test_a_tls_client_reading_once_or_trusting_no_one_loses_q10():
    before = threading.active_count()
    once = answers.TLS_CLIENT.replace("            while END not in data:", "            for _ in range(1):")
    assert once != answers.TLS_CLIENT
    with pytest.raises(Incorrect, match="20 kB"):
        lab07.q10.check(define(once)["send_over_tls"])
    framed = answers.TLS_CLIENT.replace("data[data.index(START) + 1 : data.index(END)]", "data")
    with pytest.raises(Incorrect, match="MLLP"):
        lab07.q10.check(define(framed)["send_over_tls"])
    assert threading.active_count() == before


# -- Q11, Q12 ---------------------------------------------------------------------------------------------------


def test_rehash_follows_the_owasp_policy():
    ok, new = reference.verify_password(questions._hashes()["old"], questions._PASSWORD)
    assert ok and new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert reference.verify_password(new, questions._PASSWORD) == (True, None)
    with pytest.raises(ValueError):
        reference.verify_password("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "x")


def test_the_data_has_no_sud_codes_and_the_check_plants_them():
    con = connection().cursor()
    codes = ", ".join(f"'{c}'" for c in lab07.sud_codes())
    for name in ("conditions", "medications"):
        assert con.execute(f"select count(*) from {name} where CODE in ({codes})").fetchone()[0] == 0
    assert con.execute(f"select count(*) from encounters where REASONCODE in ({codes})").fetchone()[0] == 0
    export, consents = questions._planted_export()
    shared = reference.apply_consent(export, consents)
    withheld = [r for r in export if r not in shared]
    assert withheld and all(consents.get(r["PATIENT"]) != "permit" for r in withheld)
    assert any(r["TYPE"] == "Encounter" for r in withheld)  # withheld by its reason code
    assert len(export) - len(withheld) == len(shared)


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab07``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab07")
