"""Synthetic run directories: a run.json and predictions as `harness run` writes them, without a model.

Used by the report tests, the report benchmark and the README screenshot. Outcomes are drawn from
a seeded generator with per-state pass rates, so every run has improvements, regressions and
unchanged examples; statistics (intervals, paired comparisons, checks, retention), the data report
and the explanations of flipped examples are filled in with simple approximations when `stats=True`
and left empty otherwise, like an older run.
"""
from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

from harness.evaluation.gates import decide_all, record_gates
from harness.record import (
    BASE,
    BackendRun,
    Comparison,
    Cost,
    ExplanationsInfo,
    MetricInfo,
    Prediction,
    Result,
    RunRecord,
    SuiteInfo,
    save_predictions,
    save_record,
)

from . import synthetic_data

HOSTILE = ['<script>window.__xss = 1</script>', '"><img src=x onerror="window.__xss = 2">',
           "{{ 7*7 }} {% if true %}evaluated{% endif %}", "</pre></td></tr></table><script>window.__xss = 3</script>"]

TOOLS = {"get_weather": ("city", ["Paris", "Lyon", "Oslo", "Kyoto"]),
         "set_alarm": ("time", ["06:30", "07:00", "08:15"]), "order_food": ("dish", ["pizza", "ramen", "salad"]),
         "send_message": ("to", ["Ana", "Ben", "Chen"])}
ZH = {"I": "我", "You": "你", "The teacher": "老师", "We": "我们", "My father": "我爸爸"}
ZH_VERBS = {"like": "喜欢", "want": "想要", "eat": "吃"}
ZH_OBJECTS = {"fish": "鱼", "milk": "牛奶", "dumplings": "饺子", "apples": "苹果"}

SUITES = {
    "agent_tools": dict(language="en", primary="exact_match",
                        metrics=[{"name": "exact_match", "parse": "json"}, {"name": "tool_name"},
                                 {"name": "tool_arguments"}],
                        gates=[{"metric": "exact_match", "min": 0.7}, {"metric": "exact_match", "min_delta": 0.5}],
                        description="Requests answered by exactly one JSON tool call.",
                        rates={BASE: 0.05, "full": 0.82, "lora": 0.84}),
    "translate_en_zh": dict(language="zh", primary="exact_match",
                            metrics=[{"name": "bleu"}, {"name": "chrf"}, {"name": "exact_match"}],
                            gates=[{"metric": "bleu", "min_delta": 10}],
                            description="Short English sentences translated into Simplified Chinese.",
                            rates={BASE: 0.12, "full": 0.9, "lora": 0.7}),
}


def _tool_example(rng: random.Random, i: int, correct: bool, right_name: bool) -> tuple[str, str, str]:
    tool, (slot, values) = rng.choice(list(TOOLS.items()))
    value = rng.choice(values)
    prompt = f"Request {i}: please use {tool.replace('_', ' ')} with {slot} {value}."
    ref = f'{{"name": "{tool}", "arguments": {{"{slot}": "{value}"}}}}'
    if correct:
        return prompt, ref, ref
    name = tool if right_name else rng.choice([t for t in TOOLS if t != tool])
    wrong = rng.choice([v for v in values if v != value])
    return prompt, ref, f'{{"name": "{name}", "arguments": {{"{slot}": "{wrong}"}}}}'


def _zh_example(rng: random.Random, correct: bool) -> tuple[str, str, str]:
    subj, verb, obj = rng.choice(list(ZH)), rng.choice(list(ZH_VERBS)), rng.choice(list(ZH_OBJECTS))
    verb_en = verb + ("s" if subj in ("The teacher", "My father") else "")
    prompt = f"翻译这句话：'{subj} {verb_en} {obj}.'"
    ref = f"{ZH[subj]}{ZH_VERBS[verb]}{ZH_OBJECTS[obj]}。"
    if correct:
        return prompt, ref, ref
    other = rng.choice([o for o in ZH_OBJECTS if o != obj])
    return prompt, ref, f"{ZH[subj]}{ZH_VERBS[verb]}{ZH_OBJECTS[other]}。"


def _rows(suite: str, n: int, states: list[str], rng: random.Random, hostile: bool) -> dict[str, list[Prediction]]:
    spec = SUITES[suite]
    rows: dict[str, list[Prediction]] = {s: [] for s in states}
    for i in range(1, n + 1):
        ex_id = f"test-{i:05d}"
        seed = rng.random()
        for state in states:
            passed = random.Random(f"{seed}-{state}").random() < spec["rates"].get(state, 0.5)
            draw = random.Random(f"{seed}-text")  # same prompt and reference in every state
            if suite == "agent_tools":
                prompt, ref, out = _tool_example(draw, i, passed, right_name=rng.random() < 0.6)
                name_ok = out.split('"arguments"')[0] == ref.split('"arguments"')[0]
                scores = {"exact_match": float(passed), "tool_name": float(name_ok), "tool_arguments": float(passed)}
            else:
                prompt, ref, out = _zh_example(draw, passed)
                scores = {"bleu": 100.0 if passed else 42.7, "chrf": 100.0 if passed else 61.3,
                          "exact_match": float(passed)}
            if hostile and i <= len(HOSTILE):
                ex_id = HOSTILE[i - 1] if i == 2 else ex_id
                prompt, out = prompt + " " + HOSTILE[i - 1], HOSTILE[(i + len(state)) % len(HOSTILE)] + out
                ref = ref + HOSTILE[i - 1]
            rows[state].append(Prediction(
                id=ex_id, state=state, suite=suite, prompt=prompt, model_input=f"<|user|>{prompt}<|end|><|assistant|>",
                reference=ref, output=out, scores=scores,
                reasons={} if passed else {spec["primary"]: "output differs from the reference"}))
    return rows


def _interval(value: float, n: int, scale: float) -> tuple[float, float]:
    """Wilson for fractions; a proportional stand-in for corpus scores."""
    if scale == 1:
        z = 1.96
        centre = (value + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(value * (1 - value) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)
    half = 100 * 1.96 * math.sqrt(max(value / 100 * (1 - value / 100), 0.01) / n)
    return max(0.0, value - half), min(100.0, value + half)


def _comparison(suite, metric, baseline, state, a_rows, b_rows, scale, alpha) -> dict:
    a = [r.scores[metric] for r in a_rows]
    b = [r.scores[metric] for r in b_rows]
    n, delta = len(a), sum(b) / len(b) - sum(a) / len(a)
    only_a = sum(x > y for x, y in zip(a, b))
    only_b = sum(y > x for x, y in zip(a, b))
    z = (only_b - only_a) / math.sqrt(only_a + only_b) if only_a + only_b else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))
    half = 1.96 * scale * math.sqrt(max(only_a + only_b, 1)) / n
    table = {"both_pass": sum(x and y for x, y in zip(a, b)), "only_baseline": only_a, "only_state": only_b,
             "both_fail": sum(not x and not y for x, y in zip(a, b))} if scale == 1 else None
    return dict(suite=suite, metric=metric, baseline=baseline, state=state, delta=delta, ci_low=delta - half,
                ci_high=delta + half, test="mcnemar-exact" if scale == 1 else "approximate-randomization",
                p_value=p, p_holm=p, significant=False, verdict="", table=table,
                mde=2.8 * math.sqrt(0.25 / n) if scale == 1 else None,
                signature=None if scale == 1 else "nrefs:1|bs:1000|ar:1000|seed:12345|tok:zh|v:2.6.0")


def _holm(raw: list[dict], alpha: float) -> list[Comparison]:
    order = sorted(range(len(raw)), key=lambda i: raw[i]["p_value"])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(raw) - rank) * raw[i]["p_value"]))
        raw[i]["p_holm"] = running
    for c in raw:
        c["significant"] = c["p_holm"] < alpha
        c["verdict"] = "no detectable change" if not c["significant"] else ("gain" if c["delta"] > 0 else "loss")
    return [Comparison(**c) for c in raw]


def _cost(name: str, rng: random.Random) -> Cost:
    full = name == "full"
    total = 688_768
    trainable = total if full else 24_576 * (2 if name == "lora" else 1)
    curve = [(s, 7.0 * math.exp(-s / (60 if full else 90)) + 0.15 + 0.05 * rng.random()) for s in range(1, 905, 5)]
    return Cost(wall_seconds=32.7 if full else 24.1, train_seconds=31.6 if full else 23.0, trainable_params=trainable,
                total_params=total, peak_memory_mb=632.1 if full else 540.8, memory_kind="rss", train_tokens=398_264,
                tokens_per_second=12_584.4 if full else 17_316.0, steps=904, loss_curve=curve)


def make_run(root: Path, *, suites: dict[str, int] | None = None, backends: tuple[str, ...] = ("full", "lora"),
             stats: bool = True, hostile: bool = False, seed: int = 0, run_id: str = "20260101-000000-synth") -> Path:
    """Write `root/run_id/` with run.json and predictions; `suites` maps suite name → test examples."""
    suites = suites or {"agent_tools": 240, "translate_en_zh": 120}
    rng = random.Random(seed)
    run_dir = Path(root) / run_id
    states = [BASE, *backends]
    infos, results, raw = [], [], []
    explained = ExplanationsInfo(cap=synthetic_data.CAP, sample=synthetic_data.SAMPLE)
    for name, n in suites.items():
        spec = SUITES[name]
        rows = _rows(name, n, states, rng, hostile)
        for state in states:
            save_predictions(run_dir, state, name, rows[state])
        infos.append(SuiteInfo(name=name, version="1.0", content_hash=hashlib.sha256(name.encode()).hexdigest(),
                               path=f"suites/{name}", language=spec["language"], n_train=5 * n, n_test=n,
                               metrics=[_metric_info(m, spec["language"]) for m in spec["metrics"]],
                               gates=spec["gates"],
                               description=spec["description"] + (HOSTILE[0] if hostile else "")))
        if stats and backends:
            synthetic_data.explain(run_dir, infos[-1], rows, states, seed, explained)
        for m in spec["metrics"]:
            scale = 100.0 if m["name"] in ("bleu", "chrf") else 1.0
            for state in states:
                value = sum(r.scores[m["name"]] for r in rows[state]) / n
                low, high = _interval(value, n, scale) if stats else (None, None)
                results.append(Result(state=state, suite=name, metric=m["name"], value=value, n=n,
                                      ci_low=low, ci_high=high,
                                      ci_method=("wilson" if scale == 1 else "bootstrap") if stats else None))
            if stats:
                raw += [_comparison(name, m["name"], BASE, b, rows[BASE], rows[b], scale, 0.05) for b in backends]
                if len(backends) > 1 and m["name"] == spec["primary"]:
                    raw.append(_comparison(name, m["name"], backends[0], backends[1], rows[backends[0]],
                                           rows[backends[1]], scale, 0.05))
    record = RunRecord(
        run_id=run_id, status="complete", created="2026-01-01T00:00:00+00:00", model="tiny",
        model_path="/cache/harness/tiny-0123456789abcdef", seed=seed, suites=infos,
        model_note="`tiny` starts from random weights; near-zero scores before tuning are expected."
                   + (" " + HOSTILE[1] if hostile else ""),
        backends=[BackendRun(name=b, settings={"learning_rate": 0.003 if b == "full" else 0.01, "epochs": 8.0,
                                                "batch_size": 16, **({"r": 16, "alpha": 32} if b != "full" else {})},
                             artefact=f"models/{b}", kind="full" if b == "full" else "adapter", cost=_cost(b, rng))
                  for b in backends],
        requested_backends=list(backends), environment={
            "python": "3.11.9", "platform": "Linux-x86_64", "device": "cpu", "git_commit": "b18a098c0ffee",
            "code_hash": "5f36fb0a11ce", "packages": {"torch": "2.6.0", "transformers": "5.0.0", "trl": "1.16.0",
                                                     "peft": "0.21.0", "sacrebleu": "2.6.0"}},
        config_key="c0nf1gk3y" + "0" * 55, results=results,
        comparisons=_holm(raw, 0.05) if stats else [],
        checks=_checks(backends) if stats else {},
        data=synthetic_data.data_report(suites, backends, list(TOOLS)) if stats else None,
        explanations=explained if explained.counts else None,
        retention={"general_en": {BASE: 3.21, **{b: 3.35 if b == "lora" else 3.92 for b in backends}}} if stats else {},
    )
    save_record(run_dir, record)
    if stats:
        record_gates(run_dir, record, decide_all(record, str(run_dir)), "harness run")
    return run_dir


def _metric_info(spec: dict, language: str) -> MetricInfo:
    corpus = spec["name"] in ("bleu", "chrf")
    options = {k: v for k, v in spec.items() if k != "name"}
    return MetricInfo(name=spec["name"], kind="corpus" if corpus else "passfail", scale=100.0 if corpus else 1.0,
                      digits=2 if corpus else 3, options=options,
                      signature=f"nrefs:1|case:mixed|eff:no|tok:{'zh' if language == 'zh' else '13a'}|smooth:exp|"
                                "version:2.6.0" if spec["name"] == "bleu" else None)


def _checks(backends) -> dict:
    return {
        "model_changed": {b: {"differ": 180, "compared": 240, "ok": True} for b in backends},
        "reload_equivalence": {b: {"checked": 8, "mismatches": [], "ok": True} for b in backends},
        "batch_invariance": {s: {"checked": 8, "mismatches": [], "ok": True} for s in [BASE, *backends]},
    }
