"""Logging set-up: full tracebacks to a log file, one-line messages to the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path


class _NoTraceback(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def log_file(data_dir: Path) -> Path:
    return data_dir / "logs" / "tradetalk.log"


def setup_logging(data_dir: Path, level: str = "INFO", *, console_level: str = "WARNING") -> Path:
    """Log everything at `level` to ``<data dir>/logs/tradetalk.log``; warnings to stderr."""
    path = log_file(data_dir)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_tradetalk", False):
            root.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    except OSError:
        file_handler = logging.NullHandler()  # a read-only data dir must not stop the CLI
    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(_NoTraceback("%(levelname)s: %(message)s"))
    for handler in (file_handler, console):
        handler._tradetalk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3", "bm25s", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
