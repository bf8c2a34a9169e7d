"""Where the Prefect API is and how a call to it authenticates; the secret is read in the
integration tests (tests/integration/platform/test_health_and_me.py)."""

from __future__ import annotations

import base64

import pytest

from auralink import prefect_api
from auralink.prefect_api import PrefectApi


def test_a_key_is_sent_as_a_bearer_token_as_prefect_cloud_expects() -> None:
    api = PrefectApi(url="https://api.prefect.cloud/api/accounts/a/workspaces/w", api_key="pnu_k")

    assert api.headers() == {"Authorization": "Bearer pnu_k"}


def test_an_auth_string_is_sent_as_basic_auth_as_a_self_hosted_server_expects() -> None:
    api = PrefectApi(url="https://prefect.example/api", auth_string="admin:pass")

    assert api.headers() == {"Authorization": "Basic " + base64.b64encode(b"admin:pass").decode()}


def test_an_open_server_gets_no_credentials_and_the_repr_shows_none() -> None:
    keyed = PrefectApi(url="https://api.prefect.cloud/api", api_key="pnu_secret", auth_string="a:b")

    assert PrefectApi(url="http://127.0.0.1:4200/api").headers() == {}
    assert "pnu_secret" not in repr(keyed) and "a:b" not in repr(keyed)


def test_the_url_of_the_environment_is_used_as_it_is(service_environment: pytest.MonkeyPatch) -> None:
    service_environment.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api/")

    assert prefect_api.configured_api() == PrefectApi(url="http://127.0.0.1:4200/api")


def test_no_url_and_no_secret_is_no_prefect_api(service_environment: pytest.MonkeyPatch) -> None:
    assert prefect_api.configured_api() is None
    assert prefect_api.check().model_dump() == {
        "status": "unavailable",
        "latency_ms": None,
        "error_code": "prefect_not_configured",
    }
