"""The TradeTalk Discord bot: thin cogs over the engine in ``tradetalk``."""
