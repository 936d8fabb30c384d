"""``tradetalk``: ask questions, manage articles and the index from a terminal."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from briefings.cli import register_commands as register_briefing_commands
from config.settings import Settings, load_settings
from corpus.articles import SUFFIXES
from feeds.cli import register_feed_commands
from tenancy.layout import check_server_id, server_paths
from tradetalk.errors import ArticleError, TradeTalkError
from tradetalk.logs import log_file, setup_logging

if TYPE_CHECKING:
    from tenancy import Libraries
    from tradetalk.audit import AuditLog
    from tradetalk.engine import Engine

app = typer.Typer(
    help="TradeTalk: cited answers about trade talks from news articles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("tradetalk.cli")


class State:
    data_dir: Path | None = None
    server: int | None = None
    settings: Settings | None = None
    libraries: Libraries | None = None


state = State()


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default ./data or $TRADETALK_DATA_DIR)."),
    ] = None,
    server: Annotated[
        int | None,
        typer.Option(
            "--server",
            help="Work on this Discord server's library (its id) instead of the global one "
            "($TRADETALK_SERVER).",
        ),
    ] = None,
) -> None:
    state.data_dir = data_dir
    state.server = server
    state.settings = None
    state.libraries = None


def settings() -> Settings:
    if state.settings is None:
        state.settings = load_settings(data_dir=state.data_dir, server=state.server)
        setup_logging(state.settings.data_dir, state.settings.log_level)
    return state.settings


def server_id() -> int | None:
    """The server whose library the command works on; None for the global library."""
    chosen = settings().server
    return None if chosen is None else check_server_id(chosen)


@contextmanager
def failures() -> Iterator[None]:
    """One clear line on stderr and a non-zero exit; the traceback goes to the log file."""
    try:
        yield
        sys.stdout.flush()  # a reader that went away shows here, where it is handled
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:
        # `tradetalk articles | head -1`: the reader has what it wanted. Nothing to say; the
        # exit status is a shell's for a writer ended by SIGPIPE (128 + 13), and stdout goes
        # to /dev/null so the flush at exit can't fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None
    except TradeTalkError as exc:
        log.info("command failed: %s", exc, exc_info=True)
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except OSError as exc:
        log.exception("unexpected I/O error")
        err.print(
            f"error: {exc.strerror or exc} ({getattr(exc, 'filename', '') or 'I/O'})", markup=False
        )
        raise typer.Exit(1) from None
    except Exception:
        log.exception("unexpected error")
        where = log_file(state.settings.data_dir) if state.settings else "the log"
        err.print(f"error: unexpected failure; details are in {where}", markup=False)
        raise typer.Exit(1) from None


@contextmanager
def progress_bar(label: str) -> Iterator[object]:
    """A rich progress bar on stderr (stdout stays clean for --json)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def audit(
    action: str, target: str, outcome: str, detail: str = "", *, to: AuditLog | None = None
) -> None:
    """Record a change in the audit log of the library it was made to (or in `to`)."""
    try:
        (to or log_of()).record(f"cli:{_login()}", action, target, outcome, detail)
    except OSError:
        log.warning("could not write the audit log", exc_info=True)


def log_of() -> AuditLog:
    """The audit log of the library the command works on."""
    from tradetalk.audit import AuditLog

    sid = server_id()
    if sid is None:
        return AuditLog(settings().audit_db)
    return AuditLog(server_paths(settings().data_dir, sid).audit)


def _opened(engine: Engine) -> Engine:
    if engine.needs_build():
        with progress_bar("Embedding passages") as update:
            engine.open(progress=update)
    else:
        engine.open()
    return engine


def libraries() -> Libraries:
    """Every library, the global one opened (a server's question reads it too)."""
    if state.libraries is None:
        from tenancy import Libraries

        state.libraries = Libraries(settings())
        _opened(state.libraries.global_engine)
    return state.libraries


def engine(*, create: bool = False) -> Engine:
    """The engine of the library the command works on; a server's library is created only by
    a command that adds to it (`create`), else `UnknownServer`."""
    return libraries().engine(server_id(), create=create, opener=_opened)


def library_dir() -> Path:
    """The directory of the library the command works on (the data dir, or the server's part
    of it): where its feed store lives. Reading it creates nothing."""
    sid = server_id()
    return settings().data_dir if sid is None else server_paths(settings().data_dir, sid).root


def briefing_source():
    """What the briefing commands read: a server's briefings (its library and the global
    one, its own catalogue changes), or the global engine's."""
    return libraries().briefings(server_id())


register_briefing_commands(app, engine=briefing_source, failures=failures, out=out, audit=audit)
register_feed_commands(
    app,
    engine=partial(engine, create=True),  # following a feed makes a server's library
    library_dir=library_dir,
    briefings=briefing_source,
    settings=settings,
    failures=failures,
    out=out,
    audit=audit,
)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help='The question, or "-" to read one per line.')],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per question.")] = False,
    show_passages: Annotated[
        bool, typer.Option("--passages", help="Also list the passages retrieved.")
    ] = False,
) -> None:
    """Answer a question from the articles, with citations."""
    from tradetalk.render import answer_json, answer_text, reply_json

    with failures():
        libs, sid = libraries(), server_id()
        if question != "-":
            answer = libs.ask(sid, question)
            if as_json:
                out.print(json.dumps(answer_json(answer), ensure_ascii=False), markup=False)
            else:
                out.print(answer_text(answer), markup=False)
                if show_passages:
                    for hit in answer.hits:
                        out.print(f"\n#{hit.rank} ({hit.score:.2f}) {hit.record.id}", style="dim")
                        out.print(hit.record.text, markup=False)
            return
        # Bytes, decoded here: a line that is not UTF-8 is read with U+FFFD for its bad bytes
        # (a strict decoder would end the whole batch at that line).
        for raw in sys.stdin.buffer:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text.strip():
                continue
            reply = reply_json(partial(libs.ask, sid), text)
            if as_json:
                print(json.dumps(reply, ensure_ascii=False), flush=True)
            else:
                out.print(f"Q: {text}\n{reply['answer']}\n", markup=False)


def _is_link(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def _article_paths(paths: list[Path]) -> Iterator[Path]:
    """The files to ingest. A folder holding no article file is an error (one line), not a
    silent success: the admin most likely gave the wrong folder."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                raise ArticleError(
                    f"{path}: no article files in this folder (looked for {', '.join(SUFFIXES)})"
                )
            yield from found
        else:
            yield path


def _fetch_pages(links: list[str]) -> list[tuple[str, object]]:
    """Each link's page (a `FetchedPage`) or the `FetchError` that refused it, fetched as
    `/ingest url:` fetches: size cap, timeout, private addresses refused, redirects checked."""
    import asyncio

    from feeds.cli import fetcher_for

    async def fetch_all() -> list[tuple[str, object]]:
        async with fetcher_for(settings()) as fetcher:
            found = []
            for link in links:
                try:
                    found.append((link, await fetcher.fetch(link)))
                except ArticleError as exc:
                    found.append((link, exc))
            return found

    return asyncio.run(fetch_all())


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(help="Article files or folders (.md .txt .html), or http(s) links."),
    ],
) -> None:
    """Add articles (embedding only their passages), all in one index build. A link is
    fetched as `/ingest url:` fetches it, and the article is identified by it."""
    from corpus.articles import Article, parse_article, read_article

    with failures():
        links = [s for s in sources if _is_link(s)]
        # A folder without articles is said before anything is loaded or fetched.
        files = list(_article_paths([Path(s) for s in sources if not _is_link(s)]))
        failed = 0
        read: list[tuple[str, Article]] = []
        for path in files:
            try:
                read.append((str(path), read_article(path, max_bytes=settings().max_article_bytes)))
            except ArticleError as exc:
                failed += 1
                audit("ingest", str(path), "failed", str(exc))
                err.print(f"error: {exc}", markup=False)
        for link, page in _fetch_pages(links) if links else []:
            try:
                if isinstance(page, Exception):
                    raise page
                article = parse_article(
                    page.data,
                    page.filename,
                    max_bytes=settings().max_article_bytes,
                    fetched_from=page.url,
                )
                read.append((link, article))
            except ArticleError as exc:
                failed += 1
                audit("ingest", link, "failed", str(exc))
                err.print(f"error: {exc}", markup=False)
        if read:
            eng = engine(create=True)
            label = Path(read[0][0]).name if len(read) == 1 else f"{len(read)} articles"
            with progress_bar(f"Embedding {label}") as update:
                outcomes = eng.ingest_articles([article for _, article in read], progress=update)
            for (source, _), result in zip(read, outcomes, strict=True):
                if isinstance(result, TradeTalkError):
                    failed += 1
                    audit("ingest", source, "failed", str(result))
                    err.print(f"error: {source}: {result}", markup=False)
                    continue
                a = result.article
                outcome = "ok" if result.status != "unchanged" else "unchanged"
                audit("ingest", a.id, outcome, source)
                twin = result.duplicate_of
                dup = f" (near-duplicate of {twin.id})" if twin else ""
                out.print(
                    f"{result.status}: {a.id} — {a.title} ({a.passage_count} passages){dup}",
                    markup=False,
                )
            eng.merge()  # tidy the index now: no bot may be running to merge in the background
        if failed:
            raise typer.Exit(1)


@app.command("articles")
def list_articles() -> None:
    """List the articles with ids, dates and passage counts."""
    with failures():
        rows = []
        for a in libraries().own_articles(server_id()):
            note = "bundled" if a.bundled else ""
            if a.duplicate_of:
                note = f"copy of {a.duplicate_of}"
            if a.claimed_url:  # a fetched page that says it is another URL: a claim, shown so
                note = " ".join(filter(None, [note, f"claims to be {a.claimed_url}"]))
            rows.append((a.id, a.date or "-", a.source, a.title, str(a.passage_count), note))
        if not out.is_terminal:  # piped: one tab-separated line per article, for scripts
            for row in rows:
                print("\t".join(row))
            return
        table = Table("date", "id", "source", "title", "passages", "note")
        table.columns[1].no_wrap = True
        for row in rows:
            table.add_row(row[1], row[0], *row[2:])
        out.print(table)


@app.command()
def remove(article_id: Annotated[str, typer.Argument(help="An id from `tradetalk articles`.")]):
    """Remove an added article."""
    with failures():
        info = engine().remove(article_id)
        audit("remove", info.id, "ok", info.title)
        out.print(f"removed: {info.id} — {info.title}", markup=False)


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything.")] = False,
) -> None:
    """Bring the index up to date with the article files (or rebuild it)."""
    with failures():
        eng = engine()
        if rebuild:
            with progress_bar("Re-embedding all passages") as update:
                eng.rebuild(progress=update)
            audit("reindex", "all", "ok", f"{len(eng.index)} passages")
        m = eng.index.manifest
        out.print(
            f"index {eng.index.version}: {m.passage_count} passages from {len(eng.index.articles)} "
            f"articles, model {m.model_id}, {m.index_kind} vectors",
            markup=False,
        )


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="JSONL: {id, question, evidence[, kind]}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    split: Annotated[
        str | None, typer.Option("--split", help='Only the questions of this split ("tune").')
    ] = None,
) -> None:
    """Score retrieval and answers on questions with known evidence (as score.py does), with
    the figures broken down by question kind."""
    from tradetalk.evaluate import load_questions, score
    from tradetalk.render import reply_json

    with failures():
        items = load_questions(questions, split=split)
        libs, sid = libraries(), server_id()

        result = score(items, lambda question: reply_json(partial(libs.ask, sid), question))
        misses = result.pop("misses")
        kinds = result.pop("by_kind")
        if as_json:
            print(json.dumps({**result, "by_kind": kinds}))
            return
        for line in misses:
            out.print(line, markup=False)
        answered = ("R@3", "MRR", "answer_hit", "false_abstain")
        # Short headers: the kind names must fit on an 80-column terminal.
        table = Table("kind", "ans.", "unans.", "R@3", "MRR", "hit", "f.abst.", "abst.rec.")
        table.columns[0].no_wrap = True
        for kind, f in kinds.items():
            cells = [str(f[c]) if f["answerable"] else "–" for c in answered]
            cells.append(str(f["abstain_recall"]) if f["unanswerable"] else "–")
            table.add_row(kind, str(f["answerable"]), str(f["unanswerable"]), *cells)
        out.print(table)
        out.print(json.dumps(result), markup=False)


@app.command("audit")
def show_audit(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many entries.")] = 20,
) -> None:
    """Who added, removed or reindexed what, and when (newest first)."""
    with failures():
        for e in log_of().recent(limit):
            detail = f" — {e.detail}" if e.detail else ""
            out.print(f"{e.at} {e.actor} {e.action} {e.target}: {e.outcome}{detail}", markup=False)


@app.command("servers")
def list_servers() -> None:
    """List the Discord servers with a library here: articles, size, and when the bot left."""
    from tenancy.retention import server_summaries

    with failures():
        rows = [
            (
                str(s.server_id),
                str(s.articles),
                f"{s.size_bytes / 1024:.0f} KiB",
                f"left {s.left_at}, purged after {s.purge_after}" if s.left_at else "",
            )
            for s in server_summaries(settings())
        ]
        if not rows:
            out.print("No server has a library here yet.", markup=False)
            return
        if not out.is_terminal:
            for row in rows:
                print("\t".join(row))
            return
        table = Table("server", "articles", "size", "note")
        for row in rows:
            table.add_row(*row)
        out.print(table)


@app.command("purge-server")
def purge_server(
    server: Annotated[str, typer.Argument(help="The server's id (see `tradetalk servers`).")],
) -> None:
    """Delete one server's library, logs, feedback and settings now (the global library and
    other servers are untouched)."""
    from tenancy.retention import purge_server as purge

    with failures():
        from tradetalk.audit import AuditLog

        removed = purge(settings(), check_server_id(server))
        detail = f"{removed.articles} articles, {removed.size_bytes} bytes"
        # In the global log: the server's own went with it.
        audit(
            "purge-server", str(removed.server_id), "ok", detail, to=AuditLog(settings().audit_db)
        )
        out.print(
            f"purged server {removed.server_id}: {removed.articles} articles, "
            f"{removed.size_bytes / 1024:.0f} KiB",
            markup=False,
        )


@app.command()
def run() -> None:
    """Start the Discord bot (settings from the environment / .env)."""
    with failures():
        from bot.cli_run import run_bot

        code = run_bot(settings())
    raise typer.Exit(code)
