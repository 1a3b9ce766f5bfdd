"""hitlab.security.scopes: SMART App Launch 2.2 scope syntax (v1 and v2) and the allow/deny decision."""

from __future__ import annotations

import pytest

from hitlab.security.scopes import (
    Decision,
    ScopeError,
    covers,
    decide,
    matches_query,
    parse_scope,
    parse_scopes,
)

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
LAB_SCOPE = f"system/Observation.rs?category={LAB}"


def _obs(code: str, rid: str = "o1") -> dict:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": system, "code": code}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
    }


@pytest.mark.parametrize(
    ("text", "context", "rtype", "perms", "version"),
    [
        ("patient/Observation.read", "patient", "Observation", "rs", 1),
        ("user/Appointment.write", "user", "Appointment", "cud", 1),
        ("system/*.*", "system", "*", "cruds", 1),
        ("system/*.read", "system", "*", "rs", 1),
        ("patient/Observation.rs", "patient", "Observation", "rs", 2),
        ("user/*.cruds", "user", "*", "cruds", 2),
        ("system/Encounter.cud", "system", "Encounter", "cud", 2),
        ("patient/Patient.r", "patient", "Patient", "r", 2),
        ("system/Observation.s", "system", "Observation", "s", 2),
    ],
)
def test_resource_scopes(text, context, rtype, perms, version):
    s = parse_scope(text)
    assert (s.kind, s.context, s.resource_type, s.permissions, s.version, s.query) == (
        "resource", context, rtype, perms, version, ()
    )  # fmt: skip
    assert str(s) == text


def test_granular_scope_keeps_the_query_decoded():
    s = parse_scope(LAB_SCOPE)
    assert s.query == (("category", LAB),)
    assert s.query_string == f"category={LAB}"
    assert parse_scope("patient/Observation.rs?category=a%7Cb&status=final").query == (
        ("category", "a|b"),
        ("status", "final"),
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("launch", "launch"),
        ("launch/patient", "launch"),
        ("launch/encounter", "launch"),
        ("launch/list?role=https://example.org/med-list-at-home", "launch"),  # SMART 2.2, experimental
        ("openid", "identity"),
        ("fhirUser", "identity"),
        ("profile", "identity"),
        ("offline_access", "refresh"),
        ("online_access", "refresh"),
        ("__my_scope", "extension"),
        ("https://example.org/scope", "extension"),
    ],
)
def test_other_scopes(text, kind):
    s = parse_scope(text)
    assert (s.kind, s.context, s.permissions) == (kind, None, "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patient/Observation.dus", "permissions 'dus' are not v1 (read, write, *) nor v2 letters"),
        ("patient/Observation.sr", "permissions 'sr'"),
        ("patient/Observation.rr", "permissions 'rr'"),
        ("patient/Observation.x", "permissions 'x'"),
        ("patient/Observation.READ", "permissions 'READ'"),
        ("Patient/Observation.rs", "context 'Patient' is not one of patient, user, system"),
        ("group/Observation.rs", "context 'group'"),
        ("patient/observation.rs", "resource type 'observation' is not a FHIR resource type name"),
        ("patient/Observation", "expected '.' and permissions after the resource type 'Observation'"),
        ("patient/Observation.", "no permissions after '.'"),
        ("patient/Observation.read?category=x", "a query ('?category=x') is SMART v2 syntax"),
        ("patient/Observation.rs?", "'?' with no param=value after it"),
        ("patient/Observation.rs?category", "query item 'category' is not param=value"),
        ("patient/Observation.rs?category=", "query item 'category=' is not param=value"),
        ("patient/Observation.rs?a=b&&c=d", "query item '' is not param=value"),
        ("read", "unknown scope 'read'"),
        ("launch/Patient", "launch context scope 'launch/Patient'"),
        ("launch/list?role=", "launch context scope 'launch/list?role='"),
        ('patient/Obs"ervation.rs', "contains '\"'"),
        ("", "empty scope"),
    ],
)
def test_malformed_scopes_name_the_bad_part(text, message):
    with pytest.raises(ScopeError) as err:
        parse_scope(text)
    assert message in str(err.value)


def test_scope_strings_are_single_space_separated():
    assert [s.text for s in parse_scopes("system/Patient.rs system/Observation.read")] == [
        "system/Patient.rs",
        "system/Observation.read",
    ]
    assert parse_scopes("") == []
    for text, where in [(" a", "leading"), ("openid ", "trailing"), ("openid  launch", "double")]:
        with pytest.raises(ScopeError, match=f"has a {where} space"):
            parse_scopes(text)
    with pytest.raises(ScopeError, match="unknown scope 'bogus'"):
        parse_scopes("openid bogus")


def test_scope_error_is_a_value_error():
    assert issubclass(ScopeError, ValueError)


@pytest.mark.parametrize(
    ("granted", "rtype", "interaction", "allowed"),
    [
        ("system/Observation.read", "Observation", "read", True),
        ("system/Observation.read", "Observation", "search", True),
        ("system/Observation.read", "Observation", "vread", True),
        ("system/Observation.read", "Observation", "create", False),
        ("system/Observation.read", "Patient", "read", False),
        ("system/*.read", "Patient", "read", True),
        ("system/*.read", "Patient", "update", False),
        ("system/Observation.write", "Observation", "create", True),
        ("system/Observation.write", "Observation", "update", True),
        ("system/Observation.write", "Observation", "delete", True),
        ("system/Observation.write", "Observation", "read", False),
        ("system/Observation.*", "Observation", "delete", True),
        ("system/Observation.rs", "Observation", "read", True),
        ("system/Observation.r", "Observation", "search", False),
        ("system/Observation.s", "Observation", "read", False),
        ("system/Observation.s", "Observation", "history-type", True),
        ("system/Observation.r", "Observation", "history-instance", True),
        ("system/Observation.u", "Observation", "patch", True),
        ("system/Observation.c", "Observation", "read", False),  # write does not imply read
        ("system/*.cruds", "Encounter", "d", True),
        ("openid fhirUser launch offline_access", "Patient", "read", False),
        ("system/Patient.rs system/Observation.rs", "Observation", "search", True),
    ],
)
def test_decide_v1_and_v2(granted, rtype, interaction, allowed):
    d = decide(parse_scopes(granted), rtype, interaction)
    assert isinstance(d, Decision)
    assert d.allowed is allowed
    assert bool(d) is allowed
    assert d.filters == ()


def test_decide_counts_only_the_request_context():
    granted = parse_scopes("patient/Observation.rs")
    assert decide(granted, "Observation", "read", context="patient").allowed
    assert not decide(granted, "Observation", "read", context="system").allowed
    assert decide(granted, "Observation", "read").allowed  # no context given: any context counts
    assert decide(
        "patient/Observation.rs", "Observation", "read", context="patient"
    ).allowed  # a string works


def test_decide_explains_a_refusal():
    d = decide(parse_scopes("system/Patient.rs"), "Observation", "search")
    assert d.reason == "no granted scope allows search on Observation (needs 's')"
    assert d.granted_by is None


def test_granular_scope_on_a_resource():
    granted = parse_scopes(LAB_SCOPE)
    assert decide(granted, "Observation", "read", resource=_obs("laboratory")).allowed
    d = decide(granted, "Observation", "read", resource=_obs("vital-signs"))
    assert not d.allowed
    assert "matches none of the granted queries" in d.reason


def test_granular_scope_on_a_search():
    granted = parse_scopes(LAB_SCOPE)
    narrowed = decide(granted, "Observation", "search", params={"category": LAB, "code": "x"})
    assert (narrowed.allowed, narrowed.filters) == (True, ())
    broad = decide(granted, "Observation", "search", params=[("code", "http://loinc.org|4548-4")])
    assert (broad.allowed, broad.filters) == (True, (f"category={LAB}",))
    assert broad.granted_by == granted[0]


def test_an_unrestricted_scope_wins_over_a_granular_one():
    granted = parse_scopes(f"{LAB_SCOPE} system/Observation.rs")
    assert decide(granted, "Observation", "search").filters == ()
    assert decide(granted, "Observation", "read", resource=_obs("vital-signs")).allowed


def test_unknown_interaction_or_context():
    with pytest.raises(ScopeError, match="unknown interaction 'fetch'"):
        decide([], "Patient", "fetch")
    with pytest.raises(ScopeError, match="context 'group'"):
        decide([], "Patient", "read", context="group")


def test_matches_query():
    assert matches_query(_obs("laboratory"), f"category={LAB}")
    assert not matches_query(_obs("vital-signs"), f"category={LAB}")
    assert matches_query(_obs("laboratory"), (("category", "laboratory"), ("status", "final")))
    assert not matches_query(_obs("laboratory"), "unknownparam=1")  # the store cannot evaluate it


def test_covers():
    allowed = parse_scope("system/*.rs")
    assert covers(allowed, parse_scope("system/Observation.rs"))
    assert covers(allowed, parse_scope("system/Observation.read"))
    assert covers(allowed, parse_scope(LAB_SCOPE))
    assert not covers(allowed, parse_scope("system/Observation.cruds"))
    assert not covers(allowed, parse_scope("patient/Observation.rs"))
    assert not covers(parse_scope(LAB_SCOPE), parse_scope("system/Observation.rs"))
    assert covers(parse_scope("openid"), parse_scope("openid"))
