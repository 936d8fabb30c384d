"""The soak test runs the bot as the end-to-end tests do: same fake Discord, same bundled index."""

from e2e.conftest import bundled_index, fake_discord

__all__ = ["bundled_index", "fake_discord"]
