"""Per-route rate limits, with the headers Discord sends on every REST reply.

Every response carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds),
``-Reset-After`` (seconds) and ``-Bucket``, so discord.py tracks each bucket and waits on its own
once one is spent, as it does against Discord. A request past the limit gets Discord's 429 (with
``Via``, ``Retry-After``, ``X-RateLimit-Scope`` and a JSON ``retry_after``), so a client that
ignored the headers would see what it would see in production.

Buckets are counted per top-level resource (channel, guild, webhook, interaction), as Discord
counts them. The limits are Discord's well-known ones where it publishes or reliably returns
them (5 messages per 5 s per channel, one reaction per 0.25 s); the rest get a generous default.
Discord says limits may change and clients must read the headers, which is what this exercises.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from aiohttp import web

from .messages import json_response


@dataclass(frozen=True)
class RouteLimit:
    bucket: str  # what X-RateLimit-Bucket says (an opaque hash on Discord; a name here)
    limit: int
    per: float  # seconds in a window


# (methods, route template pattern, limit); the first match applies.
DISCORD_LIMITS: tuple[tuple[frozenset[str], str, RouteLimit], ...] = (
    (
        frozenset({"POST"}),
        "/channels/{channel_id}/messages",
        RouteLimit("channel-message-create", 5, 5.0),
    ),
    (
        frozenset({"PATCH", "DELETE"}),
        "/channels/{channel_id}/messages/{message_id}",
        RouteLimit("channel-message-edit", 5, 5.0),
    ),
    (
        frozenset({"PUT", "DELETE"}),
        "/channels/{channel_id}/messages/{message_id}/reactions/*",
        RouteLimit("channel-reactions", 1, 0.25),
    ),
    (
        frozenset({"POST", "PATCH", "DELETE", "GET"}),
        "/webhooks/{application_id}/{token}*",
        RouteLimit("webhook-token", 5, 2.0),
    ),
    (
        frozenset({"POST"}),
        "/interactions/{interaction_id}/{token}/callback",
        RouteLimit("interaction-callback", 5, 1.0),
    ),
)
DEFAULT_LIMIT = RouteLimit("", 50, 1.0)  # any other route, per route and resource
# The path parameters that make a bucket separate (Discord's "top-level resources").
MAJOR_PARAMETERS = ("channel_id", "guild_id", "interaction_id", "application_id", "token")


@dataclass
class _Window:
    used: int = 0
    ends: float = 0.0  # time.time() at which the bucket resets


@dataclass
class RateLimiter:
    limits: tuple[tuple[frozenset[str], str, RouteLimit], ...] = DISCORD_LIMITS
    default: RouteLimit = DEFAULT_LIMIT
    limited: int = 0  # requests refused with a 429 so far
    _windows: dict[tuple[str, tuple[str, ...]], _Window] = field(default_factory=dict)

    def limit_for(self, method: str, template: str) -> RouteLimit:
        for methods, pattern, limit in self.limits:
            if method in methods and fnmatchcase(template, pattern):
                return limit
        return RouteLimit(f"{method} {template}", self.default.limit, self.default.per)

    def take(
        self, method: str, template: str, match_info: dict[str, str]
    ) -> tuple[dict[str, str], web.Response | None]:
        """Count one request: the headers for its reply, and the 429 to send instead if the
        bucket is spent (not counted)."""
        limit = self.limit_for(method, template)
        bucket = limit.bucket
        major = tuple(match_info.get(k, "") for k in MAJOR_PARAMETERS)
        window = self._windows.setdefault((bucket, major), _Window())
        now = time.time()
        if now >= window.ends:
            window.used, window.ends = 0, now + limit.per
        after = max(window.ends - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Reset": f"{window.ends:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
        if window.used >= limit.limit:
            self.limited += 1
            headers["X-RateLimit-Remaining"] = "0"
            return headers, _too_many(headers, after)
        window.used += 1
        headers["X-RateLimit-Remaining"] = str(limit.limit - window.used)
        return headers, None


def _too_many(headers: dict[str, str], retry_after: float) -> web.Response:
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": False,
    }
    response = json_response(body, status=429)
    response.headers.update(headers)
    response.headers.update(
        {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "user",
        }
    )
    return response
