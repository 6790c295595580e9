"""Untrusted text (replies, questions, topics, dataset and model names) escaped for each place a report puts it.

A red-teaming tool handles adversarial strings by design: every string that came from a model, a
dataset or a user goes through one of these on its way into a report, whatever its source.

- `html_text`: HTML text and attribute values (quotes too), and SVG text inside the page.
- `xml_text`: SVG text in a standalone .svg file (XML forbids most control characters: they become U+FFFD).
- `script_json`: JSON inside a `<script type="application/json">` element: no `<`, `>` or `&` at all
  (so no reply can close the element or open a comment), and U+2028 / U+2029 escaped.
- `markdown_cell`: a GitHub-flavoured Markdown table cell (summary.md): no pipe, backtick, HTML or
  emphasis can take effect, newlines kept as character references.
- `latex_text`: LaTeX text (summary.tex): every special character escaped, so no name can run a
  command (`\\input`, `\\write18`, ...).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

# characters XML 1.0 does not allow (C0 controls other than tab, newline, carriage return; surrogates; U+FFFE / U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_JSON_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# what can take effect inside a table cell or a line of text: escapes, the cell's pipe, code, emphasis, links and
# images (both open with `[`: an interval's closing `]` and parentheses stay as they are, readable), raw HTML and
# autolinks, entities, strikethrough, math (GitHub renders $...$); block syntax cannot start there
_MARKDOWN_SPECIAL = frozenset("\\|`*_[<>&~$")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def html_text(text: Any) -> str:
    """`text` for HTML element content or a quoted attribute value (and SVG inside an HTML page).

    A carriage return goes as a character reference: the HTML parser turns a raw one into a line feed.
    """
    return html.escape(str(text), quote=True).replace("\r", "&#13;")


def xml_text(text: Any) -> str:
    """`text` for XML (a standalone SVG file): escaped, the characters XML forbids shown as U+FFFD, a carriage
    return as a character reference (XML reads a raw one as a line feed)."""
    return html.escape(_NOT_XML.sub("\ufffd", str(text)), quote=True).replace("\r", "&#13;")


def script_json(value: Any) -> str:
    """`value` as JSON that is safe inside a `<script>` element: `<`, `>`, `&`, U+2028, U+2029 as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_UNSAFE[m.group()], text)


def markdown_cell(text: Any) -> str:
    """`text` for one cell of a Markdown table: it reads back as the same text, and no markup in it takes effect.

    Each character that could take effect there is backslash-escaped (CommonMark allows it for every
    ASCII punctuation character, and GitHub's tables honour an escaped `|`); line breaks, tabs and white
    space at the cell's edges become numeric character references (a cell is one line, and its edges are
    trimmed). Other control characters stay as they are (CommonMark reads a reference to one as U+FFFD).
    """
    out = []
    value = str(text)
    for i, char in enumerate(value):
        if char in _MARKDOWN_SPECIAL:
            out.append("\\" + char)
        elif char in "\n\r\t" or (char.isspace() and not _CONTROL.match(char) and (i == 0 or i == len(value) - 1)):
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def markdown_text(text: Any) -> str:
    """Untrusted words inside a Markdown paragraph (a judge's or a model's name): the same escaping as a cell."""
    return markdown_cell(text)


def latex_text(text: Any) -> str:
    """`text` as LaTeX text (pylatexenc): `\\ { } $ & # ^ _ % ~` and the rest escaped; line breaks and controls as
    spaces; a straight double quote becomes TeX's closing quote (`''`), as typeset text has it."""
    from pylatexenc.latexencode import RULE_CALLABLE, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

    global _LATEX
    if _LATEX is None:
        # ASCII's special characters by pylatexenc's table; other characters as they are (LaTeX reads UTF-8, and
        # pylatexenc's macros for some of them read back as other characters)
        keep = UnicodeToLatexConversionRule(RULE_CALLABLE, lambda s, pos: (1, s[pos]) if ord(s[pos]) > 127 else None)
        _LATEX = UnicodeToLatexEncoder(conversion_rules=[keep, "defaults"], non_ascii_only=False, unknown_char_policy="keep",
                                       unknown_char_warning=False, replacement_latex_protection="braces")
    plain = _CONTROL.sub(" ", str(text)).replace("\n", " ").replace("\r", " ")
    # `--` and `---` (dashes) and !` ?` (inverted marks) are ligatures in TeX: `{}` keeps the characters as typed
    return re.sub(r"([-!?])(?=[-`])", r"\1{}", _LATEX.unicode_to_latex(plain))


_LATEX: Any = None


def markdown_table(header: list[Any], rows: list[list[Any]]) -> list[str]:
    """A Markdown table's lines, every cell escaped: the one way a summary.md table is written."""
    return (["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows])
