"""A loopback fake Discord (REST + gateway) for end-to-end tests of the real discord.py client.

Typical use::

    async with FakeDiscord() as fake, connected(make_bot(), fake) as bot:
        await fake.send_message("hello", mentions_bot=True)
        reply = await fake.wait_for_message()
"""

from .gateway import ABRUPT_CLOSE
from .interactions import InteractionHandle
from .limits import DiscordAPIError
from .payloads import EPHEMERAL, MANAGE_GUILD, Upload
from .records import ActionKind, BotAction, NotSeen, Rejection
from .runner import connected
from .server import DEFAULT_TOKEN, FakeDiscord

__all__ = [
    "ABRUPT_CLOSE",
    "DEFAULT_TOKEN",
    "EPHEMERAL",
    "MANAGE_GUILD",
    "ActionKind",
    "BotAction",
    "DiscordAPIError",
    "FakeDiscord",
    "InteractionHandle",
    "NotSeen",
    "Rejection",
    "Upload",
    "connected",
]
