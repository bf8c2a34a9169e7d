"""Every error code has one HTTP status, whichever endpoint answers it, and docs/api.md says which."""

from __future__ import annotations

from tests.support.error_codes import API_DOC, documented_codes, scan, statuses_by_code

USES, UNRESOLVED = scan()


def test_every_code_the_source_passes_can_be_followed_to_its_strings():
    assert UNRESOLVED == [], "pass codes as literals or module constants"


def test_the_scan_finds_codes_however_they_are_passed():
    found = statuses_by_code(USES)
    # A loop over a module-level table (auth), a constant (limits), a dict value (Bedrock), an
    # f-free literal in a re-raise (runs), the edge's own answers (http), a JSON-RPC reply's data.
    assert found["token_expired"] == {401}
    assert found["rate_limited_user"] == {429}
    assert found["llm_rate_limited"] == {502}
    assert found["model_not_found"] == {422}
    assert found["internal_error"] == {500} and found["route_not_found"] == {404}
    assert found["method_not_allowed"] == {405}
    assert len(found) > 80


def test_each_code_has_exactly_one_status():
    conflicts = {
        code: sorted(f"{use.status} at {use.where}" for use in USES if use.code == code)
        for code, statuses in statuses_by_code(USES).items()
        if len(statuses) > 1
    }
    assert conflicts == {}


def test_an_exhausted_deadline_is_a_503_wherever_it_happens():
    # Not the caller's fault and no upstream was called: neither a 422 nor a 504.
    assert statuses_by_code(USES)["deadline_exhausted"] == {503}


def test_the_error_table_of_the_api_docs_is_the_codes_and_statuses_of_the_source():
    answered = {code: statuses.pop() for code, statuses in statuses_by_code(USES).items()}
    documented = documented_codes()
    missing = {code: status for code, status in answered.items() if code not in documented}
    stale = sorted(set(documented) - set(answered))
    wrong = {
        code: (documented[code], status)
        for code, status in answered.items()
        if documented.get(code, status) != status
    }
    assert (missing, stale, wrong) == ({}, [], {}), f"update the error table of {API_DOC.name}"
