"""Answering from several libraries at once: a server's question reads its own articles and the
global library's. Each library is searched with its own engine (the question encoded once),
the results merged (`retrieval.multi_search`), and the answer composed from the merged result
by the same pipeline as one library's (`tradetalk.answer.compose_answer`, unchanged)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.index import PassageIndex
from retrieval.multi_search import LibraryResult, article_libraries, merge_results
from tradetalk.answer import Answer, compose_answer
from tradetalk.engine import Engine, coverage_of, years_of
from tradetalk.render import LIBRARIES, SEARCHED


@dataclass
class CoverageCache:
    """What several libraries cover, worked out once per set of builds (at 100k articles
    building it costs more than the search, `Engine.coverage_summary`)."""

    key: tuple[PassageIndex, ...] = ()
    text: str = ""

    def of(self, indexes: tuple[PassageIndex, ...]) -> str:
        if self.key != indexes:
            articles = [a for index in indexes for a in index.articles.values()]
            articles.sort(key=lambda a: (a.date or "", a.id))
            self.text, self.key = coverage_of(articles), indexes
        return self.text


def ask_libraries(
    libraries: Sequence[tuple[str, Engine]],
    question: str,
    *,
    previous: str | None = None,
    coverage: CoverageCache | None = None,
) -> Answer:
    """Answer `question` from `libraries` (label, engine), the first of which (the global
    library) sets the policy, the question limits and the date. A library other than the first
    with no articles is left out, so a server without articles of its own is answered from the
    global library alone, exactly as the global library answers. Raises `QuestionError`."""
    (_, lead), *_ = libraries
    text = lead.check(question)
    with contextlib.ExitStack() as stack:
        leased = [
            (label, engine, stack.enter_context(engine.leased())) for label, engine in libraries
        ]
        leased = leased[:1] + [part for part in leased[1:] if part[2].articles]
        if len(leased) == 1:
            years = None  # the lead's own, as it answers alone
        else:
            years = years_of((a for *_, i in leased for a in i.articles.values()), lead.today())
        analysis = lead.analyse(text, previous, years=years)
        vector = lead.query_vector(text, previous)
        pool = lead.pool_size
        parts = [
            LibraryResult(
                label,
                index,
                engine.search_index(index, text, pool, vector=vector, previous=previous),
            )
            for label, engine, index in leased
        ]
        merged = merge_results(parts, pool)
        if len(leased) == 1:
            summary = lead.coverage_summary()
        else:
            summary = (coverage or CoverageCache()).of(tuple(i for *_, i in leased))
    answer = compose_answer(merged, analysis, lead.answer_policy, coverage=summary)
    searched = tuple(label for label, *_ in leased)
    extras = {**answer.extras, LIBRARIES: article_libraries(merged), SEARCHED: searched}
    return replace(answer, extras=extras)
