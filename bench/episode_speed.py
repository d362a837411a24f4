"""Episode speed: the batched episode loop (one generate call per round over every episode still running)
against running the same episodes one at a time (goal: at least 5x, identical transcripts), on `tiny` as
built, with a one-tool environment whose prompts stay within tiny's 512 positions (the restaurant of the tests
renders 500 tokens of tool schemas alone with tiny's tokenizer). No cache is involved: every turn is generated.

    .venv/bin/python bench/episode_speed.py [--episodes N] [--reps N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import Row, interleaved, print_rows, ratio, workspace  # noqa: E402

SIZES = {"agent_tools": (96, 24)}
"""The suite `tiny`'s tokenizer is built from (its data does not enter the episodes)."""
ENVIRONMENT = {
    "state": {"stock": {"rice": 3}, "orders": []},
    "failures": {"sold_out": "{item} is sold out."},
    "tools": [{"name": "order", "parameters": {"type": "object", "properties": {"item": {"type": "string"}},
                                               "required": ["item"]},
               "preconditions": [{"check": {"gt": [{"get": "stock.{item}"}, 0]}, "fail": "sold_out"}],
               "effects": [{"decrement": "stock.{item}"}, {"append": "orders", "value": {"arg": "item"}}],
               "result": "Ordered {item}."}],
}
OPENINGS = ["I'd like to order some food.", "Two portions of dumplings, please.", "A table for four, please.",
            "Can I book a table for three people?", "What is on the menu?", "Is the rice still available?",
            "I want noodles for two.", "Book me a table, please."]
SCRIPT = ["Go on.", "And then?", "Please continue.", "Thanks."]
MAX_NEW_TOKENS = 24


def tasks(env, n: int) -> list:
    """`n` tasks whose users say 0 to 4 more lines after plain answers, so episodes last 1 to 5 turns."""
    from harness.suitedef.episodes import task_from

    return [task_from({"id": f"e{i}", "user": {"opening": OPENINGS[i % len(OPENINGS)],
                                               "script": SCRIPT[:i % (len(SCRIPT) + 1)]},
                       "expected": {"orders": []}}, env, f"bench:{i}") for i in range(n)]


def measure(root: Path, n: int, reps: int) -> list[Row]:
    """The batched loop against one episode at a time on `tiny` as built."""
    from harness.episodes import model_turns, run_episodes, run_one_by_one
    from harness.models.loading import load_model
    from harness.suitedef.episodes import environment_from
    from harness.suitedef.suite import find_suites, load_suite

    env_vars = workspace(root, SIZES)
    os.environ["HARNESS_CACHE"] = env_vars["HARNESS_CACHE"]
    suites = [load_suite(p) for p in find_suites([root / "suites"])]
    model = load_model("tiny", suites=suites)
    env = environment_from(ENVIRONMENT, "bench")
    work = tasks(env, n)
    longest = max(model.token_lengths([model.render([{"role": "user", "content": t.user.opening}], env.schemas())
                                       for t in work]))
    turns = model_turns(model, env, MAX_NEW_TOKENS)
    run_episodes(turns, env, work[:2])  # one-time costs (lazy imports, first kernels) on no variant's clock

    times, out = interleaved({"batched": lambda: run_episodes(turns, env, work),
                              "one at a time": lambda: run_one_by_one(turns, env, work)}, reps)
    transcripts = {name: [[e.transcript for e in episodes] for episodes in runs] for name, runs in out.items()}
    identical = all(t == transcripts["batched"][0] for runs in transcripts.values() for t in runs)
    model_turns_total = sum(e.model_turns for e in out["batched"][0])
    by_min, by_median = ratio(times["one at a time"], times["batched"])
    return [Row("episodes batched vs one at a time (tiny)", f"{by_min:.1f}x / {by_median:.1f}x",
                ">= 5x, identical transcripts", by_min >= 5 and identical,
                f"{n} episodes, {model_turns_total} model turns, {MAX_NEW_TOKENS} new tokens at most, opening "
                f"prompts up to {longest} tokens; batched "
                f"{times['batched'].min:.2f}s, one at a time {times['one at a time'].min:.2f}s; transcripts "
                f"{'identical' if identical else 'DIFFER'}")]


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.episodes, args.reps)
    print_rows(rows, f"Episode speed (load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
