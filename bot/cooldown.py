"""A per-member question cooldown, shared by mentions and /ask, with each server's own budget."""

from __future__ import annotations

import time

from discord.ext import commands


def _member_key(key: tuple[int | None, int]) -> tuple[int | None, int]:
    return key


class QuestionCooldown:
    """At most ``rate`` questions per ``per`` seconds for each member of each server; a server
    may set its own rate and window (``/settings``), direct messages use the defaults."""

    def __init__(self, rate: int, per: float) -> None:
        self.rate, self.per = rate, per
        # One mapping per (rate, window): a server that changes its budget starts a new one.
        # discord.py's mappings expire idle buckets, so memory stays bounded.
        self._mappings: dict[tuple[int, float], commands.CooldownMapping] = {}
        self._told_until: dict[tuple[int | None, int], float] = {}

    def retry_after(
        self,
        user_id: int,
        *,
        server_id: int | None = None,
        rate: int | None = None,
        per: float | None = None,
    ) -> float | None:
        """Spend one question for ``user_id`` in ``server_id``; seconds to wait if they have
        none left."""
        budget = (rate or self.rate, per or self.per)
        mapping = self._mappings.get(budget)
        if mapping is None:
            mapping = self._mappings[budget] = commands.CooldownMapping.from_cooldown(
                budget[0], budget[1], _member_key
            )
        return mapping.update_rate_limit((server_id, user_id))

    def first_refusal(self, user_id: int, retry_after: float, server_id: int | None = None) -> bool:
        """True once per wait: a member hammering the bot hears about the cooldown once, not
        once per message (which would be the bot flooding the channel instead)."""
        now = time.monotonic()
        self._told_until = {u: t for u, t in self._told_until.items() if t > now}
        key = (server_id, user_id)
        if key in self._told_until:
            return False
        self._told_until[key] = now + retry_after
        return True
