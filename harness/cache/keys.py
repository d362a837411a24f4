"""Every cache key, made here from one declaration of what decides each kind of result.

A cached result is reused when its key matches, so a key must cover everything that can change the result,
and nothing else (or an edit that changes no result recomputes it). `DECIDES` says, per kind, which inputs its
key function takes (its parameters, in order), which source files (relative to `harness/`) stand for the code
that computes the result, whose class's sources are added, and which packages' versions count.
`TUNING_SETTINGS` says of every backend setting whether it decides what training produces; `deciding` applies
it inside the keys that cover settings, so no caller can forget to. tests/test_keys.py checks the functions
against the declaration, fails for a backend setting that is not declared, and pins keys of fixed inputs to
the values the harness made before the keys lived here: existing caches stay valid.

To change what decides a kind, change its entry and its function together; bump `GENERATION_VERSION` or
`TUNING_VERSION` when results change in a way the hashed sources do not show.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .fingerprint import class_sources, package_versions, source_hash
from .store import digest

HARNESS = Path(__file__).resolve().parents[1]
"""The folder `Decides.code` is relative to."""

# The kinds of cached entries in the store, and the other keyed kinds of result.
OUTPUTS, LOSSES, EXPLANATIONS = "outputs", "losses", "explanations"
COMPARISONS, DATA_REPORTS, TUNED = "comparisons", "data reports", "tuned"
MODEL, CHECKPOINTS, RELOAD_CHECK = "generating model", "checkpoints", "reload check"
BATCH_SIZE, RUN_CONFIG, RUN_CODE = "batch size", "run configuration", "run code"
JUDGE_ANSWERS = "judge answers"
SCORES, EVALUATIONS = "scores", "evaluations"

AGAIN = "batch-invariance check"
"""Marks the batch-invariance check's second outputs: same input and settings, another batching, cached apart
so that a warm run compares outputs of two batchings rather than one cached output with itself."""
GENERATION_VERSION = 1
"""Bump when generation changes in a way its source files do not show."""
TUNING_VERSION = 2
"""Bump when what a tuning key covers, or what a cached entry records, changes (2: the hashes of the files
saved beside a tuned model)."""
MODEL_PACKAGES = ("torch", "transformers", "tokenizers", "peft")
TRAINING_PACKAGES = ("torch", "transformers", "tokenizers", "peft", "trl", "datasets", "accelerate")
STATS_PACKAGES = ("numpy", "scipy", "sacrebleu")
DATA_PACKAGES = ("transformers", "tokenizers")
SCORING_PACKAGES = ("numpy", "scipy", "sacrebleu", "rouge-score", "nltk")


@dataclass(frozen=True)
class Decides:
    """What decides one kind of result."""

    key: str
    """The function here that makes its key."""
    inputs: tuple[str, ...]
    """That function's parameters, in order: the inputs the key covers."""
    code: tuple[str, ...] = ()
    """Source files (or globs), relative to `harness/`, whose hash stands for the code that computes it."""
    class_code: str | None = None
    """The input whose class's source files (and its bases') are hashed too (a list: each item's class's)."""
    packages: tuple[str, ...] = ()
    """Packages whose installed versions are in the key."""
    leaves_out: str = ""
    """What is deliberately not in the key: changing it reuses the result."""


DECIDES: dict[str, Decides] = {
    MODEL: Decides("model_key", ("model", "adapter", "dtype", "device"), ("models/generate.py", "models/loading.py"),
                   packages=MODEL_PACKAGES, leaves_out="where the model's files are: copies are the same model"),
    OUTPUTS: Decides("output_key", ("model_key", "model_input", "max_new_tokens", "stop", "again"),
                     leaves_out="the batch size, gates, metrics, other examples"),
    LOSSES: Decides("loss_key", ("model_key", "model_input", "reference")),
    EXPLANATIONS: Decides("explanation_keys", ("model_key", "items"), ("models/explain.py",),
                          leaves_out="the example's id, state and suite (the run names them)"),
    SCORES: Decides("score_keys", ("metric", "options", "items"), ("metrics/sandbox/*.py",), class_code="metric",
                    leaves_out="the example's id, state and suite, the metric's name in the suite and its `when:`; "
                               "a score the wall-clock limit decided is not stored (it depends on the machine's load)"),
    EVALUATIONS: Decides("evaluation_key", ("metrics", "suite", "state", "seed", "examples", "model_inputs", "outputs"),
                         ("evaluation/evaluate.py", "metrics/**/*.py", "stats/*.py", "record/outcome.py",
                          "suitedef/suite.py"), class_code="metrics", packages=SCORING_PACKAGES,
                         leaves_out="gates, other suites and states; suites with their own `evaluate:` code are "
                                    "never cached"),
    COMPARISONS: Decides("comparison_key", ("metric", "info", "baseline", "state", "base_rows", "state_rows", "seed",
                                            "alpha"),
                         ("stats/compare.py", "stats/methods.py"), class_code="metric", packages=STATS_PACKAGES,
                         leaves_out="gates, other metrics and states"),
    DATA_REPORTS: Decides("data_report_key", ("suites", "model", "fingerprint", "max_lengths"),
                          ("dataquality/report.py", "dataquality/similarity.py", "dataquality/text.py",
                           "dataquality/tokenlengths.py",
                           "models/loading.py", "models/toolprompt.py", "record/data.py"), packages=DATA_PACKAGES,
                          leaves_out="anything outside the suites and the tokenizer"),
    TUNED: Decides("tuning_key", ("base_fingerprint", "examples", "backend", "backend_class", "settings", "seed",
                                  "device", "processes", "pairs", "reward"),
                   ("models/loading.py", "models/toolprompt.py", "models/training_tokens.py"),
                   class_code="backend_class",
                   packages=TRAINING_PACKAGES,
                   leaves_out="result-free settings, gates, test examples, metrics (but a reward-trained backend's "
                              "reward metrics, weights and their scoring code), generation settings"),
    CHECKPOINTS: Decides("training_identity", ("backend", "base_model", "examples", "settings", "seed", "processes",
                                               "pairs"),
                         leaves_out="result-free settings (a resumed training equals an uninterrupted one)"),
    RELOAD_CHECK: Decides("reload_check_key", ("model_input", "max_new_tokens", "stop")),
    BATCH_SIZE: Decides("batch_size_key", ("architecture", "device_name", "memory", "dtype", "prompt_tokens",
                                           "new_tokens"), leaves_out="the weights: a tuned copy shares its base's"),
    RUN_CONFIG: Decides("config_key", ("model_id", "suites", "settings", "seed", "code_hash"),
                        leaves_out="the batch size, suites' gates, rubric and description, result-free settings"),
    JUDGE_ANSWERS: Decides("judge_key", ("judge_fingerprint", "prompt", "decoding", "sample_seed"),
                           ("judging/judges.py",), packages=MODEL_PACKAGES,
                           leaves_out="the suite, metric, state and example id: the same question to the same "
                                      "judge with the same decoding is the same answer"),
    RUN_CODE: Decides("code_hash", ("packages",), ("**/*.py",), leaves_out="files that are not Python"),
}

TUNING_SETTINGS: dict[str, bool] = {
    # every backend (harness.tuning.contract.TuneSettings)
    "learning_rate": True, "epochs": True, "max_steps": True, "batch_size": True, "warmup_steps": True,
    "lr_scheduler": True, "weight_decay": True, "max_length": True,
    "checkpoint_every": False,  # a training resumed from a checkpoint equals an uninterrupted one
    # lora, dora, qlora
    "r": True, "alpha": True, "dropout": True, "target_modules": True, "modules_to_save": True,
    # qlora
    "quant_type": True, "double_quant": True,
    # ia3
    "feedforward_modules": True,
    # prompt_tuning
    "virtual_tokens": True, "init": True, "init_text": True,
    # freeze
    "trainable_layers": True, "train_head": True, "extra_modules": True,
    # preference backends (harness.tuning.contract.PreferenceSettings): how the harness builds the pairs
    "pairs": True, "samples_per_prompt": True, "max_prompts": True, "sample_temperature": True, "sample_top_p": True,
    "reference_as_chosen": True,
    # dpo (and grpo: beta, the KL coefficient)
    "beta": True, "loss_type": True, "method": True,
    # grpo
    "tune": True, "num_generations": True, "max_completion_length": True, "temperature": True,
    "prompts": True, "probe_prompts": True,  # which prompts it trains on, and the probe recorded with the artefact
}
"""Every setting of every registered backend → whether it decides what training produces (a result-free one is
recorded but left out of the tuning key, the checkpoints' identity and the run's configuration key). One that is
missing decides, to be safe; tests/test_keys.py fails naming it."""


def deciding(settings: dict) -> dict:
    """Resolved settings (as a dict) without those declared not to change what training produces."""
    return {k: v for k, v in settings.items() if TUNING_SETTINGS.get(k, True)}


def _code(kind: str, *classes: type) -> str:
    """Hash of the source files that stand for the code computing `kind` (and of `classes`' sources)."""
    files = [path for pattern in DECIDES[kind].code for path in HARNESS.glob(pattern)]
    return source_hash(files + [f for cls in classes for f in class_sources(cls)])


def _packages(kind: str) -> dict[str, str | None]:
    return package_versions(DECIDES[kind].packages)


def _short(*parts: Any, **dumps: Any) -> str:
    """The 16-hex keys that are not store entries (the reload check's, the batch-size memo's, the run's)."""
    return hashlib.sha256(json.dumps(list(parts), **dumps).encode()).hexdigest()[:16]


def _rendered(examples: Sequence[Any]) -> list:
    """Training examples as the backend receives them."""
    return [[ex.messages, ex.completion, getattr(ex, "tools", None)]
            + (["every turn"] if getattr(ex, "every_turn", False) else []) for ex in examples]


def pairs_hash(pairs: Sequence[Any]) -> str:
    """sha256 of preference pairs (`harness.tuning.contract.PreferencePair`) as a preference backend receives
    them: prompt, tools, both outputs and where each pair came from."""
    blob = json.dumps([[p.messages, p.tools, p.chosen, p.rejected, p.source, p.suite, p.example_id] for p in pairs],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --- the generation cache: a model's outputs, reference losses and explanations --------------------------------

def model_key(model: str, adapter: str | None, dtype: str, device: str) -> str:
    """The generating model: its and its adapter's fingerprints, dtype, device kind, generation code, packages."""
    return digest(model, adapter, dtype, device, f"{GENERATION_VERSION}:{_code(MODEL)[:16]}", _packages(MODEL))


def output_key(model_key: str, model_input: str, max_new_tokens: int, stop: Sequence[str], again: bool) -> str:
    """A greedy output: the exact model input and the generation settings (`again`: the batch-invariance check's
    second output)."""
    return digest(model_key, OUTPUTS, model_input, max_new_tokens, list(stop), AGAIN if again else "")


def judge_key(judge_fingerprint: str, prompt: str, decoding: dict, sample_seed: int | None) -> str:
    """A judge's raw answer: the judge (a local model's content fingerprint, or its endpoint and model name), the
    exact prompt, the decoding settings and, when sampling, the sample's seed."""
    return digest(judge_fingerprint, JUDGE_ANSWERS, prompt, decoding, sample_seed, _code(JUDGE_ANSWERS)[:16],
                  _packages(JUDGE_ANSWERS))


def loss_key(model_key: str, model_input: str, reference: str) -> str:
    """A reference's summed negative log-likelihood and token count."""
    return digest(model_key, LOSSES, model_input, reference)


def explanation_keys(model_key: str, items: Sequence[Any]) -> list[str]:
    """Explanations of `items` (`harness.models.explain.Item`s): the explaining code, the exact model input,
    reference, output, other states' outputs and whether the attention view is recorded."""
    code = _code(EXPLANATIONS)
    return [digest(model_key, EXPLANATIONS, code, it.prompt, it.reference, it.output, it.other_outputs, it.attention)
            for it in items]


# --- scores of costly metrics (those that run code) ------------------------------------------------------------

def score_keys(metric: Any, options: dict, items: Sequence[tuple[str, str, dict]]) -> list[str]:
    """Scores of a metric whose scoring costs more than a lookup (`Metric.cached`: executed code): its code (its
    class's sources and the code sandbox's), language, options (the suite's preamble among them) and signature
    (the sandbox's limits and the isolation it has here), and per item the output, the reference and the fields
    the metric reads (the hidden tests)."""
    head = [SCORES, _code(SCORES, type(metric)), metric.language, options, metric.signature]
    return [digest(*head, output, reference, fields) for output, reference, fields in items]


def evaluation_key(metrics: Sequence[tuple[Any, Any]], suite: str, state: str, seed: int, examples: list,
                   model_inputs: list[str], outputs: list[str]) -> str:
    """One state's outputs on one suite's examples, scored and aggregated (values and intervals): each metric's
    record info (name, kind, options, `when:`), language, class sources and (for costly ones) signature, the
    suite's and state's names (the rows carry them), the seed of the intervals, the examples (id, messages,
    reference, fields, tools, few-shot ids), the exact model inputs and outputs, and the scoring and statistics
    code and packages."""
    described = [[info.model_dump(mode="json"), metric.language, metric.signature if metric.cached else None]
                 for metric, info in metrics]
    code = _code(EVALUATIONS, *(type(metric) for metric, _ in metrics))
    return digest(EVALUATIONS, code, _packages(EVALUATIONS), described, suite, state, seed, examples, model_inputs,
                  outputs)


# --- run-level caches ------------------------------------------------------------------------------------------

def comparison_key(metric: Any, info: Any, baseline: str, state: str, base_rows: list, state_rows: list,
                   seed: int, alpha: float) -> str:
    """A paired comparison: the metric (its record info and code), both sides' rows, seed, the level of its
    one-sided bounds (alpha), statistics code."""
    name = info.name

    def side(rows):
        return [[r.id, r.output, r.reference, r.scores.get(name)] for r in rows]

    return digest(_code(COMPARISONS, type(metric)), _packages(COMPARISONS), info.model_dump(mode="json"), baseline,
                  state, side(base_rows), side(state_rows), seed, alpha)


def data_report_key(suites: list, model: str, fingerprint: str, max_lengths: dict[str, int]) -> str:
    """A data-quality report: each suite's content hash and test sample, the model's name and fingerprint (its
    tokenizer counts the lengths), the backends' max_length, and the code and packages that measure."""
    return digest(_code(DATA_REPORTS), _packages(DATA_REPORTS), suites, model, fingerprint, max_lengths)


# --- tuning ----------------------------------------------------------------------------------------------------

def tuning_key(base_fingerprint: str, examples: Sequence[Any], backend: str, backend_class: type, settings: dict,
               seed: int, device: str, processes: int, pairs: Sequence[Any] | None = None,
               reward: dict | None = None) -> str:
    """A tuned artefact: the starting model's fingerprint (a chain's: its upstream's tuning key), the training
    examples, the backend's name, deciding settings and code (its class's sources and the model helpers every
    backend loads with), the seed, the training packages, the device kind and the number of training processes;
    for a preference backend, the pairs' content hash; for a reward-trained backend, its reward (each suite's
    reward metrics and weights). Without pairs or reward, the parts are those of keys made before either."""
    extra = ([] if pairs is None else [pairs_hash(pairs)]) + ([] if reward is None else [reward])
    return digest(TUNING_VERSION, base_fingerprint, _rendered(examples), backend, deciding(settings), seed,
                  _code(TUNED, backend_class), _packages(TUNED), device, str(processes), *extra)


def training_identity(backend: str, base_model: str, examples: Sequence[Any], settings: dict, seed: int,
                      processes: int, pairs: Sequence[Any] | None = None) -> str:
    """What a checkpoint must have been made by to be resumed: the same backend, base model, examples, deciding
    settings, seed and number of processes (each process keeps its own RNG state), and preference pairs."""
    extra = [] if pairs is None else [pairs_hash(pairs)]
    blob = json.dumps([backend, base_model, _rendered(examples), deciding(settings), seed, processes, *extra],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --- small keys outside the store ------------------------------------------------------------------------------

def reload_check_key(model_input: str, max_new_tokens: int, stop: Sequence[str]) -> str:
    """What decides a greedy output besides the weights, as the reload check records it beside the output of the
    model as trained: the exact model input and the generation settings."""
    return _short(model_input, max_new_tokens, list(stop), ensure_ascii=False)


def batch_size_key(architecture: str, device_name: str, memory: int, dtype: str, prompt_tokens: int,
                   new_tokens: int) -> str:
    """The remembered largest generation batch: what decides memory, not the weights."""
    return _short(architecture, device_name, memory, dtype, prompt_tokens, new_tokens)


def config_key(model_id: str | list[str], suites: Sequence[tuple[str, int | None]], settings: dict[str, dict],
               seed: int, code_hash: str) -> str:
    """A run's results: the model, each suite's results hash (and test sample when --limit took one), each
    state's deciding settings, the seed and the code."""
    data = [h if limit is None else [h, limit] for h, limit in suites]
    decided = {state: deciding(values) for state, values in settings.items()}
    return _short(model_id, data, decided, seed, code_hash, sort_keys=True)


def code_hash(packages: Sequence[Path]) -> str:
    """Hash of the harness's sources and those of `packages` (the registered backends'): a change to them may
    change results."""
    h = hashlib.sha256()
    for package in [HARNESS, *packages]:
        for path in sorted(p for pattern in DECIDES[RUN_CODE].code for p in package.glob(pattern)):
            h.update(path.relative_to(package.parent).as_posix().encode() + path.read_bytes())
    return h.hexdigest()[:16]
