"""The error hierarchy now lives on the ground floor (`errors`), where `corpus/`, `retrieval/`
and `config/` can import it without reaching up into `tradetalk/`. This re-export keeps the old
import path working for the floors above."""

from errors import *  # noqa: F403
from errors import __all__  # noqa: F401
