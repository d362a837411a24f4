"""Preference pairs for a preference backend (`dpo`), built by the harness from the run's own evidence.

Two sources, each pair recorded with its own:
- `sheets`: the A/B choices raters made in the rating sheets of an earlier run (`--pairs-from RUN_DIR`). Per
  rated example and pair of states, the raters' wins and losses are summed; the output more of them preferred
  is chosen (ties, "both bad" and draws give no pair). The prompt is the rated suite's own example, read from
  the suite folder that run recorded, unchanged since (its content hash must match).
- `metric`: outputs sampled from the starting model on train prompts, scored by each suite's primary metric
  through the function evaluation scores with (`harness.evaluation.evaluate.score`); the best-scoring output is
  paired with the worst when it scores strictly better (for a pass/fail metric: a pass with a fail). When no
  sample beats another, the train reference can be the preferred side if the same metric scores it better.

A candidate whose example is in a test split of this run (same suite and id), or whose prompt text equals a
test prompt of this run (any suite; whitespace collapsed), is refused: what is measured is never trained on.
The test splits are read in full even when `--limit` evaluates a sample of them.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.cache import keys
from harness.common.errors import HarnessError
from harness.common.files import write_jsonl
from harness.common.progress import progress_bar
from harness.evaluation.evaluate import score
from harness.models.generate import sample
from harness.models.loading import load_model
from harness.record import PreferencePairs, load_predictions, load_ratings, load_record
from harness.suitedef.suite import Example, Suite, applies, load_suite

from .contract import PreferencePair, PreferenceSettings
from .registry import get_backend

PAIRS_DIR = "pairs"
"""The run directory's folder of each preference-tuned state's pairs (`pairs/<state>.jsonl`)."""


@dataclass
class Candidates:
    """Pairs a source offers before the contamination check, and what it says about them."""

    pairs: list[PreferencePair] = field(default_factory=list)
    from_reference: set[int] = field(default_factory=set)
    """Indices into `pairs` whose chosen side is the train reference."""
    facts: dict = field(default_factory=dict)
    """Fields of the `PreferencePairs` record this source fills."""


def prompt_text(messages: list[dict]) -> str:
    """The text a contamination check compares: the last turn's content, whitespace collapsed."""
    return " ".join(str(messages[-1].get("content", "")).split()) if messages else ""


class HeldOut:
    """The test examples of this run's suites (all of them, not only a `--limit` sample): by id and by prompt."""

    def __init__(self, suites: list[Suite], allow_outside_data: bool = False):
        self.ids: set[tuple[str, str]] = set()
        self.prompts: set[str] = set()
        for s in suites:
            full = s if s.limit is None else load_suite(s.path, allow_outside_data=allow_outside_data)
            self.ids |= {(s.name, ex.id) for ex in full.test}
            self.prompts |= {prompt_text(ex.messages) for ex in full.test}

    def refuse(self, pairs: list[PreferencePair]) -> tuple[list[int], int, int]:
        """(indices of the pairs kept, refused by id, refused by prompt text)."""
        kept, by_id, by_prompt = [], 0, 0
        for i, p in enumerate(pairs):
            if (p.suite, p.example_id) in self.ids:
                by_id += 1
            elif prompt_text(p.messages) in self.prompts:
                by_prompt += 1
            else:
                kept.append(i)
        return kept, by_id, by_prompt


def ab_choices(run_dir: Path) -> list[dict]:
    """The imported A/B choices of the run in `run_dir`; one clear error for a folder that is not a run or a run
    without any."""
    try:
        load_record(run_dir)
    except HarnessError as e:
        raise HarnessError(f"not a run to take A/B choices from: {e}", "--pairs-from") from None
    choices = [r for r in load_ratings(run_dir) if r["kind"] == "preference"]
    if not choices:
        raise HarnessError("this run has no imported A/B choices: export rating sheets (`harness sheets export`), "
                           "have raters fill the pairwise ones, and import them (`harness sheets import`)",
                           f"--pairs-from {run_dir}")
    return choices


def sheet_pairs(run_dir: Path, allow_outside_data: bool = False) -> Candidates:
    """Pairs from the imported A/B choices of the run in `run_dir`."""
    choices = ab_choices(run_dir)
    record = load_record(run_dir)
    net: dict[tuple[str, str, str, str], int] = {}
    for r in choices:
        side = {"win": 1, "loss": -1}.get(r["outcome"], 0)
        k = (r["suite"], r["example"], r["state"], r["versus"])
        net[k] = net.get(k, 0) + side
    suites = {info.name: info for info in record.suites}
    examples: dict[str, dict[str, Example]] = {}
    outputs: dict[tuple[str, str], dict[str, str]] = {}
    found = Candidates(facts={"sheets_run": str(run_dir), "sheets_undecided": 0})
    for (suite, example, state, versus), n in sorted(net.items()):
        if n == 0:
            found.facts["sheets_undecided"] += 1
            continue
        if suite not in examples:
            examples[suite] = _rated_examples(run_dir, suites.get(suite), suite, allow_outside_data)
        for s in (state, versus):
            if (s, suite) not in outputs:
                outputs[(s, suite)] = {row.id: row.output for row in load_predictions(run_dir, s, suite)}
        ex = examples[suite].get(example)
        a, b = outputs[(state, suite)].get(example), outputs[(versus, suite)].get(example)
        if ex is None or a is None or b is None:
            raise HarnessError(f"a rating names example {example!r} of {suite}, which the run's suite or "
                               f"predictions of {state}/{versus} do not hold", f"--pairs-from {run_dir}")
        chosen, rejected = (a, b) if n > 0 else (b, a)
        if chosen != rejected:
            found.pairs.append(PreferencePair(ex.messages, chosen, rejected, "sheets", suite, example, ex.tools))
    return found


def _rated_examples(run_dir: Path, info, name: str, allow_outside_data: bool) -> dict[str, Example]:
    """The rated suite's examples by id, from the folder the rated run recorded, unchanged since."""
    if info is None:
        raise HarnessError(f"ratings name suite {name!r}, which the run did not evaluate", f"--pairs-from {run_dir}")
    suite = load_suite(info.path, allow_outside_data=allow_outside_data)
    if suite.content_hash != info.content_hash:
        raise HarnessError(f"suite {name} at {info.path} changed since this run rated it: its prompts are not the "
                           "ones rated", f"--pairs-from {run_dir}")
    return {ex.id: ex for ex in suite.train + suite.test}


def metric_pairs(suites: list[Suite], model_path: str, settings: PreferenceSettings, seed: int,
                 tests: HeldOut) -> tuple[Candidates, int, int]:
    """Metric-verified pairs from outputs sampled on a seeded sample of the task suites' train prompts; also
    (candidate prompts refused by id, by prompt text) — refused before anything is sampled for them."""
    pool = [(s, ex) for s in suites if s.spec.role == "task" and s.metrics for ex in s.train
            if applies(next(iter(s.metrics.values()))[1], ex)]
    probes = [PreferencePair(ex.messages, "", "", "metric", s.name, ex.id, ex.tools) for s, ex in pool]
    kept, by_id, by_prompt = tests.refuse(probes)
    pool = [pool[i] for i in kept]
    picked = sorted(random.Random(f"pairs:{seed}").sample(range(len(pool)), min(settings.max_prompts, len(pool))))
    found = Candidates(facts={
        "metric": ",".join(f"{s.name}:{next(iter(s.metrics))}" for s in suites if s.spec.role == "task" and s.metrics),
        "prompts_sampled": len(picked), "prompts_without_pair": 0,
        "sampling": {"samples_per_prompt": settings.samples_per_prompt, "temperature": settings.sample_temperature,
                     "top_p": settings.sample_top_p, "top_k": 0, "seed": seed,
                     "max_new_tokens": {s.name: s.spec.generation.max_new_tokens for s in suites}}})
    if not picked:
        return found, by_id, by_prompt
    model = load_model(model_path)
    for suite in suites:
        mine = [pool[i][1] for i in picked if pool[i][0] is suite]
        if not mine:
            continue
        name, (_, info) = next(iter(suite.metrics.items()))
        gen, k = suite.spec.generation, settings.samples_per_prompt
        inputs = [model.render(ex.messages, ex.tools) for ex in mine]
        with progress_bar(total=len(mine), desc=f"sample · {suite.name}", unit="prompt") as bar:
            samples = sample(model, inputs, k, gen.max_new_tokens, list(gen.stop), settings.sample_temperature,
                             settings.sample_top_p, seed, bar)
        # Every sample, then every reference, scored by evaluation's own scoring function.
        flat = [(ex, inp, out) for ex, inp, outs in zip(mine, inputs, samples) for out in outs]
        flat += [(ex, inp, ex.reference) for ex, inp in zip(mine, inputs)]
        rows = score(suite, "pairs", [f[0] for f in flat], [f[1] for f in flat], [f[2] for f in flat])
        values = [r.scores[name] for r in rows]
        sign = 1 if info.higher_is_better else -1
        for j, ex in enumerate(mine):
            scored = sorted(zip(values[j * k:(j + 1) * k], samples[j]), key=lambda v: sign * v[0])
            (worst, rejected), (best, chosen) = scored[0], scored[-1]
            reference = values[len(mine) * k + j]
            if sign * best > sign * worst:
                found.pairs.append(PreferencePair(ex.messages, chosen, rejected, "metric", suite.name, ex.id, ex.tools))
            elif settings.reference_as_chosen and sign * reference > sign * worst and ex.reference != rejected:
                found.from_reference.add(len(found.pairs))
                found.pairs.append(PreferencePair(ex.messages, ex.reference, rejected, "metric", suite.name, ex.id,
                                                  ex.tools))
            else:
                found.facts["prompts_without_pair"] += 1
    del model
    return found, by_id, by_prompt


def preference_pairs(suites: list[Suite], model_path: str, settings: PreferenceSettings, seed: int,
                     pairs_from: str | None, run_dir: Path, state: str,
                     allow_outside_data: bool = False) -> tuple[list[PreferencePair], PreferencePairs]:
    """The pairs a preference backend learns from in `state`, written to `pairs/<state>.jsonl` in `run_dir`,
    and their record. One clear error when none are usable."""
    start = time.perf_counter()
    if settings.pairs in ("sheets", "both") and pairs_from is None:
        raise HarnessError(f"pairs={settings.pairs} takes the A/B choices of an earlier run: name it with "
                           "--pairs-from RUN_DIR", f"{state}.pairs")
    tests = HeldOut(suites, allow_outside_data)
    facts: dict = {}
    pairs: list[PreferencePair] = []
    from_reference: set[int] = set()
    refused_id = refused_prompt = offered = 0
    if settings.pairs in ("sheets", "both") and pairs_from is not None:
        found = sheet_pairs(Path(pairs_from), allow_outside_data)
        kept, by_id, by_prompt = tests.refuse(found.pairs)
        pairs += [found.pairs[i] for i in kept]
        refused_id, refused_prompt, offered = refused_id + by_id, refused_prompt + by_prompt, offered + len(found.pairs)
        facts |= found.facts
    if settings.pairs in ("metric", "both"):
        found, by_id, by_prompt = metric_pairs(suites, model_path, settings, seed, tests)
        from_reference = {len(pairs) + i for i in found.from_reference}  # indices in `pairs`, after the sheets'
        pairs += found.pairs
        refused_id, refused_prompt = refused_id + by_id, refused_prompt + by_prompt
        offered += len(found.pairs) + by_id + by_prompt
        facts |= found.facts
    if not pairs:
        if offered and offered == refused_id + refused_prompt:
            raise _all_refused(refused_id, refused_prompt, f"{state} pairs")
        raise HarnessError("no usable preference pairs: " + _why_none(settings, facts), f"{state} pairs")
    file = Path(PAIRS_DIR) / f"{state}.jsonl"
    write_jsonl(run_dir / file, [asdict(p) | {"chosen_from": "reference" if i in from_reference else "output"}
                                 for i, p in enumerate(pairs)])
    by_source = {source: sum(p.source == source for p in pairs) for source in ("sheets", "metric")}
    info = PreferencePairs(file=file.as_posix(), content_hash=keys.pairs_hash(pairs), by_source=by_source,
                           refused_test_id=refused_id, refused_test_prompt=refused_prompt,
                           chosen_from_reference=len(from_reference), seconds=round(time.perf_counter() - start, 2),
                           **facts)
    return pairs, info


def sheets_by_default(backends: list[str], overrides: dict[str, dict], pairs_from: str) -> dict[str, dict]:
    """`--pairs-from`: the overrides with `pairs: sheets` as the default of every backend that learns from pairs,
    after checking that one of `backends` does and that `pairs_from` is a run with imported A/B choices."""
    users = [b for b in backends if get_backend(b).uses_pairs]
    if not users:
        raise HarnessError("preference pairs are for a backend that learns from them (--backend dpo); this run "
                           f"tunes {', '.join(backends) or 'nothing'}", "--pairs-from")
    ab_choices(Path(pairs_from))
    return overrides | {b: {"pairs": "sheets", **overrides.get(b, {})} for b in users}


def check_pair_sources(suites: list[Suite], states: dict[str, tuple[str, dict]], pairs_from: str | None,
                       allow_outside_data: bool = False) -> None:
    """Before a run directory exists: each preference-tuned state (state → its backend and resolved settings) whose
    pairs come from sheets has a run to take them from, and not all of them are from this run's test examples."""
    wanted = [(state, values["pairs"]) for state, (backend, values) in states.items()
              if get_backend(backend).uses_pairs and values["pairs"] != "metric"]
    if wanted and pairs_from is None:
        raise HarnessError(f"pairs={wanted[0][1]} takes the A/B choices of an earlier run: name it with "
                           "--pairs-from RUN_DIR", f"{wanted[0][0]}.pairs")
    if pairs_from is not None and any(source == "sheets" for _, source in wanted):
        check_sheet_pairs(suites, pairs_from, allow_outside_data)


def check_sheet_pairs(suites: list[Suite], pairs_from: str, allow_outside_data: bool = False) -> None:
    """The run in `pairs_from` gives at least one sheet pair this run may train on."""
    found = sheet_pairs(Path(pairs_from), allow_outside_data)
    kept, by_id, by_prompt = HeldOut(suites, allow_outside_data).refuse(found.pairs)
    if found.pairs and not kept:
        raise _all_refused(by_id, by_prompt, f"--pairs-from {pairs_from}")
    if not found.pairs:
        raise HarnessError("no usable preference pairs: every rated example was a tie, both bad, or as often won "
                           "as lost", f"--pairs-from {pairs_from}")


def _all_refused(by_id: int, by_prompt: int, where: str) -> HarnessError:
    return HarnessError(f"every candidate pair comes from a test example of this run ({by_id} by example id, "
                        f"{by_prompt} by prompt text): training on them would contaminate the evaluation; rate "
                        "outputs of suites this run does not test on", where)


def _why_none(settings: PreferenceSettings, facts: dict) -> str:
    if settings.pairs == "sheets" or not facts.get("prompts_sampled"):
        if settings.pairs != "sheets":
            return "no train prompt to sample from (no task suite with a train split scored by its metric)"
        return "every rated example was a tie, both bad, or as often won as lost"
    return (f"none of the {facts['prompts_sampled']} train prompts gave a better and a worse output by the "
            "suite's metric: sample more (samples_per_prompt), hotter (sample_temperature), or allow the "
            "reference as the chosen side (reference_as_chosen)")
