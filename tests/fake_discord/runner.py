"""Start and stop a real discord.py client against a FakeDiscord, the way production does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeVar

import discord

if TYPE_CHECKING:
    from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.asynccontextmanager
async def connected(
    client: ClientT, fake: FakeDiscord, *, token: str | None = None, timeout: float = 5.0
) -> AsyncIterator[ClientT]:
    """``login`` → ``connect()`` as a task → ``wait_until_ready``; ``close`` on exit.

    Errors from login or the gateway (``LoginFailure``, ``PrivilegedIntentsRequired``,
    ``ConnectionClosed``) propagate here instead of hanging until the timeout.
    """
    try:
        await client.login(fake.token if token is None else token)
    except BaseException:
        await client.close()
        raise
    connect = asyncio.create_task(client.connect(), name="fake-discord-connect")
    ready = asyncio.create_task(client.wait_until_ready(), name="fake-discord-ready")
    try:
        done, _ = await asyncio.wait(
            {connect, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if connect in done:
            connect.result()  # raises the gateway error
            raise RuntimeError("client.connect() returned before the client was ready")
        if ready not in done:
            raise TimeoutError(f"client not ready within {timeout}s")
        yield client
    finally:
        ready.cancel()
        failed_early = connect.done()
        await client.close()
        try:
            await asyncio.wait_for(connect, timeout)
        except Exception:
            if not failed_early:  # an error while the test ran: report it
                raise
        # Let discord.py's own event tasks (on_disconnect etc.) finish before the loop closes.
        await asyncio.sleep(0)
