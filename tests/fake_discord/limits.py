"""Discord's validation rules, enforced by the fake so that a bot that would be rejected in
production is rejected in tests too, with the same status codes and error bodies.

Errors are collected for the whole body and reported at once, as Discord does:
``{"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"title":
{"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}``.
"""

from __future__ import annotations

import re
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
MODAL_TITLE_MAX = 45
COMMANDS_MAX = 100
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
# String options' min_length / max_length (https://discord.com/developers/docs/interactions/
# application-commands#application-command-object-application-command-option-structure).
OPTION_LENGTH_MAX = 6000
# Message components (https://discord.com/developers/docs/components/reference).
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100
LINK_URL_MAX = 512
ATTACHMENT_DESCRIPTION_MAX = 1024
THREAD_NAME_MAX = 100
THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006
UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060
UNKNOWN_MESSAGE = 10008
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_WEBHOOK = 10015
CANNOT_EDIT_OTHERS_MESSAGE = 50005
CANNOT_SEND_TO_USER = 50007
WRONG_CHANNEL_TYPE = 50024
THREAD_ALREADY_CREATED = 160004
MISSING_PERMISSIONS = 50013


class DiscordAPIError(Exception):
    """An error response exactly as Discord would send it (status + JSON body)."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` tree."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: tuple[str | int, ...], value: Any) -> bool:
        if value is None or value == "":
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return False
        return True

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordAPIError(400, INVALID_FORM_BODY, "Invalid Form Body", self.tree)


def embed_text_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 limit for one embed."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    return total


def _check_embed(errors: FormErrors, index: int, embed: dict[str, Any]) -> None:
    path: tuple[str | int, ...] = ("embeds", index)
    errors.max_length((*path, "title"), embed.get("title"), EMBED_TITLE_MAX)
    errors.max_length((*path, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
    footer = embed.get("footer") or {}
    errors.max_length((*path, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX)
    author = embed.get("author") or {}
    errors.max_length((*path, "author", "name"), author.get("name"), EMBED_AUTHOR_NAME_MAX)
    fields = embed.get("fields") or []
    errors.max_length((*path, "fields"), fields, EMBED_FIELDS_MAX)
    for n, field in enumerate(fields):
        if errors.required((*path, "fields", n, "name"), field.get("name")):
            errors.max_length((*path, "fields", n, "name"), field["name"], EMBED_FIELD_NAME_MAX)
        if errors.required((*path, "fields", n, "value"), field.get("value")):
            errors.max_length((*path, "fields", n, "value"), field["value"], EMBED_FIELD_VALUE_MAX)


def _check_components(errors: FormErrors, rows: list[dict[str, Any]]) -> None:
    """Action rows of buttons and selects, as Discord validates them: at most 5 rows of at most
    5 buttons (or one select); a link button has a url and no custom_id, any other a custom_id
    of at most 100 characters, unique in the message; labels at most 80."""
    errors.max_length(("components",), rows, ACTION_ROWS_MAX)
    seen: set[str] = set()
    for r, row in enumerate(rows):
        path: tuple[str | int, ...] = ("components", r)
        if row.get("type") != 1:
            errors.add((*path, "type"), "COMPONENT_LAYOUT_INVALID", "Expected an action row")
            continue
        items = row.get("components") or []
        if not items:
            errors.add((*path, "components"), "BASE_TYPE_REQUIRED", "This field is required")
        errors.max_length((*path, "components"), items, ROW_BUTTONS_MAX)
        if any(item.get("type") != 2 for item in items) and len(items) > 1:
            errors.add(
                (*path, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select fills a row"
            )
        for n, item in enumerate(items):
            where = (*path, "components", n)
            errors.max_length((*where, "label"), item.get("label"), BUTTON_LABEL_MAX)
            if item.get("type") == 2 and item.get("style") == 5:  # a link button
                if errors.required((*where, "url"), item.get("url")):
                    errors.max_length((*where, "url"), item["url"], LINK_URL_MAX)
                    if not str(item["url"]).startswith(("http://", "https://", "discord://")):
                        errors.add(
                            (*where, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL."
                        )
                if item.get("custom_id"):
                    errors.add(
                        (*where, "custom_id"),
                        "COMPONENT_INVALID_CUSTOM_ID",
                        "A link button cannot have a custom_id",
                    )
                continue
            custom_id = item.get("custom_id")
            if errors.required((*where, "custom_id"), custom_id):
                errors.max_length((*where, "custom_id"), custom_id, CUSTOM_ID_MAX)
                if custom_id in seen:
                    errors.add(
                        (*where, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen.add(custom_id)


def check_message_fields(payload: dict[str, Any]) -> None:
    """Length limits on a message create/edit body (fields that are absent are not checked)."""
    errors = FormErrors()
    if payload.get("components"):
        _check_components(errors, payload["components"])
    for n, attachment in enumerate(payload.get("attachments") or []):
        errors.max_length(
            ("attachments", n, "description"),
            attachment.get("description"),
            ATTACHMENT_DESCRIPTION_MAX,
        )
    content = payload.get("content")
    if content is not None:
        errors.max_length(("content",), str(content), CONTENT_MAX)
    embeds = payload.get("embeds") or []
    errors.max_length(("embeds",), embeds, EMBEDS_MAX)
    for index, embed in enumerate(embeds):
        _check_embed(errors, index, embed)
    if sum(embed_text_length(e) for e in embeds) > EMBED_TOTAL_MAX:
        errors.add(
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    errors.raise_if_any()


def check_not_empty(message: dict[str, Any], *, files: int = 0) -> None:
    """Discord's 50006: a message needs text, an embed, a file, a sticker, or components."""
    if (
        (message.get("content") or "").strip()
        or message.get("embeds")
        or message.get("attachments")
        or files
        or message.get("sticker_ids")
        or message.get("components")
        or message.get("poll")
    ):
        return
    raise DiscordAPIError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_message(payload: dict[str, Any], *, files: int = 0) -> None:
    """Every rule for a new message (channel message, interaction response, or followup)."""
    check_message_fields(payload)
    check_not_empty(payload, files=files)


def check_thread(body: dict[str, Any]) -> None:
    """Starting a thread: a name of 1-100 characters, a known auto-archive duration."""
    errors = FormErrors()
    if errors.required(("name",), body.get("name")):
        errors.max_length(("name",), str(body["name"]), THREAD_NAME_MAX)
    slowmode = body.get("rate_limit_per_user")
    if slowmode is not None and not 0 <= int(slowmode) <= 21_600:
        errors.add(
            ("rate_limit_per_user",), "NUMBER_TYPE_MAX", "int value should be between 0 and 21600."
        )
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in THREAD_ARCHIVE_DURATIONS:
        errors.add(
            ("auto_archive_duration",),
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
    errors.raise_if_any()


def check_autocomplete(data: dict[str, Any]) -> None:
    errors = FormErrors()
    choices = data.get("choices")
    if choices is None:
        errors.required(("data", "choices"), choices)
        choices = []
    errors.max_length(("data", "choices"), choices, AUTOCOMPLETE_CHOICES_MAX)
    for n, choice in enumerate(choices):
        if errors.required(("data", "choices", n, "name"), choice.get("name")):
            errors.max_length(("data", "choices", n, "name"), choice["name"], CHOICE_NAME_MAX)
        value = choice.get("value")
        if isinstance(value, str):
            errors.max_length(("data", "choices", n, "value"), value, CHOICE_NAME_MAX)
    errors.raise_if_any()


def check_modal(data: dict[str, Any]) -> None:
    errors = FormErrors()
    if errors.required(("data", "title"), data.get("title")):
        errors.max_length(("data", "title"), data["title"], MODAL_TITLE_MAX)
    errors.required(("data", "custom_id"), data.get("custom_id"))
    errors.required(("data", "components"), data.get("components") or None)
    errors.raise_if_any()


def _check_option(errors: FormErrors, path: tuple[str | int, ...], option: dict[str, Any]) -> None:
    name = option.get("name") or ""
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if errors.required((*path, "description"), option.get("description")):
        description = option["description"]
        errors.max_length((*path, "description"), description, COMMAND_DESCRIPTION_MAX)
    errors.max_length((*path, "choices"), option.get("choices") or [], AUTOCOMPLETE_CHOICES_MAX)
    for key, low in (("min_length", 0), ("max_length", 1)):
        value = option.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or value > OPTION_LENGTH_MAX:
            errors.add(
                (*path, key),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {OPTION_LENGTH_MAX}.",
            )
        elif value < low:
            errors.add(
                (*path, key),
                "NUMBER_TYPE_MIN",
                f"int value should be greater than or equal to {low}.",
            )
    sub_options = option.get("options") or []
    errors.max_length((*path, "options"), sub_options, COMMAND_OPTIONS_MAX)
    for n, sub in enumerate(sub_options):
        _check_option(errors, (*path, "options", n), sub)


def check_commands(commands: list[dict[str, Any]]) -> None:
    """Bulk-overwrite rules: names, descriptions, option counts, duplicates, at most 100."""
    errors = FormErrors()
    errors.max_length((), commands, COMMANDS_MAX)
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        kind = command.get("type", 1)
        if kind == 1:
            _check_option(errors, (index,), command)
        else:  # context-menu commands: any case, no description
            errors.max_length((index, "name"), command.get("name") or "", 32)
        key = (kind, command.get("name") or "")
        if key in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {key[1]}",
            )
        seen.add(key)
    errors.raise_if_any()
