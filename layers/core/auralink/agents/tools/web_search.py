"""Web search for agents: DuckDuckGo's HTML endpoint, or a SearXNG-compatible JSON API.

The provider and its URL come from the settings (WEB_SEARCH_PROVIDER, WEB_SEARCH_URL), which the
operator sets, not users, so the URL is not put through the SSRF guard. A search gets what is
left of the caller's deadline (at most `MAX_WAIT_S`), as one wall-clock budget that a server
trickling bytes cannot stretch; its answer is read up to `MAX_ANSWER_BYTES`. Redirects are not
followed: DuckDuckGo answers its bot check with one.

DuckDuckGo wraps result links as ``//duckduckgo.com/l/?uddg=<encoded url>``; they are unwrapped,
and ads (links through ``duckduckgo.com/y.js``) are dropped.
"""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from auralink.agents.tools.base import BuiltinTool, ToolAnswer, ToolContext, ToolError
from auralink.agents.tools.names import WEB_SEARCH
from auralink.model import DeferredModel
from auralink.settings import get_settings

MAX_WAIT_S = 15.0
CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 2 * 1024 * 1024
MAX_RESULTS = 20
DEFAULT_RESULTS = 5
MAX_QUERY_CHARS = 500
MAX_SNIPPET_CHARS = 500
# Search engines tend to refuse requests that carry no User-Agent at all.
_HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; AuraLink/1.0)",
    "Accept": "text/html,application/json;q=0.9",
}
_VOID_TAGS = frozenset({"br", "img", "wbr", "hr", "input", "meta", "link", "source"})

UNAVAILABLE = "search_unavailable"
TIMEOUT = "search_timeout"


class SearchResult(DeferredModel):
    title: str
    url: str
    snippet: str


def search(query: str, *, max_results: int = DEFAULT_RESULTS, deadline: float) -> list[SearchResult]:
    """Up to ``max_results`` results for ``query``, before ``deadline`` (a `time.monotonic()` value)."""
    query = query.strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        raise ToolError(
            f"the query must have 1 to {MAX_QUERY_CHARS} characters", code="invalid_tool_arguments"
        )
    if not 1 <= max_results <= MAX_RESULTS:
        raise ToolError(f"max_results must be between 1 and {MAX_RESULTS}", code="invalid_tool_arguments")
    deadline = min(deadline, time.monotonic() + MAX_WAIT_S)
    settings = get_settings()
    if settings.web_search_provider == "searxng":
        url = settings.web_search_url.rstrip("/") + "/search"
        raw = _fetch("GET", url, deadline=deadline, params={"q": query, "format": "json"})
        results = _searxng_results(raw)
    else:
        raw = _fetch("POST", settings.web_search_url, deadline=deadline, data={"q": query})
        results = _duckduckgo_results(raw.decode("utf-8", "replace"))
    return results[:max_results]


def _fetch(method: str, url: str, *, deadline: float, **request: Any) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        raise ToolError("no time was left for the search", code=TIMEOUT)
    timeout = httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining))
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, headers=_HEADERS) as client,
            client.stream(method, url, **request) as response,
        ):
            if response.status_code != 200:
                raise ToolError(
                    f"the search engine answered HTTP {response.status_code}; try again later",
                    code=UNAVAILABLE,
                )
            return _read(response, deadline)
    except httpx.TimeoutException:
        raise ToolError("the search engine did not answer in time", code=TIMEOUT) from None
    except httpx.HTTPError:
        raise ToolError("the search engine cannot be reached", code=UNAVAILABLE) from None


def _read(response: httpx.Response, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ToolError("the search engine's answer is too large", code=UNAVAILABLE)
        if time.monotonic() > deadline:
            raise ToolError("the search engine did not answer in time", code=TIMEOUT)
        chunks.append(chunk)
    return b"".join(chunks)


def _clean(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _web_url(href: str) -> str | None:
    """The result's own address: DuckDuckGo's redirect unwrapped; None for ads and non-web links."""
    parts = urlsplit("https:" + href if href.startswith("//") else href)
    host = (parts.hostname or "").lower()
    if host == "duckduckgo.com" or host.endswith(".duckduckgo.com"):
        if parts.path != "/l/":
            return None  # y.js: an ad
        targets = parse_qs(parts.query).get("uddg")
        if not targets:
            return None
        return _web_url(targets[0])
    if parts.scheme not in ("http", "https") or not host:
        return None
    return href if not href.startswith("//") else "https:" + href


class _DuckDuckGoPage(HTMLParser):
    """Collects `a.result__a` (title and link) and the `.result__snippet` that follows it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, Any]] = []
        self._field: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            if tag == "br" and self._field is not None:
                self.found[-1][self._field].append(" ")
            return
        if self._field is not None:
            self._depth += 1
            return
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "a" and "result__a" in classes:
            self.found.append({"href": attributes.get("href") or "", "title": [], "snippet": []})
            self._field, self._depth = "title", 1
        elif "result__snippet" in classes and self.found and not self.found[-1]["snippet"]:
            self._field, self._depth = "snippet", 1

    def handle_endtag(self, tag: str) -> None:
        if self._field is None or tag in _VOID_TAGS:
            return
        self._depth -= 1
        if self._depth == 0:
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.found[-1][self._field].append(data)


def _duckduckgo_results(page: str) -> list[SearchResult]:
    parser = _DuckDuckGoPage()
    parser.feed(page)
    parser.close()
    results = []
    for item in parser.found:
        url = _web_url(item["href"])
        title = _clean("".join(item["title"]), 300)
        if url is not None and title:
            results.append(
                SearchResult(
                    title=title, url=url, snippet=_clean("".join(item["snippet"]), MAX_SNIPPET_CHARS)
                )
            )
    return results


def _searxng_results(raw: bytes) -> list[SearchResult]:
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise ToolError("the search engine answered something that is not a search result", code=UNAVAILABLE)
    results = []
    for item in document["results"]:
        if not isinstance(item, dict):
            continue
        url, title, content = item.get("url"), item.get("title"), item.get("content")
        if not isinstance(url, str) or _web_url(url) is None:
            continue
        results.append(
            SearchResult(
                title=_clean(title if isinstance(title, str) else url, 300),
                url=url,
                snippet=_clean(content if isinstance(content, str) else "", MAX_SNIPPET_CHARS),
            )
        )
    return results


def _as_text(query: str, results: list[SearchResult]) -> str:
    if not results:
        return f"No results for {query!r}."
    return "\n".join(
        f"{number}. {result.title}\n   {result.url}" + (f"\n   {result.snippet}" if result.snippet else "")
        for number, result in enumerate(results, 1)
    )


def _run(context: ToolContext, arguments: dict[str, Any]) -> ToolAnswer:
    query = arguments["query"]
    results = search(
        query, max_results=arguments.get("max_results", DEFAULT_RESULTS), deadline=context.deadline
    )
    return ToolAnswer(
        text=_as_text(query, results),
        structured={"results": [result.model_dump() for result in results]},
    )


TOOL = BuiltinTool(
    name=WEB_SEARCH,
    description=(
        "Search the web. Returns up to max_results results (title, url and a snippet of the page), "
        "best first. Use short keyword queries; open no links, the snippets are all you get."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_QUERY_CHARS,
                "pattern": r"\S",
                "description": "What to search for",
            },
            "max_results": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_RESULTS,
                "default": DEFAULT_RESULTS,
                "description": f"How many results to return (1 to {MAX_RESULTS})",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    run=_run,
)
