"""How a follow-up is read against the exchange before it (`tradetalk.follow_ups`): the text it
is asked as, the context passed to the engine, and the earlier sentences it may not repeat.
Pure: no engine, no model."""

from __future__ import annotations

from tradetalk.answer import Answer, AnswerSentence, Citation
from tradetalk.follow_ups import (
    ONLY_REPEATS,
    Exchange,
    FollowUp,
    read_follow_up,
    without_repeats,
)

MEETING = Exchange(
    "Who did Freeland meet in Washington?",
    ("Freeland said Tuesday after meeting Lighthizer in Washington that talks were cordial.",),
)


def test_a_question_that_leans_on_nothing_is_asked_as_it_is() -> None:
    asked = read_follow_up("What does the U.S. want on Chapter 19 dispute panels?", MEETING)
    assert asked.question == "What does the U.S. want on Chapter 19 dispute panels?"
    assert asked.previous is None and asked.seen == ()
    assert read_follow_up("and dairy?", None) == FollowUp("and dairy?", standing="and dairy?")


def test_a_new_speaker_replaces_the_earlier_names_instead_of_leaning_on_them() -> None:
    asked = read_follow_up("and what did Trump say?", MEETING)
    assert asked.question == "What did Trump say?"
    # Freeland and Washington would pull the earlier answer back above Trump's own words.
    assert asked.previous is None and asked.seen == ()
    assert asked.standing == "What did Trump say?"


def test_a_new_speaker_keeps_the_earlier_dates() -> None:
    asked = read_follow_up("and what did Trump say?", Exchange("What happened in August?"))
    assert asked.previous == "August"


def test_a_name_alone_takes_the_earlier_speakers_place() -> None:
    asked = read_follow_up("and Freeland?", Exchange("What did Kudlow say?"))
    assert asked.question == "What did Freeland say?" and asked.previous is None


def test_a_new_actor_keeps_the_earlier_topic_but_not_its_actors() -> None:
    asked = read_follow_up(
        "and what does Canada want?", Exchange("What does the U.S. want on Chapter 19?")
    )
    assert asked.question == "What does Canada want?"
    assert asked.previous is not None
    assert "Chapter 19" in asked.previous and "U.S" not in asked.previous


def test_an_elliptical_follow_up_leans_on_the_earlier_question_and_its_answer() -> None:
    asked = read_follow_up("why?", MEETING)
    assert asked.question == "why?" and asked.previous == MEETING.question
    assert asked.seen == MEETING.sentences
    assert asked.standing == "Who did Freeland meet in Washington? why?"
    long_chain = read_follow_up("and autos?", Exchange("word " * 300)).standing
    assert len(long_chain) <= 600 and long_chain.endswith("and autos?")


def _answer(*sentences: tuple[str, int]) -> Answer:
    numbers = sorted({n for _, n in sentences})
    citations = tuple(
        Citation(n, f"a{n}", (f"a{n}#p1",), (1,), f"Title {n}", "Outlet", None, None, ("q",))
        for n in numbers
    )
    return Answer(
        question="q",
        abstained=False,
        sentences=tuple(AnswerSentence(text, n) for text, n in sentences),
        citations=citations,
        hits=(),
        confidence=1.0,
    )


def test_sentences_the_member_just_read_do_not_answer_a_why() -> None:
    seen = MEETING.sentences[0]
    reason = "She went because the talks had stalled over dairy."
    asked = read_follow_up("why?", MEETING)
    kept = without_repeats(_answer((seen, 1), (reason, 2)), asked)
    assert [s.text for s in kept.sentences] == [reason]
    assert [(c.number, c.article_id) for c in kept.citations] == [(1, "a2")]
    assert kept.sentences[0].citation == 1
    nothing = without_repeats(_answer((seen, 1)), asked)
    assert nothing.abstained and nothing.reason == ONLY_REPEATS and not nothing.sentences


def test_a_repeated_sentence_stays_when_it_holds_the_follow_ups_own_words() -> None:
    both = "The U.S. wants to remove Chapter 19 and Canada wants to keep it."
    earlier = Exchange("What does the U.S. want on Chapter 19?", (both, "The talks resume."))
    asked = read_follow_up("and Canada?", earlier)
    kept = without_repeats(_answer((both, 1), ("The talks resume.", 1)), asked)
    assert [s.text for s in kept.sentences] == [both]


def test_a_repeated_sentence_with_the_asked_date_answers_when() -> None:
    dated = "Whitlock walked out of the talks on Wednesday."
    asked = read_follow_up("when?", Exchange("Who walked out of the talks?", (dated,)))
    assert without_repeats(_answer((dated, 1)), asked).sentences[0].text == dated
