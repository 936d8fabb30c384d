"""The storage of a library: one small interface (`storage.base.LibraryStore`: its article
sources, its index builds, the locks its writers take and the check for a newer build) and
its implementations. `storage.local.LocalStore` keeps a library in its directory of the data
dir (article files, index builds, ``flock``s) as TradeTalk always has."""

from storage.base import ArticleSources, LibraryStore, Staging
from storage.local import LocalStore

__all__ = ["ArticleSources", "LibraryStore", "LocalStore", "Staging"]
