"""Interactions: building INTERACTION_CREATE payloads, and the callback/followup/edit routes.

Discord's timing rules are enforced: the first callback must arrive within 3 seconds of the
interaction's creation (read from its snowflake) or it gets 404 10062, a second callback gets
400 40060, and followups/edits only work once the interaction has been acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from . import payloads as p
from .limits import DiscordAPIError, FormErrors
from .messages import (
    bot_message,
    edited_message,
    json_response,
    message_action,
    no_content,
    read_body,
    store_upload,
    truthy,
)
from .records import ActionKind, BotAction
from .rest import API_PREFIX

if TYPE_CHECKING:
    from .server import FakeDiscord

TOKEN_LIFETIME = 15 * 60
# Callback types each interaction type accepts (2 command, 3 component, 4 autocomplete, 5 modal).
ALLOWED_CALLBACKS = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
CALLBACK_KINDS = {
    4: ActionKind.RESPONSE,
    5: ActionKind.DEFER,
    6: ActionKind.DEFER_UPDATE,
    7: ActionKind.UPDATE,
    8: ActionKind.AUTOCOMPLETE,
    9: ActionKind.MODAL,
}
INTERACTION_MESSAGE_FLAGS = (1 << 2) | p.EPHEMERAL | (1 << 12)
REPLY_KINDS = frozenset(
    {ActionKind.RESPONSE, ActionKind.UPDATE, ActionKind.FOLLOWUP, ActionKind.EDIT_ORIGINAL}
)


@dataclass
class InteractionState:
    id: int
    token: str
    type: int
    channel_id: int
    user_id: int
    payload: dict[str, Any]
    component_message_id: int | None = None
    response_type: int | None = None
    original_id: int | None = None
    loading: bool = False
    followup_ids: list[int] = field(default_factory=list)

    @property
    def created_at(self) -> float:
        return p.snowflake_time(self.id)


@dataclass
class InteractionHandle:
    """What a test gets back from ``send_interaction``: the bot's answers to that interaction."""

    id: int
    token: str
    fake: FakeDiscord

    @property
    def actions(self) -> list[BotAction]:
        return self.fake.actions.matching(lambda a: a.interaction_id == self.id)

    @property
    def response_type(self) -> int | None:
        return self.fake.interactions[self.id].response_type

    async def wait_for(
        self,
        kind: ActionKind | str | None = None,
        *,
        predicate: Callable[[BotAction], bool] | None = None,
        timeout: float = 3.0,
    ) -> BotAction:
        """The next not-yet-awaited action on this interaction (of ``kind``, matching)."""

        def match(action: BotAction) -> bool:
            return (
                action.interaction_id == self.id
                and (kind is None or action.kind == kind)
                and (predicate is None or predicate(action))
            )

        what = f"{kind or 'action'} for interaction {self.id}"
        return await self.fake.actions.wait_for(match, timeout, what)

    async def reply(self, timeout: float = 3.0) -> BotAction:
        """The next action that shows the user a message (response, followup, edit, update)."""
        return await self.wait_for(predicate=lambda a: a.kind in REPLY_KINDS, timeout=timeout)


# -- building INTERACTION_CREATE ----------------------------------------------------------------


def _option_type(command: dict[str, Any] | None, name: str, value: Any) -> int:
    for option in (command or {}).get("options") or []:
        if option["name"] == name:
            return int(option["type"])
    return p.python_option_type(value)


def _check_options(
    command: dict[str, Any], given: set[str], options: Mapping[str, Any], autocomplete: bool
) -> None:
    """Discord's client only sends options the command declares, required ones included."""
    declared = {o["name"]: o for o in command.get("options") or []}
    unknown = given - set(declared)
    missing = {n for n, o in declared.items() if o.get("required") and n not in given}
    if unknown or (missing and not autocomplete):
        raise ValueError(
            f"/{command['name']}: unknown options {sorted(unknown)}, missing {sorted(missing)}"
        )
    for key, value in options.items():
        choices = [c["value"] for c in declared[key].get("choices") or []]
        if choices and not autocomplete and value not in choices:
            raise ValueError(f"/{command['name']}: {key}={value!r} is not one of {choices}")
        # The client stops typing at max_length and won't send below min_length.
        longest, shortest = declared[key].get("max_length"), declared[key].get("min_length")
        if isinstance(value, str) and not autocomplete:
            if longest is not None and len(value) > longest:
                raise ValueError(
                    f"/{command['name']}: {key} is {len(value)} characters; Discord's client "
                    f"takes at most {longest}"
                )
            if shortest is not None and len(value) < shortest:
                raise ValueError(f"/{command['name']}: {key} needs {shortest} characters")


def command_data(
    fake: FakeDiscord,
    name: str,
    options: Mapping[str, Any],
    attachments: Mapping[str, p.Upload],
    channel_id: int,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of a slash command; ``name`` may be ``"group sub"`` for subcommands."""
    state = fake.state
    root, *subs = name.split()
    guild = state.guild_of(channel_id)
    registered = state.commands.find(root, guild.id if guild else None)
    command = registered
    for sub in subs:
        command = next((o for o in (command or {}).get("options") or [] if o["name"] == sub), None)
        if registered is not None and command is None:
            raise ValueError(f"/{name}: {root} has no subcommand {sub!r}")
    if command is not None and command.get("type", 1) in (1, 2) and "options" in command:
        given = set(options) | set(attachments)
        _check_options(command, given, options, autocomplete=focused is not None)
    resolved: dict[str, dict[str, Any]] = {}
    leaf: list[dict[str, Any]] = []
    for key, value in options.items():
        option_type = _option_type(command, key, value)
        if option_type in (6, 7, 8):
            value = _resolve_entity(state, guild, resolved, option_type, int(value))
        option = p.command_option(key, value, option_type)
        if key == focused:
            option["focused"] = True
        leaf.append(option)
    for key, upload in attachments.items():
        attachment = store_upload(state, fake.base_url, channel_id, upload)
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        leaf.append(p.command_option(key, attachment["id"], 11))
    for sub in reversed(subs):
        sub_type = 1 if sub == subs[-1] else 2
        leaf = [{"name": sub, "type": sub_type, "options": leaf}]
    data: dict[str, Any] = {
        "id": registered["id"] if registered else str(state.ids.next()),
        "name": root,
        "type": 1,
        "options": leaf,
    }
    if registered is not None and registered.get("guild_id"):
        data["guild_id"] = registered["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def _resolve_entity(
    state: Any, guild: Any, resolved: dict[str, dict[str, Any]], kind: int, id_: int
) -> str:
    if kind == 6:
        resolved.setdefault("users", {})[str(id_)] = state.users[id_]
        if guild is not None and id_ in guild.member_roles:
            member = state.member(
                id_, with_user=False, guild_id=guild.id, permissions=guild.permissions_of(id_)
            )
            resolved.setdefault("members", {})[str(id_)] = member
    elif kind == 7:
        resolved.setdefault("channels", {})[str(id_)] = {
            **state.channel(id_),
            "permissions": str(p.ALL_PERMISSIONS),
        }
    else:
        resolved.setdefault("roles", {})[str(id_)] = guild.roles[id_]
    return str(id_)


def interaction_payload(
    fake: FakeDiscord,
    interaction_id: int,
    token: str,
    interaction_type: int,
    data: dict[str, Any],
    *,
    user_id: int,
    channel_id: int,
    roles: list[int] | None,
    permissions: int | None,
    message: dict[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    state = fake.state
    channel = state.channel(channel_id)
    guild = state.guild_of(channel_id)
    common: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(state.application_id),
        "type": interaction_type,
        "token": token,
        "version": 1,
        "channel_id": str(channel_id),
        "data": data,
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": p.DEFAULT_ATTACHMENT_SIZE_LIMIT,
    }
    if guild is None:  # in the bot's DM: a user, no member, no guild
        payload = {
            **common,
            "channel": {**channel, "permissions": str(p.DM_PERMISSIONS)},
            "user": state.users[user_id],
            "app_permissions": str(p.DM_PERMISSIONS),
            "authorizing_integration_owners": {"0": "0"},
            "context": p.CONTEXT_BOT_DM,
        }
    else:
        role_ids = guild.member_roles.get(user_id, []) if roles is None else roles
        member_permissions = (
            guild.permissions_of(user_id, role_ids) if permissions is None else permissions
        )
        member = p.member(
            state.users[user_id],
            role_ids,
            permissions=member_permissions,
            joined_at=guild.joined_at,
        )
        payload = {
            **common,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel": {**channel, "permissions": str(member_permissions)},
            "member": member,
            "guild_locale": "en-US",
            "app_permissions": str(guild.permissions_of(state.bot_id)),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": p.CONTEXT_GUILD,
        }
    if message is not None:
        payload["message"] = message
    return payload


# -- routes -------------------------------------------------------------------------------------


class InteractionApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def routes(self) -> list[web.RouteDef]:
        hook = API_PREFIX + "/webhooks/{application_id}/{token}"
        message = hook + "/messages/{message_id}"
        return [
            web.post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback", self.callback),
            web.post(hook, self.followup),
            web.get(message, self.get_message),
            web.patch(message, self.edit_message),
            web.delete(message, self.delete_message),
        ]

    # -- callback -----------------------------------------------------------------------------

    def _interaction(self, request: web.Request) -> InteractionState:
        raw_id = request.match_info["interaction_id"]
        interaction = self.fake.interactions.get(int(raw_id) if raw_id.isdigit() else 0)
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordAPIError(404, limits.UNKNOWN_INTERACTION, "Unknown interaction")
        return interaction

    async def callback(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        arrived = time.time()
        body, uploads = await read_body(request)
        if interaction.response_type is not None:
            raise DiscordAPIError(
                400, limits.ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        if arrived - interaction.created_at > self.fake.ack_deadline:
            raise DiscordAPIError(404, limits.UNKNOWN_INTERACTION, "Unknown interaction")
        callback_type = body.get("type")
        if callback_type not in ALLOWED_CALLBACKS[interaction.type]:
            errors = FormErrors()
            errors.add(("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
            errors.raise_if_any()
        data = body.get("data") or {}
        # Validation and bookkeeping below never await, so a concurrent second ack sees 40060.
        try:
            message = self._apply_callback(interaction, int(callback_type), data, uploads)
        except DiscordAPIError as exc:
            if exc.errors is None or "data" in exc.errors:
                raise
            # The message of a callback sits under "data", and Discord's error paths say so.
            raise DiscordAPIError(exc.status, exc.code, exc.message, {"data": exc.errors}) from None
        interaction.response_type = int(callback_type)
        if message is not None:
            await self._echo(message, created=callback_type in (4, 5))
        if not truthy(request.query.get("with_response")):
            return no_content()
        return json_response(self._callback_response(interaction, int(callback_type), message))

    def _apply_callback(
        self,
        interaction: InteractionState,
        callback_type: int,
        data: dict[str, Any],
        uploads: list[p.Upload],
    ) -> dict[str, Any] | None:
        kind = CALLBACK_KINDS[callback_type]
        message: dict[str, Any] | None = None
        if callback_type == 4:
            limits.check_message(data, files=len(uploads))
            message = self._new_message(interaction, data, uploads, flags=_flags(data))
        elif callback_type == 5:
            flags = (_flags(data) & p.EPHEMERAL) | p.LOADING
            message = self._new_message(interaction, {}, [], flags=flags)
            interaction.loading = True
        elif callback_type in (6, 7):
            interaction.original_id = interaction.component_message_id
            if callback_type == 7:
                limits.check_message_fields(data)
                message = self._edit(interaction.original_id, data, uploads)
        elif callback_type == 8:
            limits.check_autocomplete(data)
        else:
            limits.check_modal(data)
        if message is not None:
            interaction.original_id = int(message["id"])
            action = message_action(kind, message, data, interaction_id=interaction.id)
        else:
            action = BotAction(
                kind=kind,
                channel_id=interaction.channel_id,
                interaction_id=interaction.id,
                choices=list(data.get("choices") or []),
                request_body=data,
            )
        self.fake.actions.append(action)
        return message

    def _callback_response(
        self, interaction: InteractionState, callback_type: int, message: dict[str, Any] | None
    ) -> dict[str, Any]:
        flags = int((message or {}).get("flags") or 0)
        info: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if message is not None:
            info["response_message_id"] = message["id"]
            info["response_message_loading"] = bool(flags & p.LOADING)
            info["response_message_ephemeral"] = bool(flags & p.EPHEMERAL)
        resource: dict[str, Any] = {"type": callback_type}
        if message is not None:
            resource["message"] = message
        return {"interaction": info, "resource": resource}

    def _new_message(
        self,
        interaction: InteractionState,
        data: dict[str, Any],
        uploads: list[p.Upload],
        *,
        flags: int,
    ) -> dict[str, Any]:
        metadata = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": self.state.users[interaction.user_id],
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        message = bot_message(
            self.state,
            self.fake.base_url,
            interaction.channel_id,
            data,
            uploads,
            flags=flags,
            webhook=True,
            interaction_metadata=metadata,
        )
        self.state.messages[int(message["id"])] = message
        return message

    def _edit(
        self, message_id: int | None, data: dict[str, Any], uploads: list[p.Upload]
    ) -> dict[str, Any]:
        message = self.state.messages.get(message_id or 0)
        if message is None:
            raise DiscordAPIError(404, limits.UNKNOWN_MESSAGE, "Unknown Message")
        updated = edited_message(self.state, self.fake.base_url, message, data, uploads)
        limits.check_not_empty(updated)
        self.state.messages[int(updated["id"])] = updated
        return updated

    async def _echo(self, message: dict[str, Any], *, created: bool) -> None:
        if not int(message.get("flags") or 0) & p.EPHEMERAL:
            await self.fake.echo("MESSAGE_CREATE" if created else "MESSAGE_UPDATE", message)

    # -- webhook followups and edits ----------------------------------------------------------

    def _acknowledged(self, request: web.Request) -> InteractionState:
        token = request.match_info["token"]
        found = next((i for i in self.fake.interactions.values() if i.token == token), None)
        if (
            found is None
            or found.response_type is None
            or request.match_info["application_id"] != str(self.state.application_id)
        ):
            raise DiscordAPIError(404, limits.UNKNOWN_WEBHOOK, "Unknown Webhook")
        if time.time() - found.created_at > TOKEN_LIFETIME:
            raise DiscordAPIError(401, 50027, "Invalid Webhook Token")
        return found

    async def followup(self, request: web.Request) -> web.Response:
        interaction = self._acknowledged(request)
        body, uploads = await read_body(request)
        limits.check_message(body, files=len(uploads))
        if interaction.loading:
            # The first followup after a "thinking" defer replaces the loading message and keeps
            # the defer's visibility: an ephemeral flag on the followup itself is ignored.
            interaction.loading = False
            message = self._edit(interaction.original_id, body, uploads)
            await self._echo(message, created=False)
        else:
            message = self._new_message(interaction, body, uploads, flags=_flags(body))
            interaction.followup_ids.append(int(message["id"]))
            await self._echo(message, created=True)
        self.fake.actions.append(
            message_action(ActionKind.FOLLOWUP, message, body, interaction_id=interaction.id)
        )
        return json_response(message) if truthy(request.query.get("wait")) else no_content()

    def _target(self, request: web.Request) -> tuple[InteractionState, int, bool]:
        interaction = self._acknowledged(request)
        raw = request.match_info["message_id"]
        if raw == "@original":
            target = interaction.original_id
        else:
            target = int(raw) if raw.isdigit() else None
            if target not in interaction.followup_ids and target != interaction.original_id:
                target = None
        if target is None or target not in self.state.messages:
            raise DiscordAPIError(404, limits.UNKNOWN_MESSAGE, "Unknown Message")
        return interaction, target, raw == "@original"

    async def get_message(self, request: web.Request) -> web.Response:
        _, target, _ = self._target(request)
        return json_response(self.state.messages[target])

    async def edit_message(self, request: web.Request) -> web.Response:
        interaction, target, original = self._target(request)
        body, uploads = await read_body(request)
        limits.check_message_fields(body)
        message = self._edit(target, body, uploads)
        if original:
            interaction.loading = False
        await self._echo(message, created=False)
        kind = ActionKind.EDIT_ORIGINAL if original else ActionKind.EDIT_FOLLOWUP
        self.fake.actions.append(message_action(kind, message, body, interaction_id=interaction.id))
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        interaction, target, original = self._target(request)
        message = self.state.messages.pop(target)
        if original:
            # With the "thinking..." message gone, the next followup is a new message of its
            # own, with its own visibility (discord/discord-api-docs#2739, fixed by Discord).
            interaction.loading = False
        kind = ActionKind.DELETE_ORIGINAL if original else ActionKind.DELETE_FOLLOWUP
        self.fake.actions.append(
            BotAction(
                kind=kind,
                channel_id=interaction.channel_id,
                message_id=target,
                interaction_id=interaction.id,
                flags=int(message.get("flags") or 0),
            )
        )
        if not int(message.get("flags") or 0) & p.EPHEMERAL:
            event = {k: message[k] for k in ("id", "channel_id", "guild_id")}
            await self.fake.echo("MESSAGE_DELETE", event)
        return no_content()


def _flags(data: dict[str, Any]) -> int:
    return int(data.get("flags") or 0) & INTERACTION_MESSAGE_FLAGS
