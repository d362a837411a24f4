"""The real model's costs on this machine: fetch and conversion, load, evaluation, LoRA steps.

Fetches smollm2-135m-instruct into a throwaway model cache (download, hash checks, extraction,
conversion), then, from that cache: loads the converted directory, evaluates it on a seeded sample
of each suite's test split (generation and scoring, in this process, the model loaded once; the
full split's time is extrapolated from the sample's rate), and times LoRA steps with the
harness's `lora` backend on the suites' training examples (one epoch over them all is estimated
from the measured tokens/s). Nothing here is a pass/fail target; it prints numbers.

    .venv/bin/python bench/real_model.py [--suite suites/agent_tools]... [--limit 16] [--steps 6]
        [--batch-size 8] [--set lora.r=8]...
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "smollm2-135m-instruct"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", help="suite folder (repeatable; default: every shipped suite)")
    parser.add_argument("--limit", type=int, default=16, help="test examples evaluated per suite (default: 16)")
    parser.add_argument("--steps", type=int, default=6, help="LoRA optimizer steps to time (default: 6)")
    parser.add_argument("--batch-size", type=int, default=8, help="LoRA batch size (default: 8)")
    parser.add_argument("--set", action="append", default=[], metavar="lora.FIELD=VALUE",
                        help="another LoRA setting, e.g. lora.r=8 or lora.max_length=320 (repeatable)")
    parser.add_argument("--skip-eval", action="store_true", help="skip the evaluation")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.update(TQDM_DISABLE="1", TRANSFORMERS_VERBOSITY="error", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        os.environ["HARNESS_MODELS"] = str(Path(tmp) / "models")
        os.environ["HARNESS_CACHE"] = str(Path(tmp) / "cache")
        from harness.models import zoo
        from harness.models.loading import load_model

        start, cpu = time.perf_counter(), _cpu()
        path = zoo.fetch(zoo.MODELS[NAME], log=lambda *a: None)
        fetch_s = time.perf_counter() - start
        record = zoo.conversion_record(path)
        print(f"fetch (download + hashes + extract + convert): {fetch_s:.1f} s ({_cpu() - cpu:.1f} CPU s); "
              f"conversion alone {record['convert_seconds']:.1f} s; "
              f"directory {sum(f.stat().st_size for f in path.iterdir()) / 1e6:.0f} MB")

        start, cpu = time.perf_counter(), _cpu()
        model = load_model(str(path))
        print(f"load of the converted directory: {time.perf_counter() - start:.1f} s ({_cpu() - cpu:.1f} CPU s)")
        del model

        from harness.suitedef.suite import find_suites, load_suite
        from harness.tuning.settings import parse_overrides

        suites = [load_suite(p) for p in find_suites(args.suite or [str(ROOT / "suites")])]
        if not args.skip_eval:
            _evaluate(str(path), suites, args.limit)
        overrides = parse_overrides(None, args.set).get("lora", {})
        _lora_steps(str(path), suites, args.steps, args.batch_size, overrides, Path(tmp))
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _evaluate(path: str, suites: list, limit: int) -> None:
    from harness.evaluation.evaluate import evaluate_suite
    from harness.models.loading import load_model
    from harness.record import BASE
    from harness.suitedef.suite import limited

    model = load_model(path)
    print(f"{'suite':<24}{'examples':>9}{'seconds':>9}{'per s':>7}{'full split':>12}  first metric")
    for suite in suites:
        sample = limited(suite, limit, 0)
        start = time.perf_counter()
        _, results = evaluate_suite(model, sample, BASE)
        seconds = time.perf_counter() - start
        n, full = len(sample.test), len(suite.test)
        first = results[0]
        print(f"{suite.name:<24}{n:>9}{seconds:>9.1f}{n / seconds:>7.2f}{full / n * seconds:>10.0f} s  "
              f"{first.metric} {first.value:.3f} (zero-shot, untuned)")


def _lora_steps(path: str, suites: list, steps: int, batch_size: int, overrides: dict, tmp: Path) -> None:
    import random

    from harness.tuning.settings import resolve
    from harness.tuning.tune import training_examples, tune

    everything = training_examples(suites)
    examples = random.Random(0).sample(everything, min(len(everything), steps * batch_size))
    settings = resolve("lora", path, {"lora": {**overrides, "max_steps": steps, "batch_size": batch_size}})
    cpu = _cpu()
    _, _, cost = tune("lora", path, examples, settings, 0, tmp / "lora")
    cpu = _cpu() - cpu
    tokens_all = cost.train_tokens / len(examples) * len(everything) if examples else 0
    print(f"LoRA r={settings.r} (all-linear), batch {batch_size}, max_length {settings.max_length}: {cost.steps} steps "
          f"in {cost.train_seconds:.1f} s = {cost.train_seconds / cost.steps:.2f} s/step, "
          f"{cost.tokens_per_second:,.0f} tokens/s; {cost.trainable_params:,} of {cost.total_params:,} parameters "
          f"trained; peak RSS {cost.peak_memory_mb:.0f} MB; {cpu:.0f} CPU s for setup, training and saving")
    print(f"one epoch over the {len(everything):,} training examples of these suites (≈{tokens_all:,.0f} tokens at "
          f"the sample's mean length): ≈{tokens_all / cost.tokens_per_second / 60:.0f} min at this rate (estimated)")


if __name__ == "__main__":
    sys.exit(main())
