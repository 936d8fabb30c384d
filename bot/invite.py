"""What the bot asks for when a server invites it, and the invite link with exactly that.

Every permission here is used: View Channels and Read Message History to see questions and the
answers they reply to, Send Messages (and in threads) to answer, Embed Links for answers and
briefings, Attach Files for the timeline picture, Create Public Threads for "Ask a follow-up".
Nothing else (it never adds reactions: members' 👍/👎 reactions are read, which needs none)."""

from __future__ import annotations

import discord

SCOPES = "bot+applications.commands"

REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


def invite_url(application_id: int) -> str:
    """The link a server owner opens to add the bot (the README shows the same)."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}&scope={SCOPES}"
        f"&permissions={REQUIRED_PERMISSIONS.value}"
    )
