"""Merged export: a run's LoRA adapter folded into its base model, saved as one full model directory.

People ship a full model more often than an adapter. `export_merged` loads the run's base model
in float32 with the adapter on top, records its greedy outputs on a sample of the run's own test
prompts, merges (`merge_and_unload`) and saves model and tokenizer, reloads the saved directory
with plain transformers and generates again. `export.json` records where the model came from and
the comparison; outputs that differ after the merge (float rounding can flip a greedy choice) are
reported there as a failed check, never hidden. Beside it, README.md is the model's Hugging Face model
card (`card.py`). The directory appears whole or not at all.
"""
from __future__ import annotations

import gc
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cache.dirs import build_atomically
from harness.common.errors import HarnessError
from harness.common.files import write_json
from harness.common.lazy import lazy_module
from harness.evaluation.checks import SAMPLE, compare_outputs
from harness.models.loading import is_adapter_dir, load_model
from harness.record import RunRecord, load_predictions, load_record, predictions_path
from harness.suitedef.suite import load_suite

from .card import CARD, model_card

if TYPE_CHECKING:
    import torch
    import transformers
else:  # heavy: imported on first use
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")

RECORD = "export.json"


def export_merged(run_dir: Path, backend: str, out: Path) -> dict:
    """Write the merged model of `backend`'s adapter in `run_dir` to `out`; the export record."""
    run_dir, out = Path(run_dir), Path(out)
    record = load_record(run_dir)
    adapter = _adapter_dir(record, run_dir, backend)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HarnessError("already exists and is not an empty directory; choose a new --out", str(out))
    sample = _sample(record, run_dir, backend)
    result: dict = {}

    def build(tmp: Path) -> None:
        result.update(_merge_and_check(record, run_dir, backend, adapter, sample, tmp))
        (tmp / CARD).write_text(model_card(record, backend, out.name, result["check"]), encoding="utf-8")
        write_json(tmp / RECORD, result)  # last: it marks the directory complete

    build_atomically(out, build, complete=RECORD)
    return result


def _adapter_dir(record: RunRecord, run_dir: Path, backend: str) -> Path:
    run = next((b for b in record.backends if b.name == backend), None)
    if run is None:
        have = ", ".join(b.name for b in record.backends) or "none"
        raise HarnessError(f"this run has no backend '{backend}' (it has: {have})", str(run_dir))
    path = run_dir / run.artefact
    if run.kind != "adapter":
        raise HarnessError(f"backend '{backend}' saved a full model, which loads as it is: {path}", str(run_dir))
    if not is_adapter_dir(path):
        raise HarnessError(f"the adapter of backend '{backend}' is missing (no adapter_config.json)", str(path))
    return path


def _sample(record: RunRecord, run_dir: Path, backend: str) -> list[tuple[str, str, int, list[str]]]:
    """(key, model input, max_new_tokens, stop) for the first prompts of each suite's predictions."""
    sample = []
    for info in record.suites:
        rows = load_predictions(run_dir, backend, info.name)[:SAMPLE]
        if not rows:
            raise HarnessError(f"no predictions of '{backend}' on suite '{info.name}'; finish the run first "
                               f"(harness run --resume {run_dir})", str(predictions_path(run_dir, backend, info.name)))
        # The suite's own generation settings; its data is read where the run was allowed to read it.
        generation = load_suite(info.path, allow_outside_data=record.allow_outside_data).spec.generation
        sample += [(f"{info.name}/{row.id}", row.model_input, generation.max_new_tokens, list(generation.stop))
                   for row in rows]
    return sample


def _generate(model, sample) -> dict[str, str]:
    return {key: model.generate([prompt], max_new_tokens, stop)[0] for key, prompt, max_new_tokens, stop in sample}


def _merge_and_check(record: RunRecord, run_dir: Path, backend: str, adapter: Path, sample, out: Path) -> dict:
    # float32 throughout: merging into bf16 weights would round the update away.
    tuned = load_model(record.model_path, adapter=adapter, dtype=torch.float32)
    expected = _generate(tuned, sample)
    merged = tuned.model.merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer_from = adapter if (adapter / "tokenizer_config.json").is_file() else record.model_path
    transformers.AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(out)
    del tuned, merged
    gc.collect()
    reloaded = load_model(str(out), dtype=torch.float32)
    check = compare_outputs(expected, _generate(reloaded, sample))
    result = {
        "source_run": str(run_dir.resolve()), "run_id": record.run_id, "backend": backend,
        "adapter": str(adapter.resolve()), "base_model": record.model, "base_model_path": record.model_path,
        "dtype": "float32", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "check": {**check.model_dump(),
                  "what": f"greedy outputs of the reloaded merged model against base+adapter on the first "
                          f"{SAMPLE} test prompts of each suite"},
    }
    return result
