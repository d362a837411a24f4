"""A synthetic run directory (no model, no training) and simulated raters for the rating-sheet tests."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from harness.record import BackendRun, Cost, MetricInfo, Prediction, RunRecord, SuiteInfo, save_predictions, save_record

RUN_ID = "20260101-000000-abc123"
N_EXAMPLES = 10
# Outputs a sheet must carry safely: markup, a would-be formula, CSV delimiters, newlines, CJK, a control character.
TRICKY = ['<script>alert("x")</script>', '=HYPERLINK("http://example.invalid","x")', 'a "quoted", comma;\nnew line',
          "你好，世界！", "bell\x07char"]
TRANSLATE_RUBRIC = {"show_reference": False, "criteria": [
    {"name": "adequacy", "description": "Is the meaning carried over?",
     "levels": {str(i): f"adequacy level {i}" for i in range(1, 6)}},
    {"name": "fluency", "description": "Is it natural Chinese?", "levels": {str(i): f"fluency level {i}" for i in range(1, 6)}},
]}


EXACT = MetricInfo(name="exact_match", kind="passfail")
BLEU = MetricInfo(name="bleu", kind="corpus", scale=100.0, digits=2)


def make_run(run_dir: Path, states=("base", "lora")) -> Path:
    """Two suites × 10 examples; base passes examples 0–2, tuned states pass 0–7 (so 3–7 flip)."""
    suites = [
        SuiteInfo(name="agent_tools", version="1", content_hash="h1", path="suites/agent_tools", language="en",
                  n_train=0, n_test=N_EXAMPLES, metrics=[EXACT], gates=[]),
        SuiteInfo(name="translate_en_zh", version="1", content_hash="h2", path="suites/translate_en_zh", language="zh",
                  n_train=0, n_test=N_EXAMPLES, metrics=[BLEU, EXACT], gates=[],
                  rubric=TRANSLATE_RUBRIC),
    ]
    cost = Cost(wall_seconds=1, train_seconds=1, trainable_params=1, total_params=2, peak_memory_mb=1, memory_kind="rss",
                train_tokens=1, tokens_per_second=1, steps=1, loss_curve=[])
    record = RunRecord(run_id=RUN_ID, status="complete", created="2026-01-01T00:00:00+00:00", model="tiny",
                       model_path="tiny", seed=0, suites=suites, requested_backends=list(states[1:]),
                       environment={"python": "3.11", "platform": "test", "device": "cpu", "code_hash": "0"},
                       config_key="k", backends=[BackendRun(name=s, settings={}, artefact=f"models/{s}", kind="adapter",
                                                            cost=cost) for s in states[1:]])
    save_record(run_dir, record)
    for state in states:
        for info in suites:
            rows = []
            for i in range(N_EXAMPLES):
                passed = i < (3 if state == "base" else 8)
                # Outputs differ by state without naming it, so tests can check that sheets reveal no state.
                output = f"{'draft' if state == 'base' else 'answer'} {i} " + TRICKY[i % len(TRICKY)]
                scores = {m.name: (1.0 if passed else 0.0) if m.name == "exact_match" else 50.0 for m in info.metrics}
                rows.append(Prediction(id=f"ex{i}", state=state, suite=info.name, prompt=f"prompt {i} <b>&amp;</b>",
                                       model_input="", reference=f"reference {i}", output=output, scores=scores))
            save_predictions(run_dir, state, info.name, rows)
    return run_dir


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run(tmp_path / "run")


def key_items(run_dir: Path) -> dict:
    key = json.loads((run_dir / "sheets" / "key.json").read_text(encoding="utf-8"))
    return {item: info for export in key["exports"].values() for item, info in export["items"].items()}


def prefers_tuned(item: dict, row: dict) -> str:
    """A rater who always prefers the tuned output and scores it 5, base 1."""
    if item["kind"] == "pairwise":
        return "A" if item["a"] != "base" else "B"
    return "1" if item["state"] == "base" else "5"


def varied(item: dict, row: dict) -> str:
    """A deterministic rater whose scores vary with the example and criterion (so agreement is measurable)."""
    if item["kind"] == "pairwise":
        return ["A", "B", "tie", "both bad"][int(item["example"][2:]) % 4]
    return str(1 + (int(item["example"][2:]) + len(row["criterion"]) + (item["state"] != "base")) % 5)


def fill_csv(src: Path, dest: Path, answer, items: dict, **changes) -> Path:
    """Answer every row of a CSV sheet; `changes` overrides columns on all rows (e.g. rater=...)."""
    rows = read_csv(src)
    answer_col = "preference" if "preference" in rows[0] else "score"
    for row in rows:
        row[answer_col] = answer(items[row["item_id"]], row)
        row.update(changes)
    write_csv(dest, rows)
    return dest


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(dest: Path, rows: list[dict], fieldnames=None) -> Path:
    with open(dest, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return dest


def fill_xlsx(src: Path, dest: Path, answer, items: dict) -> Path:
    """Answer every row as a spreadsheet user would: scores typed as numbers."""
    wb = load_workbook(src)
    ws = wb["ratings"]
    header = [c.value for c in ws[1]]
    col = header.index("preference" if "preference" in header else "score") + 1
    for r in range(2, ws.max_row + 1):
        row = {name: ws.cell(row=r, column=i + 1).value for i, name in enumerate(header)}
        value = answer(items[row["item_id"]], row)
        ws.cell(row=r, column=col, value=int(value) if value.isdigit() else value)
    wb.save(dest)
    return dest
