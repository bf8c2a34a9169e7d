"""Route selection as API Gateway's HTTP API does it.

The most specific path wins (a literal segment beats a `{param}`, which beats a greedy
`{proxy+}`), then a route's own method beats `ANY`; `$default` catches what nothing else matches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from infra.template import HttpRoute

log = logging.getLogger("infra.local.apigw")

_LITERAL, _PARAM, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return "$default" if self.route.path == "$default" else f"{self.route.method} {self.route.path}"


def _segment_kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAM
    return _LITERAL


class RouteTable:
    """The API's routes, matched the way HTTP API selects a route for a request."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        self.routes = [route for route in routes if self._usable(route)]

    @staticmethod
    def _usable(route: HttpRoute) -> bool:
        if route.payload_format_version != "2.0":
            log.warning("%s %s: payload format %s is not emulated, route skipped",
                        route.method, route.path, route.payload_format_version)  # fmt: skip
            return False
        return True

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        segments = raw_path.split("/")[1:]
        candidates: list[tuple[tuple[int, ...], bool, RouteMatch]] = []
        for route in self.routes:
            if route.method not in {method.upper(), "ANY"}:
                continue
            if route.path == "$default":
                candidates.append(((_GREEDY + 1,), route.method == "ANY", RouteMatch(route, {})))
                continue
            parameters = _match_path(route.path.split("/")[1:], segments)
            if parameters is not None:
                kinds = tuple(_segment_kind(part) for part in route.path.split("/")[1:])
                candidates.append((kinds, route.method == "ANY", RouteMatch(route, parameters)))
        if not candidates:
            return None
        return min(candidates, key=lambda candidate: (candidate[0], candidate[1]))[2]

    def matches_path(self, raw_path: str) -> bool:
        """Whether any route, of any method, serves this path (for CORS preflights)."""
        segments = raw_path.split("/")[1:]
        return any(
            route.path == "$default" or _match_path(route.path.split("/")[1:], segments) is not None
            for route in self.routes
        )


def _match_path(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, part in enumerate(pattern):
        kind = _segment_kind(part)
        if kind == _GREEDY:
            rest = "/".join(segments[index:])
            if not rest:
                return None
            parameters[part[1:-2]] = unquote(rest)
            return parameters
        if index >= len(segments):
            return None
        if kind == _PARAM:
            if not segments[index]:
                return None
            parameters[part[1:-1]] = unquote(segments[index])
        elif part != segments[index]:
            return None
    return parameters if len(pattern) == len(segments) else None
