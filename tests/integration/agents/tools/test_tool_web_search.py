"""web_search against a search engine on loopback: both providers, failures and the deadline."""

from __future__ import annotations

import time

import pytest

from auralink.agents.tools import web_search
from auralink.agents.tools.base import ToolError
from auralink.errors import ConfigurationError
from auralink.settings import get_settings, reset_settings
from tests.fakes.search_server import RESULT_COUNT, result_url


@pytest.fixture(autouse=True)
def environment(service_environment):
    return service_environment


def search(query: str, *, max_results: int = 5, budget_s: float = 5.0) -> list[web_search.SearchResult]:
    return web_search.search(query, max_results=max_results, deadline=time.monotonic() + budget_s)


def test_duckduckgo_results_are_unwrapped_and_ads_dropped(use_search, search_engine) -> None:
    use_search("duckduckgo", "ok")

    results = search("mcp servers", max_results=20)

    assert len(results) == RESULT_COUNT
    first = results[0]
    assert first.title == "Result 1 about mcp servers"
    assert first.url == result_url("mcp servers", 1)  # the uddg parameter, decoded
    assert first.snippet == "Snippet 1: mcp servers & more text."
    assert results[-1].url == result_url("mcp servers", RESULT_COUNT)  # a direct link stays as is
    assert all("duckduckgo.com" not in result.url for result in results)
    assert search_engine[1].queries[-1] == ("ok", "html", "mcp servers")


def test_searxng_results_keep_web_links_only(use_search, search_engine) -> None:
    use_search("searxng", "ok")

    results = search("langgraph", max_results=3)

    assert [result.url for result in results] == [result_url("langgraph", n) for n in (1, 2, 3)]
    assert results[0].title == "Result 1 about langgraph"
    assert results[0].snippet == "Snippet 1: langgraph more"
    assert search_engine[1].queries[-1] == ("ok", "search", "langgraph")


@pytest.mark.parametrize("provider", ["duckduckgo", "searxng"])
def test_no_results_is_an_empty_list(use_search, provider: str) -> None:
    use_search(provider, "empty")
    assert search("nothing at all") == []


@pytest.mark.parametrize("provider", ["duckduckgo", "searxng"])
def test_a_server_error_is_search_unavailable(use_search, provider: str) -> None:
    use_search(provider, "error")

    with pytest.raises(ToolError) as raised:
        search("anything")

    assert raised.value.code == "search_unavailable"
    assert "HTTP 500" in raised.value.message


def test_an_answer_that_is_not_searxng_json_is_search_unavailable(use_search) -> None:
    use_search("searxng", "garbage")
    with pytest.raises(ToolError) as raised:
        search("anything")
    assert raised.value.code == "search_unavailable"


def test_a_page_without_results_markup_gives_no_results(use_search) -> None:
    use_search("duckduckgo", "garbage")
    assert search("anything") == []


@pytest.mark.parametrize("provider", ["duckduckgo", "searxng"])
def test_a_slow_engine_is_search_timeout_within_the_deadline(use_search, provider: str) -> None:
    use_search(provider, "slow")
    started = time.monotonic()

    with pytest.raises(ToolError) as raised:
        search("anything", budget_s=0.5)

    assert raised.value.code == "search_timeout"
    assert time.monotonic() - started < 2.0


def test_an_engine_that_cannot_be_reached_is_search_unavailable(monkeypatch) -> None:
    monkeypatch.setenv("WEB_SEARCH_URL", "http://127.0.0.1:9/html/")  # discard port: nothing listens
    reset_settings()
    with pytest.raises(ToolError) as raised:
        search("anything")
    assert raised.value.code == "search_unavailable"


def test_no_time_left_is_search_timeout_without_a_request(use_search, search_engine) -> None:
    use_search("duckduckgo", "ok")
    before = len(search_engine[1].queries)

    with pytest.raises(ToolError) as raised:
        search("anything", budget_s=0)

    assert raised.value.code == "search_timeout"
    assert len(search_engine[1].queries) == before


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"WEB_SEARCH_PROVIDER": "bing"}, "WEB_SEARCH_PROVIDER"),
        ({"WEB_SEARCH_URL": "ftp://search.example"}, "WEB_SEARCH_URL"),
        ({"WEB_SEARCH_PROVIDER": "searxng"}, "WEB_SEARCH_URL must point at the SearXNG instance"),
    ],
)
def test_search_settings_are_validated(monkeypatch, variables: dict[str, str], named: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    with pytest.raises(ConfigurationError, match=named):
        get_settings()


def test_the_default_is_duckduckgos_html_endpoint() -> None:
    settings = get_settings()
    assert (settings.web_search_provider, settings.web_search_url) == (
        "duckduckgo",
        "https://html.duckduckgo.com/html/",
    )
