"""Outside text shown literally: no markdown, link, image, shortcode or HTML survives `plain`."""

from __future__ import annotations

import re

import pytest

from impactiq.present.text import ELLIPSIS, MAX_CHARS, WORD_JOINER, plain, shorten

PAYLOADS = [
    "![i](http://host/x)",
    "[Session expired: sign in again](http://host/phish)",
    "<img src=http://host/x>",
    "http://host.com/x",
    "www.host.com",
    "WWW.HOST.COM",
    "name@host.com",
    ":red[alert] $x^2$ **bold** `code` # head",
    ":smile: :streamlit: :material/home: :+1:",
    "a -> b <- c <-> d -- e >= f <= g ~= h",
    "&amp; &#60; \\* | ~~x~~ [^1] _y_",
]


def _as_read(escaped: str) -> str:
    """What a reader sees: markdown consumes one backslash per escape; the joiners are invisible."""
    return re.sub(r"\\(.)", r"\1", escaped).replace(WORD_JOINER, "")


def _parsed_text(escaped: str) -> str:
    """The text a markdown parser hands to Streamlit's plugins: escapes resolved, joiners kept."""
    return re.sub(r"\\(.)", r"\1", escaped)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_punctuation_character_is_escaped(payload):
    escaped = plain(payload)
    assert _as_read(escaped) == payload
    assert not re.search(r"(?<!\\)[!\[\]()<>:`*$#&|~_@=.-]", escaped.replace("\\\\", ""))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_plugin_pattern_survives_in_the_parsed_text(payload):
    # Streamlit's plugins that run after parsing, where escapes no longer count (GFM literal
    # autolinks, emoji and :streamlit: shortcodes, typographic arrows).
    text = _parsed_text(plain(payload))
    assert not re.search(r"(https?:\/\/|www(?=\.))[-.\w]+", text, re.IGNORECASE)
    assert not re.search(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", text)
    assert not re.search(r":[\w+-]+:", text)
    assert not re.search(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)", text)


def test_plain_text_is_left_readable():
    assert plain("visit") == "visit"
    assert plain("history segment") == "history segment"
    assert plain("rate 4.5%") == "rate 4\\.5\\%"


def test_long_values_are_cut_with_an_ellipsis():
    long = "a" * 100_000
    assert shorten(long) == "a" * (MAX_CHARS - 1) + ELLIPSIS
    assert len(plain(long)) == MAX_CHARS
    assert shorten("short") == "short"
    assert shorten(long, None) == long
    assert _as_read(plain("![i](" * 30_000)) == shorten("![i](" * 30_000)


def test_line_breaks_become_spaces():
    assert shorten("a\nb\r\nc\td") == "a b c d"
