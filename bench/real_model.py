"""The real model's costs on this machine: fetch and conversion, load, evaluation, LoRA steps.

Fetches smollm2-135m-instruct into a throwaway model cache (download, hash checks, extraction,
conversion), then, from that cache: loads the converted directory, evaluates it on one suite
with `harness eval` in a child process (examples/s over the command's wall time, which includes
loading and the batch-invariance check; peak RSS of the child), and times LoRA steps with the
harness's `lora` backend (default r=16). Nothing here is a pass/fail target; it prints numbers.

    .venv/bin/python bench/real_model.py [--suite suites/agent_tools] [--steps 6] [--batch-size 8]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "smollm2-135m-instruct"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=str(ROOT / "suites" / "agent_tools"))
    parser.add_argument("--steps", type=int, default=6, help="LoRA optimizer steps to time (default: 6)")
    parser.add_argument("--batch-size", type=int, default=8, help="LoRA batch size (default: 8)")
    parser.add_argument("--skip-eval", action="store_true", help="skip the full-suite evaluation")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.update(TQDM_DISABLE="1", TRANSFORMERS_VERBOSITY="error", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        os.environ["HARNESS_MODELS"] = str(Path(tmp) / "models")
        os.environ["HARNESS_CACHE"] = str(Path(tmp) / "cache")
        from harness import zoo
        from harness.models import load_model

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

        if not args.skip_eval:
            _evaluate(args.suite, Path(tmp))
        _lora_steps(str(path), args.suite, args.steps, args.batch_size, Path(tmp))
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _evaluate(suite: str, tmp: Path) -> None:
    command = [sys.executable, "-m", "harness", "eval", "--model", NAME, "--suite", suite, "--out", str(tmp / "runs")]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    (run,) = (tmp / "runs").iterdir()
    results = json.loads((run / "run.json").read_text())["results"]
    n = max(r["n"] for r in results)
    values = ", ".join(f"{r['metric']} {r['value']:.3f}" for r in results)
    print(f"harness eval on {Path(suite).name}: {n} examples in {seconds:.1f} s = {n / seconds:.2f} examples/s "
          f"(wall time of the command; {_cpu(resource.RUSAGE_CHILDREN):.0f} CPU s); peak RSS {peak:.0f} MB; {values}")


def _lora_steps(path: str, suite_dir: str, steps: int, batch_size: int, tmp: Path) -> None:
    from harness.run import training_examples, tune
    from harness.settings import resolve
    from harness.suite import load_suite

    examples = training_examples([load_suite(suite_dir)])[: steps * batch_size]
    settings = resolve("lora", path, {"lora": {"max_steps": steps, "batch_size": batch_size}})
    cpu = _cpu()
    _, _, cost = tune("lora", path, examples, settings, 0, tmp / "lora")
    cpu = _cpu() - cpu
    print(f"LoRA r={settings.r} (all-linear), batch {batch_size}: {cost.steps} steps in {cost.train_seconds:.1f} s "
          f"= {cost.train_seconds / cost.steps:.2f} s/step, {cost.tokens_per_second:,.0f} tokens/s; "
          f"{cost.trainable_params:,} of {cost.total_params:,} parameters trained; "
          f"peak RSS {cost.peak_memory_mb:.0f} MB; {cpu:.0f} CPU s for setup, training and saving")


if __name__ == "__main__":
    sys.exit(main())
