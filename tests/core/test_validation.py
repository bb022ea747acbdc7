"""The one rule for free text (docs/reference.md#free-text): at most 2,000 characters, no control character but
newline and tab, no lone surrogate; the problem names the field."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.i18n import language
from core.validation import MAX_TEXT, free_text

CONTROLS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc" and chr(c) not in "\n\t\r"]


def _refused(text: str, field: str = "note") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        free_text(text, field)
    assert [p.path for p in caught.value.problems] == [field]
    return caught.value


def test_text_is_trimmed_and_keeps_newlines_and_tabs() -> None:
    assert free_text("  fixed\r\nthe same\tday \n", "note") == "fixed\nthe same\tday"
    assert free_text(None, "note") == "" and free_text("慢", "comment") == "慢"
    assert free_text("x" * MAX_TEXT, "note") == "x" * MAX_TEXT


def test_2001_characters_a_megabyte_a_nul_and_a_lone_surrogate_are_refused() -> None:
    assert MAX_TEXT == 2000
    assert "at most 2000" in _refused("x" * 2001).problems[0].message
    assert "1000000 characters" in _refused("x" * 1_000_000, "override").problems[0].message
    assert "U+0000" in _refused("x\x00y").problems[0].message
    assert "U+D800" in _refused("x\ud800").problems[0].message
    with language("zh"):
        assert "控制字符" in _refused("x\x00y").problems[0].message
        assert "孤立的代理码位" in _refused("x\udfff").problems[0].message
        assert "最多允许 2000" in _refused("x" * 2001).problems[0].message


def test_an_empty_required_text_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        free_text("   ", "reason", required=True)
    assert caught.value.problems[0].path == "reason"


@given(st.text(max_size=50), st.sampled_from(CONTROLS), st.text(max_size=50))
def test_any_control_character_but_newline_and_tab_is_refused(before: str, control: str, after: str) -> None:
    _refused(before + "x" + control + "x" + after)  # inside the text: at its ends trimming takes some away


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"), max_size=MAX_TEXT))
def test_any_text_of_characters_newline_and_tab_is_taken_trimmed(text: str) -> None:
    assert free_text(text, "note") == text.strip()
