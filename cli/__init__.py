"""The ``tradetalk`` command line: a front end beside ``bot/``, over the same engine
(`tenancy.Libraries`). Nothing below it imports it."""
