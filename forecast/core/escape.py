"""Text leaving the program: one escaping rule per sink.

Anything a user wrote (titles, names, descriptions, ids, policy fields, file names,
calibration documents, the values an error message quotes) may hold markup, control
characters or line breaks. Each way out of the program has one function here, applied to
the whole document where the text is written, not field by field:

- **terminal** (:func:`terminal`): control characters, bidirectional overrides and
  zero-width characters shown as escapes (:func:`printable`), Rich markup escaped;
- **Markdown** (:func:`markdown`, :func:`markdown_code`, :func:`markdown_document`): one
  line, every character that could start markup backslash-escaped (HTML, links, images,
  emphasis, code, table pipes, headings and lists at a line's start, autolinks of bare
  URLs, ``$`` maths), code spans fenced by more backticks than they hold;
- **HTML** (:func:`html`): printable and entity-escaped;
- **CSV** (:func:`csv_cell`): printable on one line, and a cell a spreadsheet would read
  as a formula (``=``, ``+``, ``-``, ``@``) starts with ``'``;
- **matplotlib** (:func:`plot_text`): printable and cut to a length; the figures are drawn
  with mathtext off, so ``$`` is a dollar sign (:mod:`forecast.report.plots`).

Pure functions of strings (and of documents of dicts, lists and strings).
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Unicode categories never sent anywhere as they are: control (C0, DEL, C1), format
#: (bidirectional overrides, zero-width), surrogates, private use, unassigned, and the line
#: and paragraph separators.
_HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn")


def printable(text: object, limit: int | None = None, keep_newlines: bool = False) -> str:
    """``text`` safe to show anywhere: one line, no control or invisible characters.

    Control characters (C0, DEL, C1), line and paragraph separators, format characters
    (bidirectional overrides, zero-width spaces) and lone surrogates (undecodable bytes of
    a file name) become backslash escapes; ``keep_newlines`` keeps ``\\n`` and ``\\t``
    (multi-line text in a table). Text longer than ``limit`` characters is cut with
    ``...``.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if keep_newlines and ch in "\n\t":
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in _HIDDEN:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def excerpt(value: object, limit: int = 40) -> str:
    """A short quotation of a value from a file, as ``repr`` writes it (a string quoted,
    its control characters escaped), cut to ``limit`` characters: all an error message
    may echo of something it did not expect."""
    shown = printable(repr(value))
    if len(shown) > limit:
        shown = shown[: max(limit - 4, 1)] + "..." + (shown[0] if shown[0] in "'\"" else "")
    return shown


def excerpts(values, most: int = 3) -> str:
    """The first ``most`` of ``values`` as :func:`excerpt` quotes them, joined (``...``
    for the rest): the file names a message lists."""
    values = list(values)
    return ", ".join(excerpt(v) for v in values[:most]) + (" ..." if len(values) > most else "")


# --------------------------------------------------------------------------- terminal


def terminal(value, keep_newlines: bool = True):
    """``value`` (a string, or a document of dicts, lists and strings) ready to print with
    Rich: each string :func:`printable` and its markup escaped, so ``oops [/]`` or
    ``[link=...]`` prints as written and no escape sequence reaches the terminal. Keys are
    escaped too; numbers and other values are unchanged. ``keep_newlines=False`` for text
    that must stay on one line (a message, a file name)."""
    from rich.markup import escape

    if isinstance(value, str):
        return escape(printable(value, keep_newlines=keep_newlines))
    if isinstance(value, dict):
        return {terminal(k, keep_newlines): terminal(v, keep_newlines) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(terminal(v, keep_newlines) for v in value)
    return value


# --------------------------------------------------------------------------- Markdown


class Markdown(str):
    """Text already escaped for Markdown (:func:`markdown`), with the text it came from
    (``raw``): escaping it again changes nothing, and :func:`markdown_code` quotes the
    original."""

    raw: str

    def __new__(cls, escaped: str, raw: str):
        obj = super().__new__(cls, escaped)
        obj.raw = raw
        return obj


#: Characters escaped wherever they stand: backslash, code, emphasis, links and images,
#: raw HTML and autolinks, table pipes, strikethrough, entities, maths, mentions.
_MD_ANYWHERE = re.compile(r"([\\`*\[\]<>|~&$@])")
#: An underscore at a word's edge (one inside a word, as in ``compare_with``, is text).
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
#: A bare URL or ``www.`` name, which GitHub-style renderers make a live link.
_MD_AUTOLINK = re.compile(r"(?i):(?=//)|(?<=www)\.")
#: What starts a block at a line's beginning: an ATX heading (``#`` then a space), a list
#: item (``-``, ``+`` or ``1.``/``1)`` then a space), or a setext underline or thematic
#: break (a line of ``-`` or ``=`` only); ``>``, ``*`` and ``_`` are escaped anywhere.
_MD_LINE_START = re.compile(r"^(?:#+|[-+]|\d{1,9}[.)])(?=\s|$)|^[-=][-= ]*$")


#: A run of ``#`` ending the text after a space: a heading's closing sequence, dropped.
_MD_CLOSING_HASHES = re.compile(r"(?:(?<=\s)|^)#+$")


def markdown(text: object, limit: int | None = None) -> Markdown:
    """``text`` as Markdown inline text that shows exactly as written, anywhere: in a
    paragraph, a heading, a list item or a table cell. One line (runs of white space
    become one space), :func:`printable`, and every character that could start markup
    backslash-escaped. Escaping twice changes nothing."""
    if isinstance(text, Markdown):
        return text
    raw = str(text)
    flat = printable(" ".join(raw.split()), limit)
    out = _MD_ANYWHERE.sub(r"\\\1", flat)
    out = _MD_UNDERSCORE.sub(r"\\_", out)
    out = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(0), out)
    out = _MD_LINE_START.sub(_line_start, out, count=1)
    out = _MD_CLOSING_HASHES.sub(lambda m: m.group(0).replace("#", "\\#"), out)
    return Markdown(out, raw)


def _line_start(match: re.Match) -> str:
    """Escape the character that makes ``match`` a block marker (the last of ``1.``)."""
    text = match.group(0)
    if text[0].isdigit():
        return f"{text[:-1]}\\{text[-1]}"
    return f"\\{text}"


def markdown_code(text: object, in_table: bool = False) -> str:
    """``text`` as an inline code span, whatever backticks it holds: the fence is one
    backtick longer than the longest run inside, padded with a space (CommonMark strips
    one from each side). One line and printable; ``in_table`` escapes ``|`` (a table
    cell's pipe must be escaped even inside code). Empty text gives an empty string."""
    raw = text.raw if isinstance(text, Markdown) else str(text)
    code = printable(" ".join(raw.split()))
    if not code:
        return ""
    if in_table:
        code = code.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    if longest or code.startswith(" ") or code.endswith(" "):
        return f"{fence} {code} {fence}"
    return f"{fence}{code}{fence}"


def markdown_document(value):
    """Every string of a document (keys too) escaped with :func:`markdown`: what a
    Markdown renderer does to its input before it adds markup of its own. Numbers,
    booleans and None are unchanged; escaped text is not escaped again."""
    if isinstance(value, str):
        return markdown(value)
    if isinstance(value, dict):
        return {markdown_document(k): markdown_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [markdown_document(v) for v in value]
    return value


# --------------------------------------------------------------------------- HTML


def html(text: object, limit: int | None = None) -> str:
    """``text`` as HTML text (an element's content or an attribute's value): printable,
    one line, and entity-escaped."""
    return html_lib.escape(printable(text, limit), quote=True)


# --------------------------------------------------------------------------- CSV

#: What a spreadsheet reads as the start of a formula in a cell.
_FORMULA_START = ("=", "+", "-", "@")


def csv_cell(value):
    """A value as a CSV cell: None is empty, numbers are unchanged, text is printable on
    one line, and text a spreadsheet would take for a formula (``=1+1``, ``@SUM(...)``,
    ``-2+3``; not a plain number such as ``-0.5``) starts with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = printable(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- matplotlib

#: Longest text drawn in a figure (a longer title is cut: laying out a megabyte of text
#: takes minutes).
MAX_PLOT_CHARS = 1000


def plot_text(value, limit: int = MAX_PLOT_CHARS):
    """``value`` (a string, or a document of dicts, lists and strings) as text for a
    figure: printable (line breaks kept, tabs as spaces) and cut to ``limit`` characters.
    Keys are left as they are (a figure draws values). The figures are drawn with mathtext
    off, so ``$`` needs no escape."""
    if isinstance(value, str):
        return printable(value.replace("\t", " "), limit, keep_newlines=True)
    if isinstance(value, dict):
        return {k: plot_text(v, limit) for k, v in value.items()}
    if type(value) in (list, tuple):  # not a named tuple of arrays
        return type(value)(plot_text(v, limit) for v in value)
    return value
