"""Every Discord server is a tenant: its own library (articles, index, issue catalogue
changes), audit log, feedback, what's-new state and settings, under ``DATA_DIR/servers/<id>/``.

The global library (the bundled corpus plus what the bot's owner adds) keeps the data
directory's top level and is read by every server, read-only. `Libraries` maps a server to its
library and loads it lazily under a memory budget (`tenancy.libraries`); a server's questions
search both libraries and merge the results (`tenancy.asking`); its settings live in its
directory (`tenancy.server_settings`); a server the bot left is purged after the retention
period (`tenancy.retention`). `tenancy.layout` says where everything is.
"""

from tenancy.libraries import GLOBAL, SERVER, Libraries, ServerLibrary

__all__ = ["GLOBAL", "SERVER", "Libraries", "ServerLibrary"]
