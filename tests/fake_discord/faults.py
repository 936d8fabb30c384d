"""REST fault injection: make the next matching requests fail with a 429 or a 5xx.

A 429 carries what discord.py needs to retry instead of treating it as a Cloudflare ban: a
``Via`` header, a JSON body with ``retry_after``, and the complete set of rate-limit headers
(discord.py reads them all or none; ``X-RateLimit-Remaining`` alone raises ``KeyError``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase

from aiohttp import web

from .messages import json_response

SERVER_ERROR_MESSAGES = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


def route_matches(pattern: str, method: str, path: str, template: str) -> bool:
    """``"POST /channels/*/messages"``, ``"/channels/{channel_id}/messages"`` (any method), etc."""
    if pattern.startswith("/"):
        return fnmatchcase(path, pattern) or pattern == template
    want_method, _, want_path = pattern.partition(" ")
    if want_method.upper() != method:
        return False
    return fnmatchcase(path, want_path) or want_path == template


@dataclass
class Fault:
    pattern: str
    status: int
    retry_after: float
    is_global: bool
    remaining: int

    def response(self) -> web.Response:
        if self.status == 429:
            return self._rate_limited()
        message = SERVER_ERROR_MESSAGES.get(self.status, f"{self.status}: Error")
        return json_response({"message": message, "code": 0}, status=self.status)

    def _rate_limited(self) -> web.Response:
        body = {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }
        response = json_response(body, status=429)
        response.headers.update(
            {
                "Via": "1.1 google",
                "Retry-After": str(max(1, math.ceil(self.retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-bucket-" + self.pattern.replace(" ", "-"),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
        )
        if self.is_global:
            response.headers["X-RateLimit-Global"] = "true"
        return response


class FaultQueue:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, method: str, path: str, template: str) -> Fault | None:
        for fault in self._faults:
            if route_matches(fault.pattern, method, path, template):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)
