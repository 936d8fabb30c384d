"""The catalogue of negotiation issues (``config/issues.toml``): reading, validating, resolving.

The packaged catalogue can be extended without touching the package: an ``issues.toml`` in the
data directory is merged over it, issue by issue and party by party (same id: replaced; new id:
added). Every problem in the merged catalogue is reported at once, one line each.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from rapidfuzz import fuzz, process

from corpus.normalize import clean_unicode
from retrieval.tokenize import tokenize
from tradetalk.errors import ConfigError, UnknownIssue

PACKAGED_CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "issues.toml"
OVERRIDE_NAME = "issues.toml"  # in the data directory

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=20)]
SUGGESTION_CUTOFF = 60.0  # rapidfuzz WRatio below which a name is not offered as "did you mean"


class CatalogueError(ConfigError):
    """The issue catalogue cannot be read or has problems (all of them in the message)."""


class Party(BaseModel):
    """A negotiating party and the words that stand for it in an article."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    aliases: tuple[Text, ...]  # institutions and places: "Ottawa", "the Trump administration"
    people: tuple[Text, ...] = ()  # surnames of people who speak for it: "Freeland"


class Issue(BaseModel):
    """One negotiation issue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: Text
    aliases: tuple[Text, ...]
    description: Description
    parties: tuple[Slug, ...] = ()  # shown first; others are the parties found taking a stance
    keywords: tuple[Text, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """Every word or phrase whose presence in a sentence signals the issue."""
        return tuple(dict.fromkeys(self.keywords + self.aliases))


def name_key(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a name: "Ch. 19" -> "ch19"."""
    return re.sub(r"[^0-9a-z]+", "", clean_unicode(text).lower())


def _stem_key(text: str) -> str:
    return " ".join(tokenize(text))


LIST_KEYS = ("hidden", "dismissed", "not_parties")  # lists of ids an admin's file may keep


class Catalogue:
    """A validated catalogue. Build it with `load_catalogue` or `Catalogue.from_data`.

    ``hidden``: issue ids an admin dropped from this library (the packaged ones stay in the
    package); ``dismissed``: discovered proposals an admin dropped; ``not_parties``: found
    parties an admin said are not negotiating parties."""

    def __init__(
        self,
        parties: Mapping[str, Party],
        issues: list[Issue],
        sources: tuple[str, ...],
        *,
        hidden: tuple[str, ...] = (),
        dismissed: tuple[str, ...] = (),
        not_parties: tuple[str, ...] = (),
    ):
        self.parties = dict(parties)
        self.hidden = tuple(hidden)
        self.dismissed = tuple(dismissed)
        self.not_parties = tuple(not_parties)
        issues = [issue for issue in issues if issue.id not in set(hidden)]
        self.issues = list(issues)
        self.sources = sources
        self._by_id = {issue.id: issue for issue in issues}
        self._names: dict[str, Issue] = {}  # name_key -> issue (ids, titles, aliases)
        self._stems: dict[str, Issue] = {}  # stemmed name -> issue ("patent" finds "patents")
        for issue in issues:
            for name in (issue.id, issue.title, *issue.aliases):
                self._names.setdefault(name_key(name), issue)
                self._stems.setdefault(_stem_key(name), issue)
        self._stems.pop("", None)

    @classmethod
    def from_data(
        cls, data: Mapping[str, object], source: str = "catalogue", *, require_entries: bool = True
    ) -> Catalogue:
        """Validate parsed TOML; raise `CatalogueError` listing every problem."""
        problems = catalogue_problems(data, require_entries=require_entries)
        if problems:
            raise CatalogueError(f"{source}: " + "; ".join(problems))
        parties = {k: Party.model_validate(v) for k, v in dict(data.get("parties", {})).items()}
        issues = [Issue.model_validate(item) for item in list(data.get("issue", []))]
        lists = {key: tuple(_strings(data.get(key, []))) for key in LIST_KEYS}
        return cls(parties, issues, (source,), **lists)

    def with_parties(self, parties: Mapping[str, Party]) -> Catalogue:
        """The same catalogue with `parties` (the found ones merged in, see
        `briefings.parties`) in place of its own."""
        return Catalogue(
            parties,
            self.issues,
            self.sources,
            dismissed=self.dismissed,
            not_parties=self.not_parties,
        )

    def __iter__(self):
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def get(self, issue_id: str) -> Issue:
        return self._by_id[issue_id]

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever anything that shapes a briefing changes (caches key on it)."""
        payload = json.dumps(
            {
                "parties": {k: v.model_dump() for k, v in sorted(self.parties.items())},
                "issues": [issue.model_dump() for issue in self.issues],
                "dismissed": sorted(self.dismissed),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def resolve(self, topic: str) -> Issue:
        """The issue `topic` names (id, title or alias, ignoring case, spaces and punctuation;
        then by stemmed words). Raises `UnknownIssue` with "did you mean …" suggestions."""
        key = name_key(topic)
        if key in self._names:
            return self._names[key]
        stems = _stem_key(topic)
        if stems in self._stems:
            return self._stems[stems]
        suggestions = [issue.id for issue in self.similar(topic)]
        shown = topic.strip()[:60] or "(empty)"
        if suggestions:
            raise UnknownIssue(f"no such issue {shown!r}; did you mean {', '.join(suggestions)}?")
        known = ", ".join(issue.id for issue in self.issues)
        raise UnknownIssue(f"no such issue {shown!r}; known issues: {known}")

    def similar(self, text: str, limit: int = 3) -> list[Issue]:
        """Issues whose id, title or an alias looks like `text` (best first)."""
        query = clean_unicode(text).lower().strip()
        if not query:
            return []
        choices = {}
        for issue in self.issues:
            for name in (issue.id, issue.title, *issue.aliases):
                choices.setdefault(clean_unicode(name).lower(), issue)
        found = process.extract(
            query, list(choices), scorer=fuzz.WRatio, limit=None, score_cutoff=SUGGESTION_CUTOFF
        )
        ranked: list[Issue] = []
        for name, _score, _ in found:
            if choices[name] not in ranked:
                ranked.append(choices[name])
        return ranked[:limit]

    def suggest(self, text: str, limit: int = 25) -> list[Issue]:
        """Autocomplete: issues whose names start with or contain `text`, then look like it."""
        key = name_key(text)
        if not key:
            return self.issues[:limit]
        starts, contains = [], []
        for issue in self.issues:
            keys = [name_key(n) for n in (issue.id, issue.title, *issue.aliases)]
            if any(k.startswith(key) for k in keys):
                starts.append(issue)
            elif any(key in k for k in keys):
                contains.append(issue)
        ranked = starts + contains
        ranked += [issue for issue in self.similar(text, limit) if issue not in ranked]
        return ranked[:limit]


def catalogue_problems(data: Mapping[str, object], *, require_entries: bool = True) -> list[str]:
    """Every problem in a parsed catalogue, one readable line each (empty: valid). A library's
    own catalogue without the packaged one (`require_entries=False`) may be empty: a new
    negotiation has no issues until an admin keeps some."""
    problems: list[str] = []
    unknown = sorted(set(data) - {"parties", "issue", *LIST_KEYS})
    if unknown:
        expected = ", ".join(("parties", "issue", *LIST_KEYS))
        problems.append(f"unknown top-level key(s): {', '.join(unknown)} (expected {expected})")
    for key in LIST_KEYS:
        value = data.get(key, [])
        if not isinstance(value, list) or len(_strings(value)) != len(value):
            problems.append(f"{key}: must be a list of ids")

    raw_parties = data.get("parties", {})
    parties: dict[str, Party] = {}
    if not isinstance(raw_parties, Mapping) or (require_entries and not raw_parties):
        problems.append("[parties]: at least one party is required")
        raw_parties = {}
    for party_id, raw in raw_parties.items():
        where = f"party {party_id!r}"
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", str(party_id)):
            problems.append(f"{where}: id must be a lower-case slug")
        try:
            parties[party_id] = Party.model_validate(raw)
        except ValidationError as exc:
            problems += _pydantic_problems(where, exc)
    alias_owner: dict[str, str] = {}
    for party_id, party in parties.items():
        if not party.aliases:
            problems.append(f"party {party_id!r}: aliases must not be empty")
        for alias in party.aliases + party.people:
            other = alias_owner.setdefault(alias, party_id)
            if other != party_id:
                problems.append(f"party {party_id!r}: alias {alias!r} also stands for {other!r}")

    raw_issues = data.get("issue", [])
    if not isinstance(raw_issues, list) or (require_entries and not raw_issues):
        problems.append("[[issue]]: at least one issue is required")
        raw_issues = []
    seen_ids: dict[str, str] = {}
    names: dict[str, str] = {}  # name_key of an id, title or alias -> issue id
    for number, raw in enumerate(raw_issues, start=1):
        if not isinstance(raw, Mapping):
            problems.append(f"issue #{number}: must be a table of fields")
            continue
        issue_id = str(raw.get("id", ""))
        where = f"issue #{number}" + (f" ({issue_id})" if issue_id else "")
        try:
            Issue.model_validate(raw)
        except ValidationError as exc:
            problems += _pydantic_problems(where, exc)
        # Checks across issues run on the raw fields, so an invalid issue's clashes show too.
        if issue_id in seen_ids:
            problems.append(f"{where}: id {issue_id!r} is already used by {seen_ids[issue_id]}")
        seen_ids.setdefault(issue_id, where)
        owner = names.setdefault(name_key(issue_id), issue_id)
        if issue_id and owner != issue_id:
            problems.append(f"{where}: id {issue_id!r} is already an alias of issue {owner!r}")
        for party in _strings(raw.get("parties")):
            if party not in parties:
                problems.append(
                    f"{where}: unknown party {party!r} (known: {', '.join(parties) or 'none'})"
                )
        if "aliases" in raw and not _strings(raw.get("aliases")):
            problems.append(f"{where}: aliases must not be empty")
        named = [("title", t) for t in _strings([raw.get("title")])]
        for kind, name in named + [("alias", a) for a in _strings(raw.get("aliases"))]:
            key = name_key(name)
            if not key:
                problems.append(f"{where}: {kind} {name!r} has no letters or digits")
                continue
            owner = names.setdefault(key, issue_id)
            if owner != issue_id:
                problems.append(f"{where}: {kind} {name!r} is already used by issue {owner!r}")
        for term in _strings(raw.get("keywords")):
            if not tokenize(term):
                problems.append(f"{where}: keyword {term!r} is only stop words and never matches")
    return problems


def _strings(value: object) -> list[str]:
    """The non-empty strings of a list field, whatever else it holds."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item.strip()]


def _pydantic_problems(where: str, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "entry"
        message = error["msg"]
        if error["type"] == "string_pattern_mismatch":
            message = "must be a lower-case slug such as 'chapter-19'"
        elif error["type"] == "string_too_short" and error["loc"][:1] == ("description",):
            message = "must be a sentence saying what the issue is about"
        lines.append(f"{where}: {field}: {message}")
    return lines


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML ({exc})") from exc
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def merge_catalogues(base: Mapping[str, object], override: Mapping[str, object]) -> dict:
    """`override`'s parties and issues over `base`'s, matched by id (new ids are appended)."""
    parties = {**dict(base.get("parties", {})), **dict(override.get("parties", {}))}
    issues = list(base.get("issue", []))
    position = {item.get("id"): i for i, item in enumerate(issues) if isinstance(item, Mapping)}
    for item in list(override.get("issue", [])):
        item_id = item.get("id") if isinstance(item, Mapping) else None
        if item_id in position:
            issues[position[item_id]] = item
        else:
            issues.append(item)
    extra = {k: v for k, v in override.items() if k not in ("parties", "issue", *LIST_KEYS)}
    lists = {}
    for key in LIST_KEYS:
        if key in base or key in override:
            lists[key] = [*list(base.get(key, [])), *list(override.get(key, []))]
    return {**extra, "parties": parties, "issue": issues, **lists}


def catalogue_paths(data_dir: Path | None) -> tuple[Path, ...]:
    """The files a catalogue is read from: the packaged one, then the data dir's, if any."""
    override = data_dir / OVERRIDE_NAME if data_dir else None
    return (PACKAGED_CATALOGUE,) + ((override,) if override and override.is_file() else ())


def load_catalogue(
    data_dir: Path | None = None,
    *,
    packaged: Path = PACKAGED_CATALOGUE,
    with_packaged: bool = True,
) -> Catalogue:
    """The packaged catalogue merged with ``<data_dir>/issues.toml`` when there is one.

    The packaged catalogue is the bundled NAFTA corpus's: a library that does not hold that
    corpus (`with_packaged=False`) has only its own issues and parties (those it found and
    those an admin kept), so no NAFTA issue is listed or offered there."""
    data: dict = _read_toml(packaged) if with_packaged else {"parties": {}, "issue": []}
    sources = [str(packaged)] if with_packaged else []
    override = data_dir / OVERRIDE_NAME if data_dir else None
    if override and override.is_file():
        data = merge_catalogues(data, _read_toml(override))
        sources.append(str(override))
    return catalogue_from(data, sources, require_entries=with_packaged)


def catalogue_from(
    data: Mapping[str, object], sources: list[str], *, require_entries: bool = True
) -> Catalogue:
    catalogue = Catalogue.from_data(
        data, source=" + ".join(sources) or "catalogue", require_entries=require_entries
    )
    catalogue.sources = tuple(sources)
    return catalogue
