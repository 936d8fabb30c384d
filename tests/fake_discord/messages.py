"""Reading message bodies (JSON or multipart) and turning them into stored message objects."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import payloads as p
from .limits import DiscordAPIError, FormErrors
from .records import ActionKind, BotAction
from .state import ServerState


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with Content-Type exactly ``application/json``.

    ``web.json_response`` and ``web.Response(text=...)`` add ``; charset=utf-8``, and discord.py
    only parses bodies whose content type is exactly ``application/json``.
    """
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json"
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[p.Upload]]:
    """The JSON body, or ``payload_json`` plus ``files[n]`` of a multipart/form-data body."""
    if request.content_type == "multipart/form-data":
        body: dict[str, Any] = {}
        uploads: list[p.Upload] = []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                body = json.loads(await part.text())
            elif part.filename is not None:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(p.Upload(part.filename, bytes(await part.read()), content_type))
        return body, uploads
    if request.can_read_body:
        data = await request.json()
        if not isinstance(data, dict):
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.")
        return data, []
    return {}, []


def attachment_payloads(
    state: ServerState,
    base_url: str,
    channel_id: int,
    body: dict[str, Any],
    uploads: list[p.Upload],
    existing: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Attachments of a created/edited message; new files get a URL served by the fake.

    ``body["attachments"]`` lists files to keep (by existing id) and new files (by upload index);
    when it is absent an edit keeps the old attachments and every upload is added.
    """
    kept_by_id = {a["id"]: a for a in existing or []}
    listed = body.get("attachments")
    result: list[dict[str, Any]] = []
    used: set[int] = set()
    if listed is None:
        result = list(existing or [])
    else:
        for entry in listed:
            key = str(entry.get("id"))
            if key in kept_by_id:
                result.append(kept_by_id[key])
            elif key.isdigit() and int(key) < len(uploads):
                description = entry.get("description")
                upload = uploads[int(key)]
                result.append(store_upload(state, base_url, channel_id, upload, description))
                used.add(int(key))
    for index, upload in enumerate(uploads):
        if index not in used:
            result.append(store_upload(state, base_url, channel_id, upload))
    return result


def store_upload(
    state: ServerState,
    base_url: str,
    channel_id: int,
    upload: p.Upload,
    description: str | None = None,
) -> dict[str, Any]:
    """Keep an uploaded file and return its attachment object, with a URL the fake serves."""
    attachment_id = state.ids.next()
    state.uploads[attachment_id] = upload
    url = f"{base_url}/attachments/{channel_id}/{attachment_id}/{upload.filename}"
    return p.attachment(attachment_id, upload, url, description)


def unknown_reference_error() -> None:
    errors = FormErrors()
    errors.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
    errors.raise_if_any()


def resolve_reference(
    state: ServerState, channel_id: int, body: dict[str, Any]
) -> dict[str, Any] | None:
    """The replied-to message; a reply to an unknown message fails unless told not to."""
    ref = body.get("message_reference")
    if not ref:
        return None
    try:
        return state.message(int(ref.get("channel_id") or channel_id), ref["message_id"])
    except (DiscordAPIError, KeyError, TypeError, ValueError):
        if ref.get("fail_if_not_exists", True):
            unknown_reference_error()
        return None


def bot_message(
    state: ServerState,
    base_url: str,
    channel_id: int,
    body: dict[str, Any],
    uploads: list[p.Upload],
    *,
    referenced: dict[str, Any] | None = None,
    flags: int = 0,
    webhook: bool = False,
    interaction_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message authored by the bot, as Discord stores and returns it."""
    message_id = state.ids.next()
    content = "" if body.get("content") is None else str(body["content"])
    pinged, everyone = state.pinged(content, body.get("allowed_mentions"), referenced)
    guild = state.guild_of(channel_id)
    guild_id = guild.id if guild is not None else None
    message = p.message(
        message_id,
        channel_id,
        guild_id,
        state.users[state.bot_id],
        content,
        author_member=state.member(state.bot_id, with_user=False, guild_id=guild_id)
        if guild_id is not None
        else None,
        mentions=state.mention_payloads(pinged, guild_id),
        embeds=[_normalise_embed(e) for e in body.get("embeds") or []],
        attachments=attachment_payloads(state, base_url, channel_id, body, uploads),
        components=list(body.get("components") or []),
        referenced=referenced,
        flags=flags,
        webhook_id=state.application_id if webhook else None,
        interaction_metadata=interaction_metadata,
    )
    message["mention_everyone"] = everyone
    return message


def edited_message(
    state: ServerState,
    base_url: str,
    message: dict[str, Any],
    body: dict[str, Any],
    uploads: list[p.Upload],
) -> dict[str, Any]:
    """``message`` after a PATCH: only the fields present in ``body`` change."""
    updated = dict(message)
    if "content" in body:
        updated["content"] = "" if body["content"] is None else str(body["content"])
    if "embeds" in body:
        updated["embeds"] = [_normalise_embed(e) for e in body["embeds"] or []]
    if "components" in body:
        updated["components"] = list(body["components"] or [])
    if "flags" in body and body["flags"] is not None:
        # Only SUPPRESS_EMBEDS may be toggled by an edit; LOADING always clears.
        keep = updated.get("flags", 0) & ~(1 << 2) & ~p.LOADING
        updated["flags"] = keep | (int(body["flags"]) & (1 << 2))
    else:
        updated["flags"] = updated.get("flags", 0) & ~p.LOADING
    channel_id = int(message["channel_id"])
    updated["attachments"] = attachment_payloads(
        state, base_url, channel_id, body, uploads, existing=message.get("attachments")
    )
    if "content" in body or "allowed_mentions" in body:
        referenced = message.get("referenced_message")
        pinged, everyone = state.pinged(
            updated["content"], body.get("allowed_mentions"), referenced
        )
        guild_id = message.get("guild_id")
        updated["mentions"] = state.mention_payloads(pinged, int(guild_id) if guild_id else None)
        updated["mention_everyone"] = everyone
    updated["edited_timestamp"] = p.iso_timestamp()
    return updated


def _normalise_embed(embed: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich", **embed}


def message_action(
    kind: ActionKind,
    message: dict[str, Any],
    body: dict[str, Any],
    *,
    interaction_id: int | None = None,
) -> BotAction:
    """A record of what the user now sees in ``message`` after the bot's request ``body``."""
    return BotAction(
        kind=kind,
        channel_id=int(message["channel_id"]),
        message_id=int(message["id"]),
        content=message.get("content") or "",
        embeds=list(message.get("embeds") or []),
        components=list(message.get("components") or []),
        attachments=list(message.get("attachments") or []),
        allowed_mentions=body.get("allowed_mentions"),
        message_reference=_int_ids(body.get("message_reference")),
        pinged_user_ids=frozenset(int(m["id"]) for m in message.get("mentions") or []),
        pinged_everyone=bool(message.get("mention_everyone")),
        interaction_id=interaction_id,
        flags=int(message.get("flags") or 0),
        request_body=body,
    )


def _int_ids(reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """A message reference with integer ids, however the client serialised them."""
    if reference is None:
        return None
    keys = ("message_id", "channel_id", "guild_id")
    return {k: int(v) if k in keys and v is not None else v for k, v in reference.items()}
