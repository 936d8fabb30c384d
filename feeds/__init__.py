"""Following news feeds: `FeedStore` (the feeds and their items, SQLite), `FeedPoller` (a round
of polling and ingesting), digests of what a round added, and the CLI commands. Bound to one
library (its data dir and engine); nothing here imports discord."""
