"""Settings and shipped data files (the negotiation-issue catalogue)."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
