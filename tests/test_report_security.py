"""A report is safe to open: a real run whose every untrusted string is an injection attempt renders as text.

The run goes through RED-EVAL against the test server: the dataset file's name, the models'
display names, the topics, the questions and the replies carry strings written to break out of
HTML text, attributes, the samples' JSON, SVG, Markdown and LaTeX. In headless Chromium none of
their scripts runs (they would set `window.__pwned`), the page's own script does (the sample browser
lists every sample, with its exact text) and nothing violates the Content-Security-Policy.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import chromium_browser
from markdown_it import MarkdownIt

from redinstruct._testing.openai_server import OpenAICompatibleServer
from redinstruct.redeval import EvalConfig, run_redeval
from redinstruct.report import write_report

PWN = "window.__pwned=(window.__pwned||[]).concat"
ATTACKS = [
    f'"><script>{PWN}("html")</script>',
    f"<img src=x onerror={PWN}('img')>",
    f"' onmouseover='{PWN}(\"attr\")' x='",
    f"</script><script>{PWN}('json')</script><!--<script>",
    f"</text><script>{PWN}('svg')</script>",
    "| cell | [link](javascript:alert(1)) `code` **b** <b>html</b>",
    "\\input{/etc/passwd} \\write18{touch /tmp/x} $x$ 100% #1 a_b ^c ~d {e} &",
    "\u2028\u2029 line\nbreak",
]
MODELS = [f"m{i} {attack}" for i, attack in enumerate((ATTACKS[0], ATTACKS[2], ATTACKS[6]))]  # HTML, an attribute, LaTeX


def _dataset(folder: Path) -> Path:
    """A labelled CSV named with an injection, whose topics and questions are injections too."""
    path = folder / f'bank"><img src=x onerror={PWN}(\'file\')>.csv'
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "topic", "subtopic"])
        for i, attack in enumerate(ATTACKS):
            writer.writerow([f"q{i} {attack}", f"t{i % 3} {ATTACKS[(i + 1) % len(ATTACKS)]}", attack])
    return path


def test_an_injected_run_renders_as_text_with_the_strict_policy(tmp_path: Path, openai_server: OpenAICompatibleServer) -> None:
    from selenium.webdriver.common.by import By

    openai_server.responder = lambda prompt, body: f"Step 1: {ATTACKS[len(prompt) % len(ATTACKS)]} (reply to {prompt[-12:]})"
    log_dir = tmp_path / "run"
    result = run_redeval(EvalConfig(models=["openai-api/local/a", "openai-api/local/b", "openai-api/local/c"], names=MODELS,
                                    datasets=[str(_dataset(tmp_path))], templates=["standard"], judge="refusal", compliance_judge="refusal",
                                    log_dir=str(log_dir), display="none"), echo=lambda message: None)
    assert result.generated == len(MODELS) * len(ATTACKS)
    samples = [json.loads(line) for line in (log_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    html, summary = write_report([log_dir], tmp_path / "report" / "report.html", figures=tmp_path / "figures")
    text = html.read_text(encoding="utf-8")
    assert "'unsafe-inline'" not in text and "'unsafe-eval'" not in text and "default-src 'none'" in text

    browser = chromium_browser()
    try:
        browser.get(html.as_uri())
        assert browser.execute_script("return window.__pwned === undefined"), browser.execute_script("return window.__pwned")
        shown = browser.find_elements(By.CSS_SELECTOR, "#samples .sample")
        assert len(shown) == len(samples), "the page's own script ran and listed every sample"
        questions = browser.execute_script("return [...document.querySelectorAll('#samples .question')].map(e => e.textContent)")
        assert sorted(questions) == sorted(s["question"] for s in samples), "every question exactly as asked"
        replies = browser.execute_script("return [...document.querySelectorAll('#samples .sample details pre')].map(e => e.textContent)")
        assert {s["response_raw"] for s in samples} <= set(replies), "every raw reply exactly as received"
        names = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.starling tbody tr td:first-child")]
        assert names == MODELS
        for element in browser.find_elements(By.CSS_SELECTOR, "#samples .sample, svg.plot"):  # hover everything an attribute could hang on
            browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))", element)
        assert browser.execute_script("return window.__pwned === undefined")
        violations = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
        assert violations == []
    finally:
        browser.quit()

    # summary.md: the tables keep their shape, and no cell turns into a link, code, emphasis or HTML
    tokens = MarkdownIt("commonmark").enable("table").parse(summary.read_text(encoding="utf-8"))
    kinds = {child.type for token in tokens if token.type == "inline" for child in token.children or []}
    assert not kinds & {"link_open", "image", "code_inline", "em_open", "strong_open", "html_inline", "s_open"}
    # summary.tex: every special character escaped, so no name runs a command
    tex = (tmp_path / "report" / "summary.tex").read_text(encoding="utf-8")
    assert "\\input{" not in tex and "\\write18" not in tex and "{\\textbackslash}input\\{" in tex
    # plots saved on their own are well-formed XML, under names made safe
    import xml.etree.ElementTree as ElementTree

    files = sorted((tmp_path / "figures").iterdir())
    assert files and all(f.parent == tmp_path / "figures" and f.suffix == ".svg" for f in files)
    for f in files:
        ElementTree.parse(f)
