"""The model card of an exported model: a Hugging Face README.md made from the run record.

Its metadata carries a `model-index` (one result per suite and metric, on the suite's test split) that the
Hub and `huggingface_hub.ModelCard` read; its text says what the model is, the data it was tuned and
measured on, the strategy and its settings, each result with its 95% interval and change against the base
model, the gates and the validity checks, and how the export itself was checked. Everything comes from the
record: the card says no more than the run measured.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.common.lazy import lazy_module
from harness.record import BASE, BackendRun, RunRecord

if TYPE_CHECKING:
    import huggingface_hub
else:  # its card classes are only needed when a model is exported
    huggingface_hub = lazy_module("huggingface_hub")

CARD = "README.md"


def _cell(value: Any) -> str:
    """A markdown table cell: no pipes or line breaks from the data break the table."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _interval(low: float | None, high: float | None, digits: int) -> str:
    return f"[{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else "—"


def _metadata(record: RunRecord, state: BackendRun, name: str):
    """The card's YAML metadata, `model-index` included."""
    digits = {(s.name, m.name): m.digits for s in record.suites for m in s.metrics}
    infos = {s.name: s for s in record.suites}
    results = [huggingface_hub.EvalResult(
        task_type="text-generation", task_name="instruction following",
        dataset_type=f"harness-suite/{r.suite}", dataset_name=r.suite, dataset_split="test",
        dataset_revision=infos[r.suite].content_hash[:12],
        metric_type=r.metric, metric_name=f"{r.metric} (95% interval {_interval(r.ci_low, r.ci_high, 4)})",
        metric_value=round(r.value, digits.get((r.suite, r.metric), 3) + 1),
    ) for r in record.results if r.state == state.name]
    languages = sorted({s.language.split("-")[0] for s in record.suites})
    return huggingface_hub.ModelCardData(
        model_name=name, base_model=record.model if "/" in record.model else None, language=languages,
        library_name="transformers", pipeline_tag="text-generation", eval_results=results,
        tags=["tuning-harness", state.backend, "merged-adapter"])


def _data(record: RunRecord) -> list[str]:
    lines = ["| suite | version | role | language | train | test | data |", "|---|---|---|---|---|---|---|"]
    for s in record.suites:
        where = "; ".join(f"{split}: {_cell(json.dumps(source, sort_keys=True))}" for split, source in
                          sorted(s.sources.items())) or "—"
        limit = f" (a seeded sample of {s.limit})" if s.limit else ""
        lines.append(f"| {_cell(s.name)} | {_cell(s.version)} | {s.role} | {s.language} | {s.n_train} | "
                     f"{s.n_test}{limit} | {where} |")
    return lines


def _strategy(state: BackendRun) -> list[str]:
    c = state.cost
    lines = [f"Backend `{state.backend}`, state `{state.name}` (strategy `{state.strategy}`"
             + (f", training seed {state.train_seed}" if state.train_seed is not None else "") + ").",
             f"{c.steps} optimizer steps, {c.train_tokens:,} training tokens, {c.train_seconds:.1f} s of training, "
             f"{c.trainable_params:,} of {c.total_params:,} parameters trained"
             + (" (restored from the tuning cache)" if state.from_cache else "") + ".", "",
             "| setting | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(json.dumps(v))} |" for k, v in sorted(state.settings.items())]
    return lines


def _results(record: RunRecord, state: BackendRun) -> list[str]:
    digits = {(s.name, m.name): m.digits for s in record.suites for m in s.metrics}
    lines = ["| suite | metric | base | this model | Δ vs base | Holm p | verdict |", "|---|---|---|---|---|---|---|"]
    for r in (r for r in record.results if r.state == state.name):
        d = digits.get((r.suite, r.metric), 3)
        base = next((b for b in record.results if (b.state, b.suite, b.metric) == (BASE, r.suite, r.metric)), None)
        c = next((c for c in record.comparisons
                  if (c.state, c.baseline, c.suite, c.metric) == (state.name, BASE, r.suite, r.metric)), None)
        base_text = f"{base.value:.{d}f} {_interval(base.ci_low, base.ci_high, d)}" if base else "—"
        delta = f"{c.delta:+.{d}f} [{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}]" if c else "—"
        lines.append(f"| {_cell(r.suite)} | {_cell(r.metric)} | {base_text} | "
                     f"{r.value:.{d}f} {_interval(r.ci_low, r.ci_high, d)} | {delta} | "
                     f"{f'{c.p_holm:.3g}' if c else '—'} | {c.verdict if c else '—'} |")
    return lines


def _gates(record: RunRecord, state: BackendRun) -> list[str]:
    gates = [g for g in record.gates if g.state in (state.name, "data")]
    if not gates:
        return ["No gate was decided for this model."]
    lines = ["| suite | gate | outcome | why |", "|---|---|---|---|"]
    lines += [f"| {_cell(g.suite)} | `{_cell(g.label)}` | {'pass' if g.passed else 'FAIL'} | {_cell(g.message)} |"
              for g in gates]
    return lines


def _checks(record: RunRecord, state: BackendRun, export_check: dict) -> list[str]:
    checks, name = record.checks, state.name
    lines = []
    changed = checks.model_changed.get(name)
    if changed:
        lines.append(f"- Tuning changed the model: {changed.differ} of {changed.compared} outputs differ from "
                     f"the base model's ({'ok' if changed.ok else 'FAILED'}).")
    for what, found in (("The saved artefact, reloaded, reproduces the trained model",
                         checks.reload_equivalence.get(name)),
                        ("Outputs do not depend on the batch size", checks.batch_invariance.get(name))):
        if found is not None:
            outcome = "not checked" if found.ok is None else "ok" if found.ok else \
                f"FAILED on {len(found.mismatches)}"
            lines.append(f"- {what}: {outcome} ({found.checked} sampled examples).")
    failures = checks.failures(name)
    lines.append("- These numbers can be trusted: every validity check passed." if not failures else
                 "- **These numbers cannot be trusted**: " + "; ".join(failures) + ".")
    ok = "reproduces" if export_check["ok"] else f"does NOT reproduce ({len(export_check['mismatches'])} differ)"
    lines.append(f"- The merged model, reloaded with plain transformers, {ok} base+adapter on "
                 f"{export_check['checked']} sampled test prompts.")
    return lines


def model_card(record: RunRecord, backend: str, name: str, export_check: dict) -> str:
    """The README.md of the merged model `name` exported from `backend`'s state of the run `record`."""
    state = next(b for b in record.backends if b.name == backend)
    body = [f"# {name}", "",
            f"`{record.model}` tuned with `{state.backend}` and merged into one model, exported from run "
            f"`{record.run_id}` of the tuning harness (configuration key `{record.config_key[:12]}`, seed "
            f"{record.seed}). Every number below is from that run's record.", "",
            "## Data", "", "Tuned on the train splits and measured on the test splits of:", "", *_data(record), "",
            "## Strategy", "", *_strategy(state), "",
            "## Results", "", "Test-split values with their 95% intervals; the change against the base model is "
            f"paired on the same examples (alpha {record.alpha:g}, Holm-adjusted over the run).", "",
            *_results(record, state), "",
            "## Gates", "", *_gates(record, state), "",
            "## Validity checks", "", *_checks(record, state, export_check), ""]
    return f"---\n{_metadata(record, state, name).to_yaml()}\n---\n\n" + "\n".join(body)
