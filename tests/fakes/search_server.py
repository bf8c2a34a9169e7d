"""A search engine on loopback: DuckDuckGo's HTML endpoint and a SearXNG JSON API, by path.

The first path segment is the mode, the rest the endpoint:

- `/<mode>/html/` (GET or POST, `q=`): a page shaped like html.duckduckgo.com's, with an ad first
  (a `duckduckgo.com/y.js` link), results whose links go through `//duckduckgo.com/l/?uddg=`,
  one direct link, and snippets with markup and entities;
- `/<mode>/search?q=...&format=json`: SearXNG's JSON (`results[].title/url/content`).

Modes: `ok`; `empty` (no results); `error` (HTTP 500); `slow` (answers after `SLOW_SECONDS`);
`garbage` (a 200 that is not what the endpoint should answer). `queries` lists what was asked.
"""

from __future__ import annotations

import asyncio
import html
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.request_log import Receive, Scope, Send

SLOW_SECONDS = 5.0
RESULT_COUNT = 8


def result_url(query: str, number: int) -> str:
    return f"https://example.org/{quote(query)}/{number}?a=1&b=2"


def _duckduckgo_page(query: str, results: int) -> str:
    ad = (
        '<div class="result results_links result--ad"><h2 class="result__title">'
        '<a rel="nofollow" class="result__a" href="https://duckduckgo.com/y.js?ad_domain=ads.example">'
        "Buy now</a></h2>"
        '<a class="result__snippet" href="https://duckduckgo.com/y.js?ad_domain=ads.example">An ad</a></div>'
    )
    items = []
    for number in range(1, results + 1):
        target = result_url(query, number)
        href = f"//duckduckgo.com/l/?uddg={quote(target, safe='')}&amp;rut=abc{number}"
        if number == results:
            href = html.escape(target)  # some results link directly
        items.append(
            f'<div class="result results_links results_links_deep web-result">'
            f'<div class="links_main links_deep result__body"><h2 class="result__title">'
            f'<a rel="nofollow" class="result__a" href="{href}">Result {number} about '
            f"<b>{html.escape(query)}</b></a></h2>"
            f'<div class="result__extras"><a class="result__url" href="{href}">example.org</a></div>'
            f'<a class="result__snippet" href="{href}">Snippet {number}: <b>{html.escape(query)}</b>'
            f" &amp; more<br>text.</a></div></div>"
        )
    body = "".join(items) or '<div class="no-results">No results.</div>'
    return (
        "<!DOCTYPE html><html><head><title>DuckDuckGo</title></head><body>"
        f'<form action="/html/"><input name="q" value="{html.escape(query)}"></form>'
        f'<div id="links" class="results">{ad}{body}</div></body></html>'
    )


def _searxng_reply(query: str, results: int) -> dict[str, object]:
    return {
        "query": query,
        "number_of_results": results,
        "results": [
            {"url": "javascript:alert(1)", "title": "not a web page", "content": ""},
            *(
                {
                    "url": result_url(query, number),
                    "title": f"Result {number} about {query}",
                    "content": f"Snippet {number}:  {query}\n more",
                    "engine": "fake",
                }
                for number in range(1, results + 1)
            ),
        ],
    }


class SearchApp:
    def __init__(self) -> None:
        self.queries: list[tuple[str, str, str]] = []  # (mode, endpoint, q)
        self.app = Starlette(
            routes=[
                Route("/{mode}/html/", self._duckduckgo, methods=["GET", "POST"]),
                Route("/{mode}/search", self._searxng, methods=["GET"]),
            ]
        )

    async def _mode(self, request: Request, endpoint: str, query: str) -> str | Response:
        mode = request.path_params["mode"]
        self.queries.append((mode, endpoint, query))
        if mode == "error":
            return PlainTextResponse("internal error", status_code=500)
        if mode == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return mode

    async def _duckduckgo(self, request: Request) -> Response:
        form = await request.form() if request.method == "POST" else request.query_params
        query = str(form.get("q", ""))
        mode = await self._mode(request, "html", query)
        if isinstance(mode, Response):
            return mode
        if mode == "garbage":
            return HTMLResponse("<html><body><p>Unexpected page</p></body></html>")
        return HTMLResponse(_duckduckgo_page(query, 0 if mode == "empty" else RESULT_COUNT))

    async def _searxng(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        mode = await self._mode(request, "search", query)
        if isinstance(mode, Response):
            return mode
        if mode == "garbage" or request.query_params.get("format") != "json":
            return HTMLResponse("<html>not json</html>")
        return JSONResponse(_searxng_reply(query, 0 if mode == "empty" else RESULT_COUNT))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
