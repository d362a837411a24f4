"""Evaluation speed: the harness's batched generation against a one-example-at-a-time `generate`
loop on the same prompts (goal: at least 8x, identical outputs), on `tiny` as built (a random model
writes until max_new_tokens) and on a tuned one (outputs end early); and the cost of evaluating
60, 120 and 240 examples (goal: linear within 15%). No cache is involved: every output is generated.

    .venv/bin/python bench/eval_speed.py [--model TUNED_DIR] [--reps N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import Row, interleaved, print_rows, ratio, workspace  # noqa: E402

SIZES = {"agent_tools": (96, 240), "translate_en_zh": (48, 32)}
LOOP_EXAMPLES = 16
"""Per suite, for the loop comparison (the loop is the slow side)."""
SCALE_BASE = 60
"""Examples at 1x in the scaling measurement (4x is the shipped agent_tools test split)."""


def one_at_a_time(model, prompt: str, max_new_tokens: int, stop: list[str]) -> str:
    """What a user writes without the harness: tokenise one prompt, `generate`, decode, cut at a stop string."""
    import torch

    from harness.models.generate import cut_at_stop

    tok = model.tokenizer
    inputs = tok(prompt, return_tensors="pt", add_special_tokens=not model.chat)
    with torch.inference_mode():
        out = model.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                   eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                   stop_strings=stop or None, tokenizer=tok if stop else None)
    return cut_at_stop(tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True), stop)


def measure(tuned_dir: str | None, root: Path, reps: int) -> list[Row]:
    """The loop comparison on `tiny` as built and, when given, on a tuned model (whose outputs end early,
    unlike a random model's); the scaling on `tiny` as built."""
    from harness.models.loading import load_model
    from harness.suitedef.suite import find_suites, load_suite

    env = workspace(root, SIZES)
    os.environ["HARNESS_CACHE"] = env["HARNESS_CACHE"]
    suites = [load_suite(p) for p in find_suites([root / "suites"])]
    models = {"tiny, untuned": load_model("tiny", suites=suites)}
    if tuned_dir:
        models["tiny after `full`"] = load_model(tuned_dir)
    rows = [against_loop(label, model, suites, reps) for label, model in models.items()]
    # Scaling on the untuned model: every example decodes all max_new_tokens, so the examples added at 2x
    # and 4x cost what the first did, and what is measured is the harness's own overhead.
    return rows + [scaling(models["tiny, untuned"], suites, reps)]


def _warm_up(model, suite) -> None:
    """One-time costs (lazy imports, first kernels) on no variant's clock."""
    from dataclasses import replace

    from harness.evaluation.evaluate import evaluate_suite

    evaluate_suite(model, replace(suite, test=suite.test[:4]), "warm-up")
    one_at_a_time(model, model.render(suite.test[0].messages), 8, [])


def against_loop(label: str, model, suites, reps: int) -> Row:
    """The harness's generation against the loop, on the first examples of each suite."""
    from harness.evaluation.evaluate import generate_for

    _warm_up(model, suites[0])

    def harness_eval():
        return [generate_for(model, s, s.test[:LOOP_EXAMPLES]) for s in suites]

    def loop():
        return [[one_at_a_time(model, model.render(ex.messages), s.spec.generation.max_new_tokens,
                               s.spec.generation.stop) for ex in s.test[:LOOP_EXAMPLES]] for s in suites]

    times, outputs = interleaved({"harness": harness_eval, "loop": loop}, reps)
    identical = all(h == lp for h, lp in zip(outputs["harness"], outputs["loop"]))
    by_min, by_median = ratio(times["loop"], times["harness"])
    return Row(f"evaluation vs one-at-a-time loop ({label})", f"{by_min:.1f}x / {by_median:.1f}x",
               ">= 8x, identical outputs", by_min >= 8 and identical,
               f"{LOOP_EXAMPLES * len(suites)} prompts, outputs {'identical' if identical else 'DIFFER'}")


def scaling(model, suites, reps: int) -> Row:
    """The whole evaluation of a suite (generation, scoring, the aggregate with its interval) at 1x, 2x, 4x."""
    from dataclasses import replace

    from harness.evaluation.evaluate import evaluate_suite

    agent = next(s for s in suites if s.name == "agent_tools")
    _warm_up(model, agent)
    sized = {k: replace(agent, test=agent.test[:SCALE_BASE * k]) for k in (1, 2, 4)}
    times, _ = interleaved({f"{k}x": (lambda k=k: evaluate_suite(model, sized[k], "bench")) for k in (1, 2, 4)}, reps)
    per_example = {k: times[f"{k}x"].median / (SCALE_BASE * k) for k in (1, 2, 4)}
    change = {k: per_example[k] / per_example[1] - 1 for k in (2, 4)}
    return Row("evaluation cost at 1x/2x/4x examples", " / ".join(f"{times[f'{k}x'].median:.2f}s" for k in (1, 2, 4)),
               "linear within 15%", all(abs(c) <= 0.15 for c in change.values()),
               f"{SCALE_BASE}/{2 * SCALE_BASE}/{4 * SCALE_BASE} examples (medians); per-example cost at 2x and "
               f"4x {change[2]:+.0%} and {change[4]:+.0%} of 1x's")


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a tuned model directory to measure as well (default: tiny, untuned, only)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print_rows(measure(args.model, Path(tmp), args.reps), "Evaluation speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
