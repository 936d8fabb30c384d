"""A per-member question cooldown, shared by mentions and /ask."""

from __future__ import annotations

import time

from discord.ext import commands


def _member_key(user_id: int) -> int:
    return user_id


class QuestionCooldown:
    """At most ``rate`` questions per ``per`` seconds for each member."""

    def __init__(self, rate: int, per: float) -> None:
        # discord.py's mapping already expires idle buckets, so memory stays bounded.
        self._buckets: commands.CooldownMapping[int] = commands.CooldownMapping.from_cooldown(
            rate, per, _member_key
        )
        self._per = per
        self._told_until: dict[int, float] = {}

    def retry_after(self, user_id: int) -> float | None:
        """Spend one question for ``user_id``; seconds to wait if they have none left."""
        return self._buckets.update_rate_limit(user_id)

    def first_refusal(self, user_id: int, retry_after: float) -> bool:
        """True once per wait: a member hammering the bot hears about the cooldown once, not
        once per message (which would be the bot flooding the channel instead)."""
        now = time.monotonic()
        self._told_until = {u: t for u, t in self._told_until.items() if t > now}
        if user_id in self._told_until:
            return False
        self._told_until[user_id] = now + retry_after
        return True
