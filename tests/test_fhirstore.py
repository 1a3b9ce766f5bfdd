"""The local FHIR server: loading Synthea bundles, search semantics, conditional create and versioned update."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hitlab.checks.lab04 import SYNTHEA_REFERENCE, SYNTHEA_SAMPLE, fixture
from hitlab.fhirstore import BASE, FhirStore, SearchError, date_range, result_keys

PATIENT = "Patient/d5582579-7193-4866-5560-a01e723b6552"  # the patient of Synthea's sample bundle


@pytest.fixture(scope="module")
def synthea() -> FhirStore:
    return FhirStore.from_bundles([*(fixture(n) for n in SYNTHEA_REFERENCE), fixture(SYNTHEA_SAMPLE)])


def _collection(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _obs(oid: str, **value) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "t"}, **value}


def test_loading_synthea_rewrites_urn_uuid_and_resolvable_conditional_references(synthea):
    counts = Counter(r["resourceType"] for r in synthea.resources())
    assert len(synthea.resources()) == 921
    assert (counts["Organization"], counts["Location"], counts["Observation"], counts["Encounter"]) == (
        151,
        152,
        58,
        37,
    )
    enc = synthea.resources("Encounter")[0]
    assert enc["subject"]["reference"] == PATIENT  # was urn:uuid:d5582579-...
    # this hospital bundle comes from another Synthea run: a reference it cannot satisfy stays conditional
    assert enc["serviceProvider"]["reference"] == (
        "Organization?identifier=https://github.com/synthetichealth/synthea|dd406540-fa97-3a90-858e-0a0ea61cf07b"
    )
    refs = {v["reference"] for e in synthea.resources("Encounter") for v in [e["serviceProvider"]]}
    assert "Organization/12c9daf5-a29c-36c9-ac55-28972463e566" in refs
    assert enc["meta"]["versionId"] == "1"


def test_token_date_sort_and_string_search_on_synthea(synthea):
    b = synthea.search("Observation?code=http://loinc.org|85354-9&date=ge2019-01-01&_sort=-date")
    assert b["type"] == "searchset" and b["total"] == 1
    assert b["entry"][0]["resource"]["effectiveInstant"] == "2020-03-14T12:44:52-04:00"
    assert b["entry"][0]["fullUrl"].startswith(BASE + "/Observation/")
    assert synthea.search("Observation?code=85354-9&date=2020")["total"] == 1
    assert synthea.search("Observation?code=|85354-9")["total"] == 0  # |code means "no system"
    assert synthea.search("Condition?code=http://snomed.info/sct|")["total"] == 21
    assert result_keys(synthea.search("Patient?name=lind")) == [("match", PATIENT)]  # prefix, any case
    assert synthea.search("Patient?name:exact=lind")["total"] == 0
    assert synthea.search("Patient?name:contains=SAY92")["total"] == 1


def test_include_revinclude_and_chaining_on_synthea(synthea):
    b = synthea.search("Patient?name:exact=Lindsay928&_revinclude=Encounter:subject")
    assert b["total"] == 1 and len(b["entry"]) == 38
    assert {e["search"]["mode"] for e in b["entry"][1:]} == {"include"}
    b = synthea.search(
        f"{BASE}/Encounter?subject:Patient.family=Gerlach374&_include=Encounter:service-provider"
    )
    assert (b["total"], len(b["entry"])) == (37, 38)
    assert result_keys(b)[-1] == ("include", "Organization/12c9daf5-a29c-36c9-ac55-28972463e566")
    assert synthea.search("Encounter?patient.family=Nobody")["total"] == 0


DATES = _collection(
    _obs("day", effectiveDateTime="2024-03-01"),
    _obs("instant", effectiveDateTime="2024-03-01T23:30:00Z"),
    _obs("period", effectivePeriod={"start": "2024-02-20", "end": "2024-03-10"}),
    _obs("open", effectivePeriod={"start": "2024-02-20"}),
    _obs("later", effectiveDateTime="2024-04-02T08:00:00+02:00"),
)


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("2024-03-01", {"day", "instant"}),  # eq: the day contains the target
        ("eq2024-03", {"day", "instant"}),
        ("ne2024-03-01", {"period", "open", "later"}),
        ("gt2024-03-01", {"period", "open", "later"}),  # target extends after the day
        ("ge2024-03-01", {"day", "instant", "period", "open", "later"}),
        ("lt2024-03-01", {"period", "open"}),  # target starts before the day
        ("le2024-03-01", {"day", "instant", "period", "open"}),
        ("sa2024-03-10", {"later"}),
        ("eb2024-03-01", set()),
        ("le2024-04-02T06:00:00Z", {"day", "instant", "period", "open", "later"}),  # 08:00+02:00 is 06:00Z
        ("lt2024-04-02T06:00:00Z", {"day", "instant", "period", "open"}),
        ("2024-03-01,2024-04-02", {"day", "instant", "later"}),  # comma: OR
    ],
)
def test_date_prefixes_compare_ranges(query, ids):
    store = FhirStore.from_bundles([DATES])
    assert {
        r["id"] for r in (e["resource"] for e in store.search(f"Observation?date={query}")["entry"])
    } == ids


def test_repeated_parameters_are_anded_and_sort_is_stable():
    store = FhirStore.from_bundles([DATES])
    keys = result_keys(store.search("Observation?date=ge2024-03-01&date=lt2024-04-01&_sort=-date"))
    assert [k for _, k in keys] == [
        "Observation/instant",
        "Observation/day",
        "Observation/period",
        "Observation/open",
    ]


def test_date_range_follows_precision():
    assert date_range("2024") == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert date_range("2024-12")[1] == datetime(2025, 1, 1, tzinfo=UTC)
    low, high = date_range("2010-01-05T11:44:52-05:00")
    assert low == datetime(2010, 1, 5, 11, 44, 52, tzinfo=timezone(timedelta(hours=-5)))
    assert high - low == timedelta(seconds=1)
    with pytest.raises(SearchError, match="not a valid date"):
        date_range("2024-02-30")
    with pytest.raises(SearchError, match="not a FHIR date"):
        date_range("03/01/2024")


def test_bad_searches_get_400_with_the_reason(synthea):
    cases = {
        "Observation?weight=80": "Observation has no search parameter 'weight'",
        "Observation?date=ap2020": "'ap' is not a date prefix",
        "Observation?_summary=count": "'_summary' is not supported",
        "Observation?_include=Observation:code": "not a reference parameter",
        "Observation?code=": "empty value",
        "http://elsewhere.example.org/fhir/Patient?name=x": "not on this server's base",
    }
    for url, message in cases.items():
        r = synthea.request("GET", url)
        assert r.status == 400 and message in r.body["issue"][0]["diagnostics"], url
    assert synthea.request("GET", "Spaceship?name=x").status == 404


def test_conditional_create_201_200_412():
    us = fixture("uscore-patient-example.json")
    store = FhirStore.from_bundles([_collection(fixture("Patient-example.json"))])
    header = {"If-None-Exist": "identifier=http://example.org/patient/identifiers|1032702"}
    new = {k: v for k, v in us.items() if k != "id"}
    first = store.request("POST", "Patient", body=new, headers=header)
    assert first.status == 201 and first.headers["ETag"] == 'W/"1"'
    assert first.headers["Location"] == f"{BASE}/Patient/{first.body['id']}/_history/1"
    again = store.request("POST", f"{BASE}/Patient", body=new, headers=header)
    assert again.status == 200 and again.body["id"] == first.body["id"]
    assert len(store.resources("Patient")) == 2
    store.request("POST", "Patient", body=new)  # an unconditional create makes a duplicate
    dup = store.request("POST", "Patient", body=new, headers=header)
    assert dup.status == 412 and len(store.resources("Patient")) == 3


def test_update_with_if_match_and_vread():
    store = FhirStore.from_bundles([_collection(fixture("Patient-example.json"))])
    read = store.request("GET", "Patient/example")
    assert read.status == 200 and read.headers["ETag"] == 'W/"1"' and read.body["meta"]["versionId"] == "1"
    changed = read.body | {"active": False}
    ok = store.request("PUT", "Patient/example", body=changed, headers={"If-Match": 'W/"1"'})
    assert ok.status == 200 and ok.headers["ETag"] == 'W/"2"'
    stale = store.request("PUT", "Patient/example", body=changed, headers={"If-Match": 'W/"1"'})
    assert stale.status == 412 and "not the current version" in stale.body["issue"][0]["diagnostics"]
    assert store.request("GET", "Patient/example/_history/1").body["active"] is True
    assert store.request("GET", "Patient/example/_history/3").status == 404
    assert store.request("PUT", "Patient/other", body=changed).status == 400  # id in body must match the URL
    assert (
        store.request(
            "PUT", "Patient/nobody", body=changed | {"id": "nobody"}, headers={"If-Match": 'W/"1"'}
        ).status
        == 404
    )


def test_load_bundle_refuses_what_is_not_a_bundle():
    with pytest.raises(ValueError, match="expects a Bundle"):
        FhirStore().load_bundle(fixture("Patient-example.json"))
    with pytest.raises(ValueError, match=r"Bundle.entry\[0\] has no resource"):
        FhirStore().load_bundle({"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:x"}]})
