"""Answers as JSON (the stable ``ask --json`` contract) and as text for a person."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from corpus.passages import HEADLINE
from tradetalk.answer import Answer, AnswerSentence, Citation
from tradetalk.errors import QuestionError

# Keys of `Answer.extras` set when an answer drew on several libraries (tenancy.asking): the
# library each cited article came from, and the libraries searched ("global", "server").
LIBRARIES = "libraries"
SEARCHED = "searched"
LIBRARY_NAMES = {"server": "this server's library", "global": "the global library"}


def libraries_of(answer: Answer) -> Mapping[str, str]:
    """Article id -> "server" or "global", for an answer from several libraries; else empty."""
    found = answer.extras.get(LIBRARIES)
    return found if isinstance(found, Mapping) else {}


def shown_library(answer: Answer, article_id: str) -> str | None:
    """Where a cited article is from, worth saying only when more than one library was
    searched (a server's own and the global one); None otherwise."""
    searched = answer.extras.get(SEARCHED) or ()
    if len(searched) < 2:
        return None
    return LIBRARY_NAMES.get(libraries_of(answer).get(article_id, ""))


def answer_json(answer: Answer) -> dict[str, object]:
    """``{"question", "answer", "abstained", "passages": [...]}`` plus citations; keep stable."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "passages": [
            {
                "rank": hit.rank,
                "text": hit.record.text,
                "article_id": hit.article.id,
                "passage_id": hit.record.id,
                "title": hit.article.title,
                "source": hit.article.source,
                "date": hit.article.date,
                "url": hit.article.url,
                "score": round(hit.score, 4),
                "library": hit.article.library,
            }
            for hit in answer.hits
        ],
        "citations": [
            {
                "number": c.number,
                "article_id": c.article_id,
                "passage_id": c.passage_id,
                "passage_ids": list(c.passage_ids),
                "paragraphs": list(c.paragraphs),
                "title": c.title,
                "source": c.source,
                "date": c.date,
                "url": c.url,
                "library": libraries_of(answer).get(c.article_id),
            }
            for c in answer.citations
        ],
        "dates": {word: iso for s in answer.sentences for word, iso in s.dates},
        "confidence": round(answer.confidence, 3),
        "points": answer.points,
        "reason": answer.reason,
    }


def reply_json(ask: Callable[[str], Answer], question: str) -> dict[str, object]:
    """``answer_json`` of one question, or, for a question that can't be asked (empty,
    gibberish, too long), the same shape saying why: what ``ask --json -`` prints per line."""
    try:
        return answer_json(ask(question))
    except QuestionError as exc:
        return {
            "question": question,
            "answer": str(exc),
            "abstained": True,
            "passages": [],
            "error": str(exc),
        }


def sentence_with_dates(sentence: AnswerSentence) -> str:
    """The verbatim sentence with each relative date followed by its ISO date."""
    text = sentence.text
    out, cursor = [], 0
    for word, iso in sentence.dates:
        at = text.find(word, cursor)
        if at < 0:
            continue
        out.append(text[cursor : at + len(word)] + f" ({iso})")
        cursor = at + len(word)
    return "".join(out) + text[cursor:]


def paragraph_label(number: int) -> str:
    """How a citation names where a quote is: "¶3", or "headline" for the title."""
    return "headline" if number == HEADLINE else f"¶{number}"


def source_line(
    number: int,
    title: str,
    source: str,
    date: str | None,
    url: str | None,
    paragraphs: tuple[int, ...] = (),
) -> str:
    """``[1] “Title”, Outlet, 2018-09-11, ¶3, ¶7 <url>``: how every citation reads in text."""
    parts = [f"“{title}”", source]
    if date:
        parts.append(date)
    parts += [paragraph_label(n) for n in paragraphs]
    line = f"[{number}] " + ", ".join(parts)
    return f"{line} <{url}>" if url else line


def citation_line(citation: Citation) -> str:
    return source_line(
        citation.number,
        citation.title,
        citation.source,
        citation.date,
        citation.url,
        citation.paragraphs,
    )


def answer_text(answer: Answer) -> str:
    if answer.abstained:
        return answer.not_covered_message
    if answer.points:  # a broad question: one dated point per line, newest first
        body = "\n".join(
            f"• {s.published or 'undated'}: {sentence_with_dates(s)} [{s.citation}]"
            for s in answer.sentences
        )
    else:
        body = " ".join(f"{sentence_with_dates(s)} [{s.citation}]" for s in answer.sentences)
    lines = [body, ""]
    for c in answer.citations:
        library = shown_library(answer, c.article_id)
        lines.append(citation_line(c) + (f" — from {library}" if library else ""))
    return "\n".join(lines)
