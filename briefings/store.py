"""Where a library keeps its own issues and party corrections: ``<data_dir>/issues.toml``.

That file is merged over the packaged catalogue (see `briefings.catalogue`); `IssueStore` is
the one way commands change it. Edits keep what an admin wrote by hand, comments included
(tomlkit), every change is validated against the packaged catalogue before it is written, and
the file is replaced atomically under a lock shared with other processes (the bot and a CLI
run), so a reader sees the old file or the new one, never half of one.

The tenancy work points a server at its own directory: ``IssueStore(server_dir)``.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Table

from briefings.catalogue import (
    OVERRIDE_NAME,
    PACKAGED_CATALOGUE,
    CatalogueError,
    Issue,
    Party,
    _read_toml,
    catalogue_problems,
    merge_catalogues,
    name_key,
)
from corpus.library import atomic_write_text
from tradetalk.errors import UnknownIssue

HEADER = """\
Issues and parties of this library, merged over TradeTalk's packaged catalogue by id (the
packaged file's header documents the fields). `tradetalk issues --suggest`, `issue-add`,
`issue-rename`, `issue-merge`, `issue-drop`, `party-set` and `party-drop` (and /issues suggest
in Discord) edit it; hand edits and comments are kept.
"""
_thread_lock = threading.Lock()


class IssueStore:
    """The issues.toml of one data directory."""

    def __init__(
        self, data_dir: Path, *, packaged: Path = PACKAGED_CATALOGUE, with_packaged: bool = True
    ) -> None:
        """`with_packaged`: the library holds the bundled corpus, so the packaged catalogue
        is part of its own (a change is checked against it); otherwise the file stands alone."""
        self.data_dir = data_dir
        self.path = data_dir / OVERRIDE_NAME
        self.packaged = packaged
        self.with_packaged = with_packaged

    # -- reading ----------------------------------------------------------------------------

    def document(self) -> tomlkit.TOMLDocument:
        if not self.path.is_file():
            doc = tomlkit.document()
            for line in HEADER.splitlines():
                doc.add(tomlkit.comment(line))
            return doc
        try:
            return tomlkit.parse(self.path.read_text(encoding="utf-8"))
        except tomlkit.exceptions.ParseError as exc:
            raise CatalogueError(f"{self.path}: not valid TOML ({exc})") from exc
        except OSError as exc:
            raise CatalogueError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc

    def issue_ids(self) -> list[str]:
        """Ids of the issues this file defines (added or replacing packaged ones)."""
        return [str(t.get("id")) for t in self.document().get("issue", [])]

    # -- changes ----------------------------------------------------------------------------

    def add_issue(self, issue: Issue) -> None:
        """Add `issue`, or replace the one with its id."""
        with self._editing() as doc:
            _remove_from(doc, "hidden", issue.id)
            _remove_from(doc, "dismissed", issue.id)
            tables = _issues(doc)
            entry = _issue_table(issue)
            for i, table in enumerate(tables):
                if table.get("id") == issue.id:
                    tables[i] = entry
                    break
            else:
                tables.append(entry)

    def rename_issue(self, issue: Issue, title: str) -> Issue:
        """Give `issue` a new title; the old title stays an alias, so old names still work."""
        title = " ".join(title.split())
        if not title:
            raise CatalogueError("a new title needs letters or digits")
        aliases = tuple(
            a
            for a in dict.fromkeys((*issue.aliases, issue.title))
            if name_key(a) != name_key(title)
        )
        renamed = issue.model_copy(update={"title": title, "aliases": aliases})
        self.add_issue(renamed)
        return renamed

    def merge_issues(self, into: Issue, other: Issue) -> Issue:
        """Fold `other` into `into`: its title, aliases and keywords become `into`'s keywords
        and aliases, and `other` is dropped."""
        if into.id == other.id:
            raise CatalogueError(f"cannot merge issue {into.id!r} into itself")
        names = (other.title, *other.aliases)
        aliases = tuple(dict.fromkeys((*into.aliases, *names)))
        keywords = tuple(dict.fromkeys((*into.keywords, *other.keywords)))
        merged = into.model_copy(update={"aliases": aliases, "keywords": keywords})
        with self._editing() as doc:
            tables = _issues(doc)
            kept = [t for t in tables if t.get("id") not in (into.id, other.id)]
            tables.clear()
            tables.extend([*kept, _issue_table(merged)])
            if other.id in _packaged_ids(self.packaged):
                _add_to(doc, "hidden", other.id)
        return merged

    def drop_issue(self, issue_id: str) -> None:
        """Remove an issue from this library: an added one is deleted, a packaged one hidden."""
        with self._editing() as doc:
            tables = _issues(doc)
            kept = [t for t in tables if t.get("id") != issue_id]
            found = len(kept) != len(tables)
            tables.clear()
            tables.extend(kept)
            if issue_id in _packaged_ids(self.packaged):
                _add_to(doc, "hidden", issue_id)
            elif not found:
                raise UnknownIssue(f"no such issue {issue_id!r}")

    def dismiss(self, proposal_id: str) -> None:
        """Never propose this discovered issue again."""
        with self._editing() as doc:
            _add_to(doc, "dismissed", proposal_id)

    def set_party(self, party_id: str, party: Party) -> None:
        with self._editing() as doc:
            _remove_from(doc, "not_parties", party_id)
            if "parties" not in doc:
                doc["parties"] = tomlkit.table(is_super_table=True)
            entry = tomlkit.table()
            entry["name"] = party.name
            entry["aliases"] = _array(party.aliases)
            entry["people"] = _array(party.people)
            doc["parties"][party_id] = entry

    def drop_party(self, party_id: str) -> None:
        """Say a found party is not a negotiating party (or remove a corrected one)."""
        with self._editing() as doc:
            parties = doc.get("parties")
            if parties is not None and party_id in parties:
                del parties[party_id]
            _add_to(doc, "not_parties", party_id)

    # -- writing ----------------------------------------------------------------------------

    @contextmanager
    def _editing(self) -> Iterator[tomlkit.TOMLDocument]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.data_dir / f".{OVERRIDE_NAME}.lock"
        with _thread_lock, open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = self.document()
            yield doc
            base = _read_toml(self.packaged) if self.with_packaged else {"parties": {}, "issue": []}
            merged = merge_catalogues(base, doc.unwrap())
            problems = catalogue_problems(merged, require_entries=self.with_packaged)
            if problems:
                raise CatalogueError(f"{self.path}: " + "; ".join(problems))
            atomic_write_text(self.path, tomlkit.dumps(doc))


def _issues(doc: tomlkit.TOMLDocument) -> AoT:
    if "issue" not in doc:
        doc.append("issue", tomlkit.aot())
    return doc["issue"]


def _array(values: Sequence[str]):
    array = tomlkit.array()
    array.extend(values)
    return array


def _issue_table(issue: Issue) -> Table:
    table = tomlkit.table()
    table["id"] = issue.id
    table["title"] = issue.title
    table["aliases"] = _array(issue.aliases)
    table["description"] = issue.description
    table["parties"] = _array(issue.parties)
    if issue.keywords:
        table["keywords"] = _array(issue.keywords)
    return table


def _add_to(doc: tomlkit.TOMLDocument, key: str, value: str) -> None:
    if key not in doc:
        doc[key] = _array([])  # tomlkit puts a top-level key before the first table
    if value not in doc[key]:
        doc[key].append(value)


def _remove_from(doc: tomlkit.TOMLDocument, key: str, value: str) -> None:
    if key in doc and value in doc[key]:
        doc[key].remove(value)


def _packaged_ids(path: Path) -> set[str]:
    return {str(item.get("id")) for item in _read_toml(path).get("issue", [])}
