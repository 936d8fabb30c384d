"""Runtime settings, from the environment (prefix ``TRADETALK_``) and an optional ``.env`` file.

Nothing here reads the environment at import time: `load_settings()` is called by the CLI and the
bot's ``main``, and tests build `Settings(...)` directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from errors import ConfigError

ENV_PREFIX = "TRADETALK_"

IdList = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """Every knob of TradeTalk. Field ``x`` is read from ``TRADETALK_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Engine
    data_dir: Path = Field(Path("data"), description="Where the index and added articles live.")
    bundled_dir: Path | None = Field(
        None, description="Read-only corpus shipped with the bot (default: the bundled article)."
    )
    model_path: Path | None = Field(
        None, description="Local sentence-transformers model directory (default: packaged MiniLM)."
    )
    # ONNX is the default because the benchmark measured it faster end to end on a CPU: half the
    # query-encoding time of torch and a start-up that never imports torch (docs/PERFORMANCE.md).
    backend: Literal["torch", "onnx"] = Field(
        "onnx", description="Embedding backend: onnx (exported locally on first use) or torch."
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX export is kept (default: the user's cache directory, "
        "$XDG_CACHE_HOME/tradetalk/models or ~/.cache/tradetalk/models).",
    )
    top_k: int = Field(5, ge=1, le=20, description="Passages returned with each answer.")
    abstain_threshold: float = Field(
        0.22,
        ge=-1.0,
        le=1.0,
        description="If no candidate sentence has a cosine this high, the bot declines at once "
        "(above it the evidence model decides).",
    )
    max_article_bytes: int = Field(
        2_000_000, ge=1_000, description="Largest article file or download accepted."
    )
    max_question_chars: int = Field(1000, ge=10, description="Longest question accepted.")

    # Storage: the data dir (default), or a PostgreSQL database every host shares
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL connection URL: when set, every library lives in that database "
        "and each host keeps only a cache (secret: it may hold a password).",
    )
    cache_dir: Path | None = Field(
        None,
        description="With a database, where this host keeps the index segments it serves "
        "(default: DATA_DIR/cache); it may be deleted at any time.",
    )

    # URL ingestion
    allow_private_urls: bool = Field(
        False, description="Allow fetching from private/loopback addresses (tests, intranets)."
    )
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds allowed for a URL download.")

    # Feeds
    feed_interval_minutes: float = Field(
        30.0, ge=1, description="How often a followed feed is polled (each feed, with jitter)."
    )
    feed_max_items: int = Field(
        20, ge=1, le=500, description="New items taken from one feed in one round."
    )
    feed_max_bytes: int = Field(
        10_000_000, ge=1_000, description="The largest feed document accepted."
    )
    feed_check_seconds: float = Field(
        60.0, gt=0, description="How often the bot looks for feeds that are due."
    )

    # Discord
    discord_token: SecretStr | None = Field(None, description="Bot token (secret).")
    guild_ids: IdList = Field(
        default_factory=list, description="Guilds to sync slash commands to instantly."
    )
    admin_role_ids: IdList = Field(
        default_factory=list,
        description="Roles that may use admin commands (besides Manage Server).",
    )
    channel_ids: IdList = Field(
        default_factory=list,
        description="Channels where the bot answers mentions and /ask (empty: all); a server's "
        "/settings replaces it for that server.",
    )
    cooldown_rate: int = Field(
        4, ge=1, description="Questions one member may ask per cooldown window."
    )
    cooldown_seconds: float = Field(30.0, gt=0, description="Length of the cooldown window.")
    owner_ids: IdList = Field(
        default_factory=list,
        description="Users who manage the global library, besides the application's owner.",
    )

    # Servers (tenancy/)
    server: int | None = Field(
        None, gt=0, description="The CLI works on this Discord server's library (else the global)."
    )
    memory_budget_mb: int = Field(
        512, ge=1, description="Server indexes kept loaded at once, in MB of index files."
    )
    retention_days: float = Field(
        30.0, ge=0, description="Days a server's data is kept after the bot leaves it."
    )
    shard_count: int | None = Field(
        None, ge=1, description="Gateway shards in all (default: what Discord recommends)."
    )
    shard_ids: IdList = Field(
        default_factory=list, description="The shards this process runs (default: all of them)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )

    @field_validator(
        "guild_ids", "admin_role_ids", "channel_ids", "owner_ids", "shard_ids", mode="before"
    )
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``"1,2,3"`` and ``"[1, 2]"`` as well as real lists."""
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("TRADETALK_SHARD_IDS needs TRADETALK_SHARD_COUNT")
        if self.shard_count is not None and any(
            not 0 <= s < self.shard_count for s in self.shard_ids
        ):
            raise ValueError("every TRADETALK_SHARD_IDS entry must be below TRADETALK_SHARD_COUNT")
        return self

    @property
    def articles_dir(self) -> Path:
        """Admin-added articles, one Markdown file each."""
        return self.data_dir / "articles"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def model_cache(self) -> Path:
        """One export serves every data dir of this user: it depends only on the model, and
        making it takes ~15 s (a scratch data dir would otherwise pay that each time)."""
        if self.model_cache_dir:
            return self.model_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "tradetalk" / "models"

    @property
    def library_cache(self) -> Path:
        """With a database: this host's cache of the libraries' index builds."""
        return self.cache_dir or self.data_dir / "cache"

    @property
    def audit_db(self) -> Path:
        """Who added, removed or reindexed what, and when."""
        return self.data_dir / "audit.sqlite"

    @property
    def servers_dir(self) -> Path:
        """One directory per Discord server: its own library, logs and settings (tenancy/)."""
        return self.data_dir / "servers"


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the environment variable(s) at fault."""
    parts = []
    for error in exc.errors():
        if not error["loc"]:  # a check across fields names its variables itself
            parts.append(error["msg"].removeprefix("Value error, "))
            continue
        field = str(error["loc"][0])
        parts.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
    return "invalid setting " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; raise `ConfigError` with one line."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
