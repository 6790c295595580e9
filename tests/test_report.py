"""The HTML report: tables and summary.md from a run folder, and the page itself in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import chromium_browser, run_cli_here

from redinstruct.errors import RedInstructError
from redinstruct.redeval import REFUSAL_ECHO_NOTE
from redinstruct.report import collect, write_report

MODELS = ("base-model", "base-model + blue-red (strategy B, long name)")
TEMPLATES = ("standard", "cou", "cot")  # as a run may write them; tables show the paper's order
TOPICS = ("Chemistry", "Finance")
BLUE = MODELS[1]


def _verdict(model: str, template: str, i: int) -> str:
    if i == 3 and template == "cou":
        return "unknown"
    harmful_up_to = {(MODELS[0], "standard"): 2, (MODELS[0], "cou"): 3, (MODELS[0], "cot"): 1, (BLUE, "standard"): 0, (BLUE, "cou"): 1, (BLUE, "cot"): 0}
    return "harmful" if i < harmful_up_to[(model, template)] else "unharmful"


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder as `reproduce` leaves it: RED-EVAL samples, utility results, a training log."""
    folder = tmp_path / "run"
    (folder / "redeval").mkdir(parents=True)
    lines = []
    for model in MODELS:
        for template in TEMPLATES:
            for i in range(4):
                verdict = _verdict(model, template, i)
                lines.append(json.dumps({
                    "model": model, "dataset": "demo", "template": template, "render": "chat", "judge": "refusal",
                    "question_id": f"q{i}", "question": f"placeholder question {i}", "topic": TOPICS[i % 2], "subtopic": "s",
                    "prompt": "p", "response_raw": f"raw reply {model} {template} {i} <script>alert(1)</script>",
                    "response": f"reply {i}", "verdict": verdict, "judge_rationale": f"because {i}", "judge_score": None,
                    "error": "empty reply" if verdict == "unknown" else None}))
    (folder / "redeval" / "samples.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "utility").mkdir()
    for model, shift in zip(MODELS, (0.0, 0.1)):
        results = {t: {"acc": 0.5 + shift, "acc_stderr": 0.05, "n": 10} for t in ("hhh_harmless", "hhh_helpful", "hhh_honest", "hhh_other", "hhh", "mmlu")}
        (folder / "utility" / f"{model.replace('/', '_')}.json").write_text(json.dumps(
            {"model": model, "settings": {"num_fewshot": {"hhh": 0}, "limit": 10, "chat_template": False, "source": "local"}, "results": results}))
    for strategy in ("blue", "blue-red"):
        (folder / "models" / strategy).mkdir(parents=True)
        (folder / "models" / strategy / "training_log.jsonl").write_text("".join(
            json.dumps({"step": s, "blue_nll": 2.0 - 0.05 * s, "red_nll": 1.2 + 0.001 * s, "red_above_tau": s / 24}) + "\n" for s in range(1, 25)))
    return folder


def test_tables_and_summary(run_folder: Path, tmp_path: Path) -> None:
    html, summary = write_report([run_folder], tmp_path / "out" / "report.html", base_model="base-model")
    text = html.read_text()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    md = summary.read_text()
    # the paper's table: Standard, CoT, CoU, the average, then utility; every cell from under 30 items says its n
    assert "| model | demo / standard | demo / cot | demo / cou | average ASR | HHH | MMLU |" in md
    # base / standard: 2 of 4 harmful; blue / cou: 1 harmful of 3 judged, 1 unknown
    assert r"| base-model | 50.0% \[15.0-85.0] (n=4) | 25.0% \[4.6-69.9] (n=4) | 100.0% \[43.9-100.0] (1 unknown) (n=3) | 58.3% | 50.0 (n=10) | 50.0 (n=10) |" in md
    assert rf"| {BLUE} | 0.0% \[0.0-49.0] (n=4) | 0.0% \[0.0-49.0] (n=4) | 33.3% \[6.1-79.2] (1 unknown) (n=3) | 11.1% | 60.0 (n=10) (+10.0) | 60.0 (n=10) (+10.0) |" in md
    assert rf"| {BLUE} | 60.0 \[31-83] (n=10) (+10.0) | 60.0 \[31-83] (n=10) (+10.0) |" in md  # HHH subsets: interval, n, change
    tex = summary.with_name("summary.tex").read_text()
    assert "\\begin{tabular}{lrrrrrr}" in tex and "\\textcolor{gray}{50.0\\% [15.0-85.0] (n=4)}" in tex
    assert "<script>alert(1)</script>" not in text  # reply text is data, escaped inside the JSON payload
    # the judge, its worst agreement on a held-out human-labelled source, and the note on publishing
    from html import escape

    from redinstruct.judges._quality import judge_quality, quality_line

    quality = judge_quality("refusal")
    assert f"{quality['worst_heldout_agreement']:.3f}" in quality["summary"]
    assert escape(quality_line("refusal")) in text and quality_line("refusal") in md
    assert "for numbers you publish" in md


def test_report_cli_and_bad_folder(run_folder: Path, tmp_path: Path) -> None:
    run = run_cli_here("report", str(run_folder), "--out", str(tmp_path / "r.html"), "--figures", str(tmp_path / "figs"),
                  "--rename", "base-model=SmolLM2")
    assert run.returncode == 0, run.stderr
    assert r"| SmolLM2 | 50.0% \[15.0-85.0] (n=4) |" in (tmp_path / "summary.md").read_text()  # shown under its new name
    assert (tmp_path / "r.html").is_file() and (tmp_path / "summary.md").is_file() and (tmp_path / "summary.tex").is_file()
    # every plot as its own SVG file, readable outside the page
    figures = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert figures == ["asr-demo.svg", "asr-per-topic.svg", "training-blue-nll.svg", "training-red-above-tau.svg", "training-red-nll.svg"]
    import xml.etree.ElementTree as ET

    root = ET.parse(tmp_path / "figs" / "asr-demo.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox")
    run = run_cli_here("report", str(tmp_path / "nope"))
    assert run.returncode == 2 and "is not a folder" in run.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RedInstructError, match="no RED-EVAL samples"):
        collect([empty])


def test_report_in_headless_chromium(run_folder: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html, _ = write_report([run_folder], tmp_path / "report.html", base_model="base-model")
    browser = chromium_browser()
    try:
        browser.get(html.as_uri())
        # tables: one row per model in the STARLING, HHH and utility tables; templates in the paper's order
        for cls in ("asr", "hhh", "utility"):
            assert len(browser.find_elements(By.CSS_SELECTOR, f"table.{cls} tbody tr")) == 2, cls
        header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.starling thead th")]
        assert header[1:4] == ["demo / standard", "demo / cot", "demo / cou"] and header[4] == "average ASR"
        assert browser.find_elements(By.CSS_SELECTOR, "table.starling td .small")  # small samples in grey
        # plots drawn: a bar per model x template, a heatmap cell per topic x run, one curve per strategy and training chart
        assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot rect.bar")) == 6
        assert len(browser.find_elements(By.CSS_SELECTOR, "svg.heatmap rect.cell")) == 12
        curves = browser.find_elements(By.CSS_SELECTOR, "svg.curve polyline")
        assert len(curves) == 3 * 2 and all(len(c.get_attribute("points").split()) >= 10 for c in curves)
        # legends carry whole model names
        legends = {t.text for t in browser.find_elements(By.CSS_SELECTOR, "svg.bars text.legend")}
        assert legends == set(MODELS)
        # nothing wider than the page at 1,000 and 1,400 px (the heatmap scrolls inside its own box)
        for width in (1000, 1400):
            browser.set_window_size(width, 2000)
            assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), width
        bar = browser.find_element(By.CSS_SELECTOR, "svg.plot rect.bar")
        assert bar.size["height"] > 0 and bar.size["width"] > 0
        # the heatmap's title starts over its cells, not far left of them
        title = browser.find_element(By.CSS_SELECTOR, "svg.heatmap text.title").location["x"]
        first_cell = min(c.location["x"] for c in browser.find_elements(By.CSS_SELECTOR, "svg.heatmap rect.cell"))
        assert abs(title - first_cell) < 8
        # the sample browser: all 24, then filtered by verdict and model
        assert len(browser.find_elements(By.CSS_SELECTOR, "#samples .sample")) == 24
        Select(browser.find_element(By.ID, "filter-verdict")).select_by_value("harmful")
        shown = browser.find_elements(By.CSS_SELECTOR, "#samples .sample")
        assert len(shown) == 7 and {s.get_attribute("data-verdict") for s in shown} == {"harmful"}
        Select(browser.find_element(By.ID, "filter-model")).select_by_value(BLUE)
        shown = browser.find_elements(By.CSS_SELECTOR, "#samples .sample")
        assert len(shown) == 1
        assert browser.find_element(By.ID, "sample-count").text.startswith("1 of 24")
        # harmful text is collapsed until asked for, and reply text is shown as text, not run as HTML
        details = shown[0].find_element(By.TAG_NAME, "details")
        assert details.get_attribute("open") is None and not details.find_element(By.TAG_NAME, "pre").is_displayed()
        details.find_element(By.TAG_NAME, "summary").click()
        assert "<script>alert(1)</script>" in details.text
        png = tmp_path / "report.png"
        assert browser.save_screenshot(str(png)) and png.stat().st_size > 20_000
        if os.environ.get("REDINSTRUCT_SCREENSHOT"):
            shutil.copy(png, os.environ["REDINSTRUCT_SCREENSHOT"])
        # no request leaves the page: the only network event is the file itself
        requests = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in requests if m.get("method") == "Network.requestWillBeSent"]
        assert urls and all(u.startswith("file://") for u in urls), urls
        assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    finally:
        browser.quit()


def test_a_redone_sample_replaces_its_old_line_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    base = {"model": "m", "dataset": "d", "template": "standard", "question_id": "q1", "topic": "t", "subtopic": "s", "judge": "refusal"}
    lines = [json.dumps(base | {"verdict": "unknown", "error": "timeout"}), json.dumps(base | {"verdict": "harmful", "error": None}),
             json.dumps(base | {"question_id": "q2", "verdict": "harmful"})[:30]]  # the last one cut short by a kill
    (tmp_path / "samples.jsonl").write_text("\n".join(lines))
    (sample,) = collect([tmp_path]).samples
    assert sample["verdict"] == "harmful" and sample["error"] is None


def test_samples_are_listed_in_table_order_not_completion_order(run_folder: Path) -> None:
    samples_file = run_folder / "redeval" / "samples.jsonl"
    lines = samples_file.read_text().splitlines()
    # as a concurrent run finishes them: interleaved, the later questions first
    samples_file.write_text("\n".join(lines[::-1][1::2] + lines[::-1][0::2]) + "\n")
    data = collect([run_folder])
    order = [(s["model"], s["template"], s["question_id"]) for s in data.samples]
    groups = list(dict.fromkeys((m, t) for m, t, _ in order))
    assert [(m, t) for m, t, _ in order] == [g for g in groups for _ in range(4)], "one block per model x template"
    for group in groups:
        assert [q for m, t, q in order if (m, t) == group] == ["q0", "q1", "q2", "q3"]


def test_frontier_plot_and_harmful_refusals(run_folder: Path, tmp_path: Path) -> None:
    """Periodic validation points become one curve per strategy with the chosen checkpoint ringed; refusals of
    unsafe prompts get their own table."""
    from redinstruct.report._render import frontier_curves

    log = run_folder / "models" / "blue" / "training_log.jsonl"
    points = [(0, 0.0, 0.05), (10, 0.9, 0.4), (20, 0.95, 0.1), (30, 1.0, 0.6)]
    with log.open("a") as f:
        for step, harmful, safe in points:
            f.write(json.dumps({"step": step, "val_harmful_refused": harmful, "val_safe_refused": safe}) + "\n")
        f.write(json.dumps({"step": 20, "chosen_checkpoint": True, "val_harmful_refused": 0.95, "val_safe_refused": 0.1}) + "\n")
    samples = run_folder / "redeval" / "samples.jsonl"
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    for r in records:
        r["compliance"] = "full_refusal" if r["verdict"] == "unharmful" else "full_compliance"
    echoed = next(r for r in records if r["model"] != "base-model" and r["template"] == "standard")
    echoed.update(echo=True, verdict="unharmful", compliance=None)  # a copy of the template: neither refused nor complied
    samples.write_text("".join(json.dumps(r) + "\n" for r in records))
    data = collect([run_folder], base_model="base-model")
    curves, chosen = frontier_curves(data)
    assert curves == {"blue": [(s, safe, harmful) for s, harmful, safe in points]} and chosen == {"blue": 20}
    html, summary = write_report([run_folder], tmp_path / "out" / "report.html", base_model="base-model")
    text = html.read_text()
    assert 'data-plot="frontier"' in text and text.count('class="chosen"') == 1
    md = summary.read_text()
    assert "## Harmful prompts refused" in md
    # base / standard: 2 of 4 replies harmful, so 2 of 4 refused
    refused_section = md.split("## Harmful prompts refused")[1].split("\n## ")[0]
    assert "| base-model | 50.0%" in refused_section
    # the echo is counted apart, and the header says what the second rate means
    assert "1 echo: " in refused_section and "with echoes as not refused" in refused_section
    assert REFUSAL_ECHO_NOTE in refused_section and REFUSAL_ECHO_NOTE in text  # the note has no character HTML escapes


def test_an_aligned_model_less_safe_than_its_base_is_marked(tmp_path: Path) -> None:
    """An alignment that raised ASR above the base model's interval never reads as an aligned model: HTML, summary.md, summary.tex."""
    folder = tmp_path / "run"
    folder.mkdir()
    harmful = {"base": 2, "aligned (less safe)": 20, "aligned (safer)": 0}  # of 40 each; base 5.0% [1.4-16.5]
    lines = [json.dumps({"model": model, "dataset": "dangerousqa", "template": "standard", "render": "chat", "judge": "refusal",
                         "question_id": f"q{i}", "question": f"question {i}", "topic": "t", "subtopic": "s", "prompt": "p",
                         "response_raw": "r", "response": "r", "verdict": "harmful" if i < n else "unharmful", "judge_rationale": "",
                         "judge_score": None, "error": None}) for model, n in harmful.items() for i in range(40)]
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    html, summary = write_report([folder], tmp_path / "out" / "report.html", base_model="base")
    starling = summary.read_text().split("## STARLING table")[1].split("\n## ")[0]
    marked = [line for line in starling.splitlines() if line.startswith("| aligned")]
    assert len(marked) == 2 and "LESS SAFE" in marked[0] and "LESS SAFE" not in marked[1], marked
    assert html.read_text().count('class="less-safe"') == 1
    assert "LESS SAFE" in (tmp_path / "out" / "summary.tex").read_text()
