"""The article library: the read-only bundled corpus plus admin-added files in the data dir."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from corpus.articles import SUFFIXES, Article, read_article
from errors import ArticleError

log = logging.getLogger(__name__)
BUNDLED_DIR = Path(__file__).parent / "bundled"


@dataclass(frozen=True)
class SourceFile:
    key: str  # "bundled/<name>" or "added/<name>": stable across machines
    path: Path
    sha256: str
    bundled: bool


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArticleLibrary:
    def __init__(
        self, articles_dir: Path, *, max_bytes: int, bundled_dir: Path | None = BUNDLED_DIR
    ):
        """``bundled_dir=None``: a library of added articles only (a Discord server's own; the
        bundled corpus belongs to the global library)."""
        self.articles_dir = articles_dir
        self.bundled_dir = bundled_dir
        self.max_bytes = max_bytes

    def scan(self) -> dict[str, SourceFile]:
        """Every article file with a content hash (cheap: no parsing)."""
        found: dict[str, SourceFile] = {}
        for prefix, directory, bundled in (
            ("bundled", self.bundled_dir, True),
            ("added", self.articles_dir, False),
        ):
            if directory is None or not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                    continue
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    log.warning("cannot read article file %s: %s", path, exc)
                    continue
                key = f"{prefix}/{path.name}"
                found[key] = SourceFile(key, path, digest, bundled)
        return found

    def read(self, source: SourceFile) -> Article:
        # Added files are TradeTalk's own (it wrote their ids): `stored` trusts those.
        return read_article(
            source.path,
            max_bytes=self.max_bytes,
            bundled=source.bundled,
            stored=not source.bundled,
        )

    def path_for(self, article_id: str) -> Path:
        return self.articles_dir / f"{article_id}.md"

    def path_of(self, key: str) -> Path | None:
        """The file behind a source key from `scan` (``added/<name>``); None for bundled ones."""
        prefix, _, name = key.partition("/")
        if prefix != "added" or not name or "/" in name or name.startswith("."):
            return None
        return self.articles_dir / name

    def save(self, article: Article) -> Path:
        """Store an added article as Markdown with front matter (atomically)."""
        path = self.path_for(article.id)
        atomic_write_text(path, article.to_markdown())
        return path

    def load_all(self) -> tuple[list[tuple[SourceFile, Article]], list[ArticleError]]:
        """Parse every file; a broken file is reported, never fatal."""
        articles, errors = [], []
        for source in self.scan().values():
            try:
                articles.append((source, self.read(source)))
            except ArticleError as exc:
                log.warning("skipping article file: %s", exc)
                errors.append(exc)
        return articles, errors
