"""Question checks and settings errors: one readable line, naming what is wrong."""

from __future__ import annotations

import pytest

from config.settings import Settings, load_settings
from tradetalk.errors import ConfigError, QuestionError
from tradetalk.questions import check_question, is_follow_up


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please ask a question"),
        ("   \n\t ", "Please ask a question"),
        ("x" * 1001, "1,001 characters"),
        ("??? !!! 123", "couldn't find any words"),
        ("asdfghjkl qwrtzp", "couldn't make sense"),
        ("xkcd zzzz qqqq", "couldn't make sense"),
    ],
)
def test_bad_questions_get_a_clear_message(question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        check_question(question, max_chars=1000)


@pytest.mark.parametrize(
    "question",
    ["What blocks the deal?", "auto tariffs?", "ch 19", "NAFTA", "what about CPTPP", "U.S.?"],
)
def test_real_questions_pass(question: str) -> None:
    assert check_question(question, max_chars=1000) == question


@pytest.mark.parametrize("question", ["Schwarzschild?", "Brzezinski", "who's Mkhwbne"])
def test_a_name_is_not_gibberish(question: str) -> None:
    # A name spelled as one, or a word the articles use, is a question to answer (or to say
    # the articles don't cover), never "I couldn't make sense of that".
    known = {"mkhwbne"}.__contains__
    assert check_question(question, max_chars=1000, known=known) == question


def test_follow_up_detection() -> None:
    assert is_follow_up("and what about dairy?")
    assert is_follow_up("why did they refuse?")
    assert not is_follow_up("What does the U.S. want on Chapter 19 dispute panels?")


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETALK_TOP_K", "lots")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "TRADETALK_TOP_K" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETALK_GUILD_IDS", "1, 2")
    monkeypatch.setenv("TRADETALK_ADMIN_ROLE_IDS", "[3]")
    s = load_settings()
    assert s.guild_ids == [1, 2] and s.admin_role_ids == [3]


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("TRADETALK_TOP_K=3\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().top_k == 3


def test_token_never_shows_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "MTIz.secret-token-value"
    s = Settings(discord_token=secret)
    assert secret not in repr(s) and secret not in str(s) and secret not in str(s.model_dump())
    monkeypatch.setenv("TRADETALK_DISCORD_TOKEN", secret)
    monkeypatch.setenv("TRADETALK_COOLDOWN_RATE", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert secret not in str(caught.value)
