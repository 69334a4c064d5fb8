"""Text from outside (files, links, model folders) made safe to show in a page that renders markdown.

Streamlit renders markdown in messages, captions, headers, widget labels, radio options,
expander and tab labels, metric labels and values, progress and spinner texts and `help`
tooltips: a column named `![i](http://host/x)` would make every visitor's browser fetch that
address, and a link whose `?model=` reads `[Session expired](http://host/phish)` would put a
clickable link inside an app warning. `plain` turns any such value into text that renders
exactly as written, in two steps:

- every ASCII punctuation character gets CommonMark's backslash escape, which stops links,
  images, emphasis, HTML, `$math$`, `:red[...]` colour directives and `:material/...:` icons;
- escapes only act while markdown is parsed, and Streamlit runs a few plugins on the parsed
  text afterwards: GFM's literal autolinks (`http://host.com/x`, `www.host.com`,
  `name@host.com`), emoji and `:streamlit:` shortcodes and typographic arrows (`->`, `<=`, `--`).
  An invisible WORD JOINER (U+2060) inside each of those patterns (after a colon or an at sign,
  between `www` and its dot, between the two characters of an arrow) stops them.

Both steps were checked in a real browser on Streamlit 1.67. Line breaks become spaces, and a
long value is cut with an ellipsis so that a 100,000-character query value cannot fill the page.

Select boxes and multiselects show their options as plain text, and so do tables and chart
titles: give them `shorten`, never `plain`, or the backslashes would show.
"""

from __future__ import annotations

import re

# A column name, category or model name longer than this is cut; enough for any real one.
MAX_CHARS = 80
# A whole message (an error naming a column, say) is cut at this length.
MAX_MESSAGE_CHARS = 1_000
ELLIPSIS = "…"
# Invisible, and unlike a zero-width space it never allows a line break.
WORD_JOINER = "\u2060"
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")
# Where a joiner goes: after `:` or `@` (autolinks, e-mail links, shortcodes), inside `www.`
# (autolinks), and between the two characters of `->`, `<-`, `--`, `>=`, `<=`, `~=`.
_TEXT_PATTERNS = re.compile(r"(?<=[:@])(?=\S)|(?i:(?<=www)(?=\.))|(?<=[-<>~])(?=[-=>])")


def shorten(value: object, max_chars: int | None = MAX_CHARS) -> str:
    """`value` as one line of at most `max_chars` characters (None: any), cut with an ellipsis."""
    text = _BREAKS.sub(" ", str(value))
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)] + ELLIPSIS


def plain(value: object, max_chars: int | None = MAX_CHARS) -> str:
    """`value` shortened (see `shorten`) so that Streamlit's markdown shows it as written.

    The result reads the same as `shorten(value, max_chars)`: the backslashes are consumed by
    the markdown parser and the joiners are invisible.
    """
    joined = _TEXT_PATTERNS.sub(WORD_JOINER, shorten(value, max_chars))
    return _PUNCTUATION.sub(r"\\\1", joined)
