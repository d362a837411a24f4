"""The data-quality report: what is wrong with a suite's data before any model trains on it.

Per suite and split: duplicates, near duplicates, conflicts, prompts the template renders alike,
empty references and references in the wrong script; train/test overlap (verbatim and near); token
lengths in the tokenizer of the model being tuned and what each backend's `max_length` cuts; label
balance and test labels that training never shows (warned only when train's labels repeat). Every
finding is a warning (`harness data check --strict` exits 1 on any); see `harness.record.data`
for what each field means.

Identity is decided on the data as the model sees it (the prompt: every turn with its role, and the
tools offered):
- duplicate: the same data record (every field but `id`) more than once;
- conflict: the same prompt with different references;
- identical render: the same prompt and reference from different records (the template, or the
  format, drops the field that tells them apart);
- near duplicate: different prompts whose similarity (`harness.similarity`) is at least the threshold.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter, defaultdict
from typing import Callable

from harness.metrics.toolcalls.compare import is_possible_answer
from harness.models.loading import Model, load_text_side
from harness.models.toolprompt import note as tools_note
from harness.record import DataReport, Finding, Overlap, SplitData, SuiteData, Truncation
from harness.record.data import MAX_IDS
from harness.suitedef.suite import Example, Suite

from .similarity import MEASURE, THRESHOLD, numbers, shingles, similar_pairs
from .text import listed
from .tokenlengths import lengths, shared_edges, token_counts, truncation

SCRIPTS = {
    "zh": ("CJK", r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "ja": ("Japanese", r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]"),
    "ko": ("Hangul", r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"),
    "ru": ("Cyrillic", r"[\u0400-\u04ff]"), "uk": ("Cyrillic", r"[\u0400-\u04ff]"),
    "bg": ("Cyrillic", r"[\u0400-\u04ff]"), "el": ("Greek", r"[\u0370-\u03ff]"),
    "ar": ("Arabic", r"[\u0600-\u06ff]"), "he": ("Hebrew", r"[\u0590-\u05ff]"),
    "hi": ("Devanagari", r"[\u0900-\u097f]"), "th": ("Thai", r"[\u0e00-\u0e7f]"),
}
"""Language (primary subtag) → the script its references must contain at least one character of."""
LABELS_REPEAT = 2.0
"""Train examples per distinct label from which test labels missing in train are a warning: below it labels
hardly repeat (each example its own function, say), and a test label new to train is the rule, not a gap."""


def data_report(suites: list[Suite], model: str, model_path: str, max_lengths: dict[str, int],
                threshold: float = THRESHOLD) -> DataReport:
    """The report for `suites`, lengths counted by `model`'s tokenizer (at `model_path`), truncation
    by each backend's `max_length` (backend → max_length)."""
    text_side = load_text_side(model_path, model)
    return DataReport(model=model, similarity=MEASURE, threshold=threshold,
                      suites=[suite_data(s, text_side, max_lengths, threshold) for s in suites])


def suite_data(suite: Suite, text_side, max_lengths: dict[str, int], threshold: float = THRESHOLD) -> SuiteData:
    """One suite's report."""
    splits = ([("train", suite.train)] if suite.train else []) + [("test", suite.test)]
    counts = {name: token_counts(text_side, examples) for name, examples in splits}
    edges = shared_edges(list(counts.values()))
    source, label_of = label_source(suite)
    labels = {name: Counter(label_of(ex) for ex in examples) if label_of else Counter() for name, examples in splits}
    findings: list[Finding] = []
    for name, examples in splits:
        findings += split_findings(suite, name, examples, threshold)
    overlap = None
    if suite.train:
        overlap = train_test_overlap(suite.train, suite.test, threshold)
        findings += _overlap_findings(overlap)
    cuts: list[Truncation] = []
    if suite.train and suite.spec.role == "task":  # retention suites are never trained on
        cuts = [truncation(b, n, suite.train, counts["train"], text_side.encoder_decoder)
                for b, n in max_lengths.items()]
        findings += _truncation_findings(cuts, len(suite.train))
    unseen = sorted(set(labels["test"]) - set(labels["train"])) if suite.train and label_of else []
    per_label = len(suite.train) / len(labels["train"]) if labels.get("train") else 0.0
    if unseen and per_label >= LABELS_REPEAT:  # labels that name each example (one function each) say nothing
        ids = [[ex.id for ex in suite.test if label_of and label_of(ex) == label][:MAX_IDS] for label in unseen]
        findings.append(Finding(kind="unseen_label", split="test", count=sum(labels["test"][u] for u in unseen),
                                message=f"test: {len(unseen)} label{'s' if len(unseen) > 1 else ''} never seen in "
                                        f"train: {listed(unseen)} (warned because train's labels repeat: "
                                        f"{per_label:.1f} examples per label, at least {LABELS_REPEAT:g})",
                                ids=ids[:MAX_IDS]))
    offers_tools = any(ex.tools for _, examples in splits for ex in examples)
    for name, examples in splits:
        findings += _tools_findings(text_side, name, examples)
    return SuiteData(
        suite=suite.name, language=suite.spec.language, label_source=source, unseen_labels=unseen, overlap=overlap,
        truncation=cuts, findings=findings,
        tool_rendering=text_side.tool_rendering if offers_tools else None,
        tools_note=tools_note(text_side.tool_rendering, text_side.name) if offers_tools else "",
        splits=[SplitData(split=name, n=len(examples),
                          lengths=lengths(counts[name], edges), labels=dict(labels[name].most_common()))
                for name, examples in splits])


def prompt_key(ex: Example) -> str:
    """The prompt as the model sees it, every turn with its role and the tools offered: equal keys are the
    same prompt."""
    return json.dumps([[[m["role"], m["content"]] for m in ex.messages], ex.tools], ensure_ascii=False,
                      sort_keys=True)


def prompt_text(ex: Example) -> str:
    """The prompt's text, turns joined by newlines: what near-duplicate similarity compares."""
    return "\n".join(m["content"] for m in ex.messages)


def _line_key(ex: Example) -> str:
    """What the example's data line holds besides its id; for an episode task, the whole task (its fields are
    only what the report shows of it, and tasks that share a goal differ in their openings and states)."""
    line = dataclasses.asdict(ex.task) if ex.task is not None else ex.fields
    return json.dumps({k: v for k, v in line.items() if k != "id"}, sort_keys=True, ensure_ascii=False, default=str)


def split_findings(suite: Suite, split: str, examples: list[Example], threshold: float = THRESHOLD) -> list[Finding]:
    """Duplicates, near duplicates, conflicts, identical renders, empty and wrong-script references."""
    found = []
    by_line = _groups(examples, _line_key)
    found.append(_finding("duplicate", split, by_line, "{n} example{s} repeat{v} an earlier data line exactly"))
    by_prompt = _groups(examples, prompt_key)
    conflicts = [g for g in by_prompt if len({ex.reference.strip() for ex in g}) > 1]
    found.append(_finding("conflict", split, conflicts,
                          "{n} example{s} repeat{v} an earlier prompt with a different reference"))
    same_output = [g for group in by_prompt for g in _groups(group, lambda ex: ex.reference.strip())]
    renders = [[same[0] for same in _groups(g, _line_key, keep_single=True)] for g in same_output]
    renders = [g for g in renders if len(g) > 1]  # one example per distinct record
    found.append(_finding("identical_render", split, renders, "{n} example{s} render{v} to the same prompt as an "
                          "example with other data: the template drops what tells them apart"))
    found.append(_finding("near_duplicate", split, near_groups(examples, threshold),
                          f"{{n}} prompt{{s}} {{is}} near duplicates (similarity ≥ {threshold:g}) of another"))
    empty = [ex for ex in examples if not ex.reference.strip()]
    found.append(_finding("empty_reference", split, [[ex] for ex in empty], "{n} reference{s} {is} empty",
                          singles=True))
    script = SCRIPTS.get(suite.spec.language.split("-")[0].lower())
    if script and not (split == "test" and suite.environment is not None):  # an episode's reference is a state
        name, pattern = script
        wrong = [ex for ex in examples if ex.reference.strip() and not re.search(pattern, ex.reference)]
        found.append(_finding("wrong_script", split, [[ex] for ex in wrong],
                              f"{{n}} reference{{s}} contain{{v}} no {name} character (suite language "
                              f"{suite.spec.language})", singles=True))
    return [f for f in found if f is not None]


def near_groups(examples: list[Example], threshold: float = THRESHOLD) -> list[list[Example]]:
    """Groups of examples joined by near-duplicate prompts (pairs with the same prompt are not near: they
    are duplicates, conflicts or identical renders)."""
    keys = [prompt_key(ex) for ex in examples]
    parent = list(range(len(examples)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    texts = [prompt_text(ex) for ex in examples]
    for i, j, _ in similar_pairs([shingles(t) for t in texts], threshold=threshold):
        if keys[i] != keys[j] and numbers(texts[i]) == numbers(texts[j]):
            parent[max(root(i), root(j))] = min(root(i), root(j))
    groups: dict[int, list[Example]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[root(i)].append(ex)
    return [g for g in groups.values() if len(g) > 1]


def train_test_overlap(train: list[Example], test: list[Example], threshold: float = THRESHOLD) -> Overlap:
    """Test prompts found in train verbatim, or with a train prompt at least `threshold` similar."""
    train_keys = {prompt_key(ex): ex.id for ex in train}
    best: dict[int, tuple[float, int]] = {}
    for i, j, sim in similar_pairs([shingles(prompt_text(ex)) for ex in test],
                                   [shingles(prompt_text(ex)) for ex in train], threshold):
        if numbers(prompt_text(test[i])) != numbers(prompt_text(train[j])):
            continue
        if i not in best or sim > best[i][0]:
            best[i] = (sim, j)
    exact = sum(prompt_key(ex) in train_keys for ex in test)
    pairs: list[tuple[str, str, float]] = []
    for i, ex in enumerate(test):
        if prompt_key(ex) in train_keys:
            pairs.append((ex.id, train_keys[prompt_key(ex)], 1.0))
        elif i in best:
            pairs.append((ex.id, train[best[i][1]].id, round(best[i][0], 4)))
    n = len(test)
    return Overlap(n_test=n, exact=exact, near=len(pairs), fraction=len(pairs) / n if n else 0.0,
                   pairs=pairs[:MAX_IDS])


def label_source(suite: Suite) -> tuple[str | None, Callable[[Example], str] | None]:
    """Where the suite's labels come from and how to read one: suite.yaml `labels: FIELD`, else the
    `name` of references that are all JSON tool calls (or BFCL possible answers), else none."""
    field = suite.spec.labels
    if field is not None:
        return f"field {field}", lambda ex: str(ex.fields.get(field, "(missing)"))
    names = [_tool_name(ex.reference) for ex in suite.train + suite.test]
    if names and all(n is not None for n in names):
        return "tool name", lambda ex: _tool_name(ex.reference) or ""
    return None, None


def _tool_name(reference: str) -> str | None:
    """The function a JSON tool call names; for a BFCL possible answer, its functions' names joined by `+`."""
    try:
        call = json.loads(reference)
    except ValueError:
        return None
    if is_possible_answer(call):
        return "+".join(sorted({name for answer in call for name in answer}))
    name = call.get("name") if isinstance(call, dict) else None
    return name if isinstance(name, str) else None


def _groups(examples: list[Example], key: Callable[[Example], str], keep_single: bool = False) -> list[list[Example]]:
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[key(ex)].append(ex)
    return [g for g in groups.values() if keep_single or len(g) > 1]


def _finding(kind, split: str, groups: list[list[Example]], template: str, singles: bool = False) -> Finding | None:
    """A finding from groups of examples (count: beyond the first of each group, or each one for `singles`)."""
    n = sum(len(g) if singles else len(g) - 1 for g in groups)
    if not n:
        return None
    words = {"n": n, "s": "" if n == 1 else "s", "v": "s" if n == 1 else "", "is": "is" if n == 1 else "are",
             "its": "its" if n == 1 else "their"}
    return Finding(kind=kind, split=split, count=n, message=f"{split}: " + template.format(**words),
                   ids=[[ex.id for ex in g][:MAX_IDS] for g in groups[:MAX_IDS]])


def tools_dropped(model: Model, examples: list[Example]) -> list[Example]:
    """Examples offering tools whose prompt renders the same with and without them: the model never sees the
    schemas (a template whose `tools` branch this conversation does not reach)."""
    return [ex for ex in examples if ex.tools and model.render(ex.messages, ex.tools) == model.render(ex.messages)]


def _tools_findings(model: Model, split: str, examples: list[Example]) -> list[Finding]:
    dropped = tools_dropped(model, examples)
    found = _finding("tools_dropped", split, [[ex] for ex in dropped], "{n} prompt{s} render{v} the same with and "
                     "without {its} function schemas: the model never sees them", singles=True)
    return [found] if found else []


def _overlap_findings(overlap: Overlap) -> list[Finding]:
    found = []
    pairs = [[t, r] for t, r, _ in overlap.pairs]
    if overlap.exact:
        found.append(Finding(kind="overlap", split="train/test", count=overlap.exact, ids=pairs,
                             message=f"train/test: {overlap.exact} of {overlap.n_test} test prompts occur verbatim "
                                     "in train"))
    if overlap.near > overlap.exact:
        n = overlap.near - overlap.exact
        found.append(Finding(kind="near_overlap", split="train/test", count=n, ids=pairs,
                             message=f"train/test: {n} more test prompt{'s are' if n > 1 else ' is'} near "
                                     "duplicates of train prompts"))
    return found


def _truncation_findings(cuts: list[Truncation], n_train: int) -> list[Finding]:
    """One finding per distinct max_length (backends sharing one cut the same examples)."""
    found = []
    by_length: dict[int, list[Truncation]] = defaultdict(list)
    for t in cuts:
        by_length[t.max_length].append(t)
    for max_length, same in sorted(by_length.items()):
        t, names = same[0], ", ".join(x.backend for x in same)
        if t.truncated:
            tail = ("their completions lose their end, so the model never sees them stop" if t.into_completion
                    == t.truncated else f"{t.into_completion} lose completion tokens")
            found.append(Finding(kind="truncated", split="train", count=t.truncated, ids=[t.ids],
                                 message=f"train: {t.truncated} of {n_train} examples exceed max_length {max_length} "
                                         f"({names}): {tail}"))
        if t.completion_lost:
            found.append(Finding(kind="completion_lost", split="train", count=t.completion_lost, ids=[t.ids],
                                 message=f"train: {t.completion_lost} example{'s' if t.completion_lost > 1 else ''}"
                                         f" leave{'' if t.completion_lost > 1 else 's'} no completion token within "
                                         f"max_length {max_length} ({names}): trained on nothing"))
    return found
