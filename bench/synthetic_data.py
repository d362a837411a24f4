"""The data report and the explanations a synthetic run carries, as `harness run` records them.

Token probabilities are drawn, not computed: a state that passes an example is confident on its
reference, one that fails loses confidence from where its output leaves the reference. Tokens are the
reference cut into words, punctuation and CJK characters, ended by `<|end|>`.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

from harness.record import (
    BASE,
    Attention,
    DataReport,
    Explanation,
    ExplanationsInfo,
    Finding,
    Histogram,
    Lengths,
    NextTokens,
    Overlap,
    Prediction,
    SplitData,
    SuiteData,
    SuiteInfo,
    Truncation,
    change_letter,
    save_explanations,
)

CAP, SAMPLE = 200, 20
_TOKEN = re.compile(r"[\u4e00-\u9fff]|\w+|[^\w\s]|\s+")


def data_report(suites: dict[str, int], backends: tuple[str, ...], tools: list[str]) -> DataReport:
    """A report for suites of n test and 5n train examples; agent_tools has findings, the others none."""
    out = []
    for name, n in suites.items():
        rng = random.Random(name)
        splits = []
        for split, size in (("train", 5 * n), ("test", n)):
            totals = [max(8, int(rng.gauss(32, 6))) for _ in range(size)]
            edges = [float(e) for e in range(0, 70, 5)]
            counts = [sum(lo <= t < lo + 5 for t in totals) for lo in range(0, 65, 5)]
            hist = Histogram(edges=edges, counts=counts)
            ordered = sorted(totals)
            labels = ({t: size // len(tools) + (i < size % len(tools)) for i, t in enumerate(tools)}
                      if name == "agent_tools" else {})
            splits.append(SplitData(split=split, n=size, labels=labels, lengths=Lengths(
                prompt=hist, completion=hist, total=hist, median=float(ordered[size // 2]),
                p95=float(ordered[int(0.95 * (size - 1))]), max=ordered[-1])))
        tools_suite = name == "agent_tools"
        findings = [
            Finding(kind="near_duplicate", split="train", count=3, ids=[["train-00004", "train-00157"]],
                    message="train: 3 prompts are near duplicates (similarity ≥ 0.9) of another"),
            Finding(kind="near_overlap", split="train/test", count=1, ids=[["test-00118", "train-00397"]],
                    message="train/test: 1 more test prompt is near duplicates of train prompts"),
        ] if tools_suite else []
        out.append(SuiteData(
            suite=name, language="en" if tools_suite else "zh", splits=splits,
            label_source="tool name" if tools_suite else None,
            overlap=Overlap(n_test=n, exact=0, near=int(tools_suite), fraction=int(tools_suite) / n,
                            pairs=[("test-00118", "train-00397", 0.9231)] if tools_suite else []),
            truncation=[Truncation(backend=b, max_length=512, truncated=0, into_completion=0, completion_lost=0,
                                   fraction=0.0) for b in backends],
            findings=findings))
    return DataReport(model="tiny", similarity="Jaccard similarity of character 5-grams (synthetic)", threshold=0.9,
                      suites=out)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text) + ["<|end|>"]


def _divergence(ref: list[str], out: list[str]) -> tuple[int | None, str | None]:
    content = ref[:-1]
    if out == content:
        return None, None
    for i, tok in enumerate(content):
        if i >= len(out) or out[i] != tok:
            return i, out[i] if i < len(out) else None
    return len(content), out[len(content)]


def explain(run_dir: Path, info: SuiteInfo, rows: dict[str, list[Prediction]], states: list[str], seed: int,
            explained: ExplanationsInfo) -> None:
    """Write explanations of the suite's flipped examples (capped per state) and a seeded sample."""
    judge = info.metric(info.passfail_metric) if info.passfail_metric else info.metrics[0]
    base = {r.id: r for r in rows[BASE]}
    order = [r.id for r in rows[BASE]]
    sample = set(random.Random(f"{seed}:{info.name}").sample(order, min(SAMPLE, len(order))))
    chosen: dict[str, set[str]] = {}
    for state in states[1:]:
        flipped = [r.id for r in rows[state] if change_letter(base[r.id], r, judge) in "IR"][:CAP]
        chosen[state] = set(flipped) | sample
    union = set().union(*chosen.values()) if chosen else set()
    first_flip = next((i for i in order if any(i in c - sample for c in chosen.values())), None)
    explained.attention[info.name] = first_flip or "not shown: no example flipped"
    by_id = {s: {r.id: r for r in rows[s]} for s in states}
    for state in states:
        ids = [i for i in order if i in (union if state == BASE else chosen.get(state, set()))]
        out = []
        for ex_id in ids:
            row, ref = by_id[state][ex_id], _tokens(by_id[state][ex_id].reference)
            others = [s for s in states if s != state] if state == BASE else [BASE]
            out.append(_explanation(row, ref, [_divergence(ref, _tokens(by_id[s][ex_id].output)[:-1])[0]
                                               for s in others], ex_id == first_flip))
        save_explanations(run_dir, state, info.name, out)
        explained.counts.setdefault(state, {})[info.name] = len(out)


def _explanation(row: Prediction, ref: list[str], other_positions: list[int | None], attention: bool) -> Explanation:
    rng = random.Random(f"{row.state}:{row.id}")
    own, generated = _divergence(ref, _tokens(row.output)[:-1])
    logprobs = [round(-rng.uniform(0.0, 0.2) if own is None or i < own else -rng.uniform(1.0, 6.0), 3)
                for i in range(len(ref))]
    positions = sorted({p for p in [own, *other_positions] if p is not None})
    top = [NextTokens(position=p, tokens=[ref[p], generated or "<|end|>", " the", ",", "\""],
                      probs=[0.61, 0.2, 0.05, 0.03, 0.01] if own is None else [0.2, 0.55, 0.05, 0.03, 0.01])
           for p in positions]
    attn = None
    if attention:
        prompt = _TOKEN.findall(row.model_input)[-48:]
        outs = _tokens(row.output)[:24]
        attn = Attention(rows=outs, columns=prompt,
                         weights=[[rng.randrange(0, 60) for _ in prompt] for _ in outs])
    return Explanation(id=row.id, state=row.state, suite=row.suite, tokens=ref, logprobs=logprobs, divergence=own,
                       generated=generated, top=top, attention=attn)
