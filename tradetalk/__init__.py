"""TradeTalk: cited, extractive answers about trade talks from news articles."""

__version__ = "0.1.0"
