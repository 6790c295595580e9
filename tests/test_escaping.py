"""Escaping for every place a report puts untrusted text: any string reads back as itself, and no markup in it takes effect.

Property-based (hypothesis): HTML text and attributes through html5lib (the HTML standard's parser),
JSON inside a `<script>` element through `json`, a Markdown table cell through markdown-it-py
(CommonMark with GitHub's tables), LaTeX through pylatexenc's reader.
"""

from __future__ import annotations

import json
import unicodedata

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import LatexMacroNode, LatexWalker

from redinstruct._escape import html_text, latex_text, markdown_cell, markdown_table, script_json, xml_text

# any text a model or a file can hold, but U+0000 (the HTML parser drops it, CommonMark replaces it) and
# lone surrogates (not encodable as UTF-8, so no file or reply carries them)
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80)
# strings written to break out of each context, mixed into the generated ones
ATTACKS = st.sampled_from([
    '"><script>window.__pwned=1</script>', "</script><script>alert(1)</script>", "<!--<script>", "\u2028\u2029",
    "<img src=x onerror=alert(1)>", "' onmouseover='alert(1)", "| a | b |", "[x](javascript:alert(1))", "`code`", "**bold** _it_",
    "\\input{/etc/passwd}", "\\write18{rm -rf /}", "$x$ 100% #1 a_b ^c ~d {e} & f", "&amp; &#60; &lt;", "\r\n\r", "  edge  ",
])
ANY = st.one_of(TEXT, ATTACKS, st.tuples(TEXT, ATTACKS, TEXT).map("".join))
DANGEROUS_MACROS = {"input", "include", "write", "write18", "openin", "openout", "immediate", "def", "edef", "gdef", "xdef", "let",
                    "catcode", "csname", "usepackage", "documentclass", "read", "newcommand", "renewcommand", "special", "url", "href"}


def _dom(markup: str) -> object:
    return html5lib.parse(f"<!DOCTYPE html><html><body>{markup}</body></html>", namespaceHTMLElements=False)


@settings(max_examples=300, deadline=None)
@given(ANY)
def test_html_text_and_attribute_read_back_as_the_same_string(text: str) -> None:
    document = _dom(f'<p title="{html_text(text)}">{html_text(text)}</p>')
    (p,) = document.iter("p")
    assert p.get("title") == text
    assert (p.text or "") == text and len(list(p)) == 0, "no element came out of the text"


@settings(max_examples=200, deadline=None)
@given(ANY)
def test_svg_text_is_well_formed_xml(text: str) -> None:
    import xml.etree.ElementTree as ElementTree

    element = ElementTree.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg"><text>{xml_text(text)}</text></svg>')
    shown = element[0].text or ""
    assert len(element[0]) == 0 and len(shown) == len(text)  # characters XML forbids are shown as U+FFFD, one for one


@settings(max_examples=300, deadline=None)
@given(st.recursive(ANY | st.integers() | st.none(), lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY, children, max_size=4),
                    max_leaves=12))
def test_script_json_round_trips_and_cannot_leave_its_element(value: object) -> None:
    text = script_json(value)
    assert json.loads(text) == value
    assert not any(c in text for c in "<>&\u2028\u2029")
    document = _dom(f'<script type="application/json" id="d">{text}</script><p id="after">x</p>')
    (script,) = [e for e in document.iter("script")]
    assert json.loads(script.text) == value and [e.get("id") for e in document.iter("p")] == ["after"]


def _cell_text(markdown: str) -> tuple[str, set[str]]:
    """The second row's first cell of a rendered table: its text and the kinds of inline markup in it."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    cells = [t for t in tokens if t.type == "inline"]
    inline = cells[-2]  # header cell, then the body row's two cells
    kinds = {child.type for child in inline.children or []} - {"text"}
    return "".join(child.content for child in inline.children or [] if child.type == "text"), kinds


# CommonMark reads a control character's reference as U+FFFD, and trims some of them at a cell's edges: left out
MARKDOWN_TEXT = ANY.filter(lambda text: not any(ord(c) < 32 and c not in "\t\n\r" or 0x7F <= ord(c) <= 0x9F for c in text))


@settings(max_examples=300, deadline=None)
@given(MARKDOWN_TEXT)
def test_markdown_cell_reads_back_and_takes_no_effect(text: str) -> None:
    lines = markdown_table(["h", "after"], [[text, "end"]])
    body, kinds = _cell_text("\n".join(lines) + "\n")
    assert kinds == set(), "no emphasis, code, link, image or HTML came out of the text"
    assert body == text
    assert lines[-1].endswith("| end |"), "the cell stayed one cell"


@settings(max_examples=200, deadline=None)
@given(ANY)
def test_latex_reads_back_and_runs_no_command(text: str) -> None:
    escaped = latex_text(text)
    expected = text.replace("\n", " ").replace("\r", " ")
    expected = "".join(" " if (ord(c) < 32 and c != "\t") or c == "\x7f" else c for c in expected)
    shown = LatexNodes2Text().latex_to_text(escaped)
    if "\u02c6" not in text:  # pylatexenc reads \textasciicircum back as the modifier letter
        shown = shown.replace("\u02c6", "^")
    quotes = str.maketrans("", "", "\"'`\u201c\u201d\u2018\u2019")  # TeX typesets straight quotes as curly ones
    # pylatexenc's reader NFC-normalises what it reads (a CJK compatibility ideograph comes back as its unified twin)
    assert unicodedata.normalize("NFC", shown.translate(quotes)) == unicodedata.normalize("NFC", expected.translate(quotes))
    nodes, _, _ = LatexWalker(escaped).get_latex_nodes()
    stack, macros = list(nodes), set()
    while stack:
        node = stack.pop()
        if isinstance(node, LatexMacroNode):
            macros.add(node.macroname)
        stack += [child for child in getattr(node, "nodelist", None) or [] if child is not None]
    assert not macros & DANGEROUS_MACROS


@pytest.mark.parametrize("text", ["| a |", "x\ny", " lead", "trail ", "`c`", "<b>", "&amp;"])
def test_markdown_cells_are_readable_and_exact(text: str) -> None:
    """Hand-picked cases of the property above, readable when a change breaks one."""
    body, kinds = _cell_text("\n".join(markdown_table(["h", "after"], [[text, "end"]])) + "\n")
    assert (body, kinds) == (text, set())
    assert markdown_cell("75.0% [50.5-89.8] (n=16)") == r"75.0% \[50.5-89.8] (n=16)", "intervals stay readable"
