"""Issue discovery and stance attribution, measured on the development sets.

    .venv/bin/python -m bench.briefings [--set us-china] [--articles-root DIR] [--show]

For each set in bench/briefings/<set>/ (the article texts are git-ignored: they are read from
``<articles-root>/<set>/articles``, by default bench/quality/ of this checkout, else of the main
checkout beside it), the articles are ingested into a scratch data dir without the bundled
corpus and with the packaged (NAFTA) issues dropped, and:

* **Discovery.** ``expected_issues.toml`` lists the issues a reader would expect (written
  before discovery ran). A proposal *matches* an expected issue when one of the issue's
  ``match`` terms occurs in the proposal's title or one of its aliases: both are stemmed
  (Snowball, as BM25 does) and each of the term's stems must begin the name's stem at that
  place, in order ("provis" matches "provisions"). Proposals are taken best first; each
  expected issue can be matched once, so a second proposal for an issue already matched
  counts as a miss (a duplicate). Precision =
  proposals that matched a not-yet-matched expected issue / proposals; recall = expected
  issues matched / expected issues.
* **Attribution.** ``stances.jsonl`` holds hand-labelled sentences (article file, paragraph,
  sentence number within the paragraph; the text is recollected from the articles): ``holder``
  is the party whose position the sentence states (null: it states none; a list: a joint
  position, any of them is right), ``speaker`` a name of the person of that party it
  attributes the position to (null: none named; a list: a joint statement, any of them;
  "*": not scored, for joint positions of two parties).
  Holder accuracy = sentences where the first stance the reader finds is the labelled
  holder's (no stance for null); speaker accuracy = the same for the speaker, over sentences
  with a labelled holder and a scored speaker.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from briefings.discovery import Proposal
from briefings.positions import StanceReader
from corpus.articles import read_article
from corpus.passages import split_passages
from retrieval.tokenize import tokenize

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SETS = ("us-china", "cptpp", "iran-nuclear", "us-taliban", "eu-mercosur")


def default_articles_root() -> Path:
    own = ROOT / "bench" / "quality"
    if any((own / s / "articles").is_dir() for s in SETS):
        return own
    return ROOT.parent / "main" / "bench" / "quality"


@dataclass(frozen=True)
class Expected:
    name: str
    match: tuple[tuple[str, ...], ...]  # stemmed terms


def load_expected(set_dir: Path) -> list[Expected]:
    data = tomllib.loads((set_dir / "expected_issues.toml").read_text(encoding="utf-8"))
    return [
        Expected(item["name"], tuple(tuple(tokenize(t)) for t in item["match"]))
        for item in data["issue"]
    ]


def _contains(stems: list[str], term: tuple[str, ...]) -> bool:
    """Do the term's stems start the name's stems at some position, in order ("provis"
    matches "provisions", "technolog transfer" matches "forced technology transfer")?"""
    n = len(term)
    return any(
        all(stems[i + k].startswith(term[k]) for k in range(n)) for i in range(len(stems) - n + 1)
    )


def matches(proposal: Proposal, expected: Expected) -> bool:
    names = (proposal.title, *proposal.aliases)
    return any(
        _contains(list(tokenize(name)), term) for name in names for term in expected.match if term
    )


def score_discovery(proposals: list[Proposal], expected: list[Expected]) -> dict:
    matched: dict[str, str] = {}  # expected name -> proposal title
    rows = []
    for proposal in proposals:
        hit = next((e for e in expected if e.name not in matched and matches(proposal, e)), None)
        dup = hit is None and any(matches(proposal, e) for e in expected)
        if hit:
            matched[hit.name] = proposal.title
        rows.append((proposal, hit.name if hit else ("(duplicate)" if dup else None)))
    precision = sum(1 for _, hit in rows if hit and hit != "(duplicate)") / max(len(rows), 1)
    recall = len(matched) / max(len(expected), 1)
    return {
        "proposals": len(rows),
        "precision": round(precision, 2),
        "recall": round(recall, 2),
        "rows": rows,
        "missed": [e.name for e in expected if e.name not in matched],
    }


def recollect(articles_dir: Path, label: dict) -> str:
    """The labelled sentence's text, from the article file as TradeTalk reads it."""
    article = read_article(articles_dir / label["file"], max_bytes=2_000_000)
    for passage in split_passages(article):
        if passage.paragraph == label["paragraph"]:
            texts = [article.text[s:e] for s, e in passage.sentences]
            if label["sentence"] < len(texts):
                return texts[label["sentence"]]
            label = {**label, "sentence": label["sentence"] - len(texts)}
    raise LookupError(f"{label['file']}: no paragraph {label['paragraph']} sentence")


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def party_of_label(label: str, parties: dict) -> str | None:
    """The found party a labelled holder names: the labels were written before TradeTalk ran,
    in a reader's words ("us", "european-union", "afghan government"), so a label names the
    party whose id, display name or one of whose names it is (case, spaces and punctuation
    ignored); None when no party found has that name."""
    key = _key(label)
    for field in ("id", "name", "aliases"):
        for party_id, party in parties.items():
            names = {"id": [party_id], "name": [party.name], "aliases": list(party.aliases)}
            if any(_key(n) == key for n in names[field]):
                return party_id
    return None


def score_attribution(
    reader: StanceReader,
    parties: dict,
    labels: list[dict],
    texts: list[str],
    parses: dict | None = None,
):
    """`parses`: sentence text -> (its parse, the parses before it in its passage), as the
    index keeps them."""
    holder_ok = speaker_ok = speaker_n = 0
    rows = []
    for label, text in zip(labels, texts, strict=True):
        parse, before = (parses or {}).get(text, (None, ()))
        stances = reader.stances(text, parse, before)
        got = stances[0].party if stances else None
        got_speaker = stances[0].speaker if stances else None
        want = label["holder"]
        if isinstance(want, list):
            want = [party_of_label(w, parties) or f"?{w}" for w in want]
        elif want is not None:
            want = party_of_label(want, parties) or f"?{want}"
        ok = got in want if isinstance(want, list) else got == want
        holder_ok += ok
        s_ok = None
        want_speaker = label.get("speaker")
        if want is not None and want_speaker != "*":
            speaker_n += 1
            wanted = want_speaker if isinstance(want_speaker, list) else [want_speaker]
            s_ok = (got_speaker is None and want_speaker is None) or bool(
                got_speaker and want_speaker and any(w in got_speaker.split() for w in wanted)
            )
            speaker_ok += s_ok
        rows.append((label, text, got, got_speaker, ok, s_ok))
    return {
        "sentences": len(labels),
        "holder_accuracy": round(holder_ok / max(len(labels), 1), 2),
        "speaker_accuracy": round(speaker_ok / max(speaker_n, 1), 2),
        "rows": rows,
    }


def measure_set(name: str, articles_root: Path, show: bool) -> dict:
    from briefings import briefings_for
    from config.settings import Settings
    from tradetalk.engine import Engine

    set_dir = HERE / name
    articles = articles_root / name / "articles"
    if not articles.is_dir():
        raise SystemExit(f"{articles}: no articles (re-collect them per bench/quality/{name})")
    scratch = Path(tempfile.mkdtemp(prefix=f"briefings-{name}-"))
    try:
        empty = scratch / "no-bundled"
        empty.mkdir()
        engine = Engine(Settings(_env_file=None, data_dir=scratch / "data", bundled_dir=empty))
        engine.open()
        paths = sorted(p for p in articles.iterdir() if p.suffix == ".md")
        engine.ingest_articles([read_article(p, max_bytes=2_000_000) for p in paths])
        briefings = briefings_for(engine)
        # A negotiation TradeTalk has never seen: the packaged NAFTA issues are dropped, as
        # an admin of such a library would, so discovery starts from nothing.
        for issue in list(briefings.catalogue().issues):
            briefings.store.drop_issue(issue.id)
        discovery = score_discovery(briefings.proposals(), load_expected(set_dir))
        parties = briefings.parties().parties
        labels = [
            json.loads(line)
            for line in (set_dir / "stances.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        texts = [recollect(articles, label) for label in labels]
        parses = {}
        for record in engine.index.records.iter_passages():
            sentence_parses = record.sentence_parses or ()
            for n, (text, parse) in enumerate(
                zip(record.sentence_texts(), sentence_parses, strict=False)
            ):
                parses.setdefault(text, (parse, sentence_parses[:n]))
        attribution = score_attribution(StanceReader(parties), parties, labels, texts, parses)
        speed = time_on_demand(engine, briefings, load_expected(set_dir), articles_root / name)
        engine.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"== {name}: {len(paths)} articles")
    print(
        f"discovery: {discovery['proposals']} proposals, precision {discovery['precision']}, "
        f"recall {discovery['recall']}"
    )
    if show:
        for proposal, hit in discovery["rows"]:
            print(f"  {proposal.title!r} {list(proposal.aliases)} -> {hit or '-'}")
        print(f"  missed: {discovery['missed']}")
    print(
        f"attribution: {attribution['sentences']} sentences, holder accuracy "
        f"{attribution['holder_accuracy']}, speaker accuracy {attribution['speaker_accuracy']}"
    )
    if show:
        for label, text, got, speaker, ok, s_ok in attribution["rows"]:
            if not ok or s_ok is False:
                print(
                    f"  want {label['holder']}/{label.get('speaker')} got {got}/{speaker}: "
                    f"{text[:150]}"
                )
    print(
        f"on demand: {speed['topics']} expected issues briefed as typed topics, median "
        f"{speed['median_ms']:.0f} ms, slowest {speed['max_ms']:.0f} ms ({speed['empty']} with "
        f"no article); answer p50 {speed['answer_p50_ms']:.0f} ms over {speed['questions']} "
        f"questions; on-demand median / answer p50 = {speed['ratio']:.2f}; the first request "
        f"on a new build also reads it: {speed['scan_ms']:.0f} ms"
    )
    if show:
        for topic, ms, kind, count in speed["rows"]:
            print(f"  {topic!r}: {ms:.0f} ms, {kind}, {count} articles")
    return {"discovery": discovery, "attribution": attribution, "speed": speed}


def typed_topic(expected: Expected) -> str:
    """What a member would type for an expected issue: its name before any explanation
    ("Tariff escalation (Section 301 ...)" -> "Tariff escalation")."""
    return re.split(r"\s*[(:]", expected.name, maxsplit=1)[0].strip()


def time_on_demand(engine, briefings, expected: list[Expected], set_root: Path) -> dict:
    """Seconds for an on-demand briefing on each expected issue typed as a topic (the scan,
    the model and the parser already loaded, as in a running bot), and the answer p50 of the
    same library in the same run (the set's first 40 questions)."""
    from corpus.parsing import parse_one
    from tradetalk.errors import UnknownIssue

    engine.encoder.encode(["warm up"])
    parse_one("warm up")
    # The first request on a new build reads it (parties found, the kept issues' sentences);
    # every briefing after shares that scan until the next ingest.
    fresh = type(briefings)(engine)
    start = time.perf_counter()
    fresh.parties()
    scan_ms = 1000 * (time.perf_counter() - start)
    briefings.parties()
    rows = []
    for item in expected:
        topic = typed_topic(item)
        start = time.perf_counter()
        try:
            briefing = briefings.briefing(topic)
            kind, count = briefing.kind, briefing.article_count
        except UnknownIssue:
            kind, count = "no article", 0
        rows.append((topic, 1000 * (time.perf_counter() - start), kind, count))
    questions = []
    path = set_root / "questions.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[:40]:
            if line.strip():
                questions.append(json.loads(line)["question"])
    answer_ms = []
    for question in questions:
        start = time.perf_counter()
        engine.ask(question)
        answer_ms.append(1000 * (time.perf_counter() - start))
    times = [ms for _, ms, _, _ in rows]
    p50 = statistics.median(answer_ms) if answer_ms else float("nan")
    median = statistics.median(times) if times else float("nan")
    return {
        "scan_ms": scan_ms,
        "topics": len(rows),
        "median_ms": median,
        "max_ms": max(times, default=float("nan")),
        "empty": sum(1 for r in rows if r[2] == "no article"),
        "answer_p50_ms": p50,
        "questions": len(answer_ms),
        "ratio": median / p50 if answer_ms else float("nan"),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.briefings", description=__doc__)
    parser.add_argument("--set", choices=SETS, action="append")
    parser.add_argument("--articles-root", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="List proposals and misses.")
    args = parser.parse_args(argv)
    root = args.articles_root or default_articles_root()
    totals = {"labelled": 0, "holder_ok": 0.0}
    for name in args.set or SETS:
        result = measure_set(name, root, args.show)
        n = result["attribution"]["sentences"]
        totals["labelled"] += n
        totals["holder_ok"] += result["attribution"]["holder_accuracy"] * n
    if totals["labelled"]:
        overall = totals["holder_ok"] / totals["labelled"]
        print(f"== attribution overall: {totals['labelled']} sentences, holder {overall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
