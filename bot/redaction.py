"""Secrets kept out of the logs: the bot token, and interaction tokens.

discord.py never logs the bot token, but at DEBUG it logs every gateway event (an
INTERACTION_CREATE carries the interaction's token) and every webhook URL (followups are posted
to ``/webhooks/{app}/{token}``). An interaction token lets whoever holds it post as the bot in
that channel for 15 minutes, so a shared DEBUG log must not carry it either.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator

REDACTED = "[redacted]"
# /interactions/{id}/{token}/callback and /webhooks/{app id}/{token}[/messages/...]
_TOKEN_IN_URL = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/?#\s'\"]+")
# 'token': '...' in the repr of a gateway payload (or "token": "..." in its JSON).
_TOKEN_FIELD = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]*""")


class SecretFilter(logging.Filter):
    """A handler filter that rewrites each record's message and traceback without secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _TOKEN_IN_URL.sub(rf"\1{REDACTED}", text)
        return _TOKEN_FIELD.sub(rf"\1{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback they print is this one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


@contextlib.contextmanager
def redacted_logs(*secrets: str, logger: logging.Logger | None = None) -> Iterator[SecretFilter]:
    """While inside, every handler of ``logger`` (default: the root logger) drops ``secrets``
    and interaction tokens from what it writes."""
    target = logger or logging.getLogger()
    secret_filter = SecretFilter(secrets)
    handlers = list(target.handlers)
    for handler in handlers:
        handler.addFilter(secret_filter)
    try:
        yield secret_filter
    finally:
        for handler in handlers:
            handler.removeFilter(secret_filter)
