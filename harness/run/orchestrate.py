"""A run: evaluate the base model, tune it with each backend, evaluate each tuned model.

Each finished step is written to the run directory at once (atomically), so a run that stops
half way resumes where it stopped (`harness run --resume RUN_DIR`); a training it interrupted
resumes from its last checkpoint (`tuning.py`). Tuned models are always evaluated as reloaded
from disk: what is measured is what was saved.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from harness.cache import CACHED_KINDS, DATA_REPORTS, Cache, GenerationCache, Store, keys
from harness.common.errors import HarnessError
from harness.dataquality.report import data_report
from harness.evaluation import checks, explanations
from harness.evaluation.analysis import analyse
from harness.evaluation.evaluate import aggregate, evaluate_outputs, generate_test, prompts_for, run_episode_suite
from harness.evaluation.gates import decide_all, record_gates
from harness.judging import check_judges, judge_run
from harness.models.loading import TINY, check_loadable, is_adapter_dir, load_model, resolve_model_path
from harness.record import (
    BASE,
    Advice,
    CacheUse,
    Checks,
    DataReport,
    Environment,
    Prediction,
    Result,
    RunRecord,
    SuiteCode,
    SuiteInfo,
    VariantResult,
    load_record,
    save_predictions,
    save_record,
    strategies,
)
from harness.runtime import distributed
from harness.stats.sequential import STAGES, stage_record
from harness.suitedef.suite import (
    Suite,
    check_unique_names,
    find_suites,
    limited,
    load_suite,
    results_hash,
    staged,
    with_fewshot,
)
from harness.suitedef.trust import trusted
from harness.tuning import settings as backend_settings
from harness.tuning.pairs import check_pair_sources, sheets_by_default
from harness.tuning.registry import backend_packages, usable_backend
from harness.tuning.reward import reward_checks, reward_warnings
from harness.tuning.tune import check_rewards, discard_checkpoints, tune_state

from . import advice as run_advice
from .environment import check_code_sandbox, environment
from .request import DEFAULT_BACKENDS as DEFAULT_BACKENDS  # re-exported: the command line's defaults
from .request import DEFAULT_SUITES as DEFAULT_SUITES
from .request import RunRequest
from .request import request_from_record as request_from_record

START = "start"
"""Marks a chain's upstream settings in the run's configuration key."""
TINY_NOTE = ("`tiny` is a small Llama-architecture model with random weights, built by the harness; "
             "its tokenizer was trained on the suites' training text. Near-zero scores before tuning are expected.")


@dataclass
class Plan:
    request: RunRequest
    suites: list[Suite]
    model_path: str
    tunings: list[strategies.Tuning]
    settings: dict
    """Resolved settings by tuned state."""
    config_key: str
    cache: Cache | None = None
    trusted_code: list[SuiteCode] = field(default_factory=list)
    """The suites' own code this run loads, as the user trusted it."""
    start_settings: dict = field(default_factory=dict)
    """A chain's state → the resolved settings of the upstream training it starts from."""

    @cached_property
    def environment(self) -> Environment:
        """Where this run runs; found on first use (seeing the device imports torch, which gating a
        finished run never needs)."""
        return environment()


def plan(request: RunRequest) -> Plan:
    """Load and validate everything a run needs; no model is evaluated or trained yet."""
    if len(set(request.backends)) != len(request.backends):
        raise HarnessError("a backend is named twice", "--backend")
    if BASE in request.backends:
        raise HarnessError(f"'{BASE}' names the untuned model; it is not a backend", "--backend")
    suites = [limited(with_fewshot(load_suite(p, allow_outside_data=request.allow_outside_data), request.fewshot),
                      request.limit, request.seed) for p in find_suites(request.suites)]
    if request.stage is not None:
        suites = [staged(s, STAGES[request.stage], request.seed) for s in suites]
    check_code_sandbox(suites, request.allow_unsandboxed_code)
    check_judges(suites)
    check_unique_names(suites)
    suites, code = trusted(suites, request.trust_suite_code, request.approved_code)
    if request.backends and not any(s.train for s in suites if s.spec.role == "task"):
        raise HarnessError("no suite has a train split to tune on", "--suite")
    named = strategies.backends_named(request.backends)
    unused = sorted(set(request.overrides) - set(named))
    if unused:
        raise HarnessError(f"settings for backend {unused[0]!r}, which this run does not tune (backends: "
                           f"{', '.join(request.backends) or 'none'})", "--set/--backend-config")
    if request.adapter is not None and not is_adapter_dir(Path(request.adapter)):
        what = "is not a PEFT adapter folder (no adapter_config.json)" if Path(request.adapter).exists() \
            else "does not exist"
        raise HarnessError(what, request.adapter)
    if request.pairs_from is not None:
        request.overrides = sheets_by_default(request.backends, request.overrides, request.pairs_from)
    tunings = strategies.expand(request.backends, request.sweeps, request.train_seeds, request.seed,
                                request.overrides)
    for backend in named:
        usable_backend(backend)  # a backend this machine cannot run refuses before anything is made
    check_rewards(named, suites)
    with distributed.main_first():  # one process builds or fetches the model, the others find it in the cache
        model_path = resolve_model_path(request.model, suites, request.seed)
    check_loadable(model_path, request.model)  # before a run directory exists, not half way into one
    settings = {t.state: _resolve(t, model_path, request.overrides) for t in tunings}
    check_pair_sources(suites, {t.state: (t.backend, settings[t.state]) for t in tunings}, request.pairs_from,
                       request.allow_outside_data)
    starts = {t.state: backend_settings.resolve(t.starts_from, model_path, request.overrides).model_dump(mode="json")
              for t in tunings if t.starts_from is not None}
    decided = settings | {f"{state} {START}": values for state, values in starts.items()}
    key = config_key(request, suites, model_path, decided, keys.code_hash(backend_packages()))
    return Plan(request, suites, model_path, tunings, settings, key, Cache() if request.cache else None, code,
                starts)


def _resolve(t: strategies.Tuning, model_path: str, overrides: dict) -> dict:
    """One state's resolved settings; a bad swept value names the state."""
    try:
        return backend_settings.resolve(t.backend, model_path, strategies.point_overrides(overrides, t)).model_dump(
            mode="json")
    except HarnessError as e:
        if not t.point:
            raise
        raise HarnessError(f"{t.strategy}: {e}", "--sweep") from None


def config_key(request: RunRequest, suites: list[Suite], model_path: str, settings: dict, code_hash: str) -> str:
    """The run's `keys.config_key`: the model as named (the built tiny by its folder, which names its build;
    an adapter by its path), what decides each suite's results and the test sample --limit took, each state's
    resolved settings, the seed and `code_hash`."""
    name = Path(model_path).name if request.model == TINY else request.model
    model_id: str | list[str] = [name, str(Path(request.adapter).resolve())] if request.adapter else name
    return keys.config_key(model_id, [(results_hash(s), s.limit) for s in suites], settings, request.seed, code_hash)


def new_record(p: Plan, run_id: str) -> RunRecord:
    """A fresh record for a planned run: what was asked, before anything ran."""
    data = _data_report(p)
    return RunRecord(
        run_id=run_id, status="running", created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=p.request.model, model_path=p.model_path, adapter=p.request.adapter,
        model_note=TINY_NOTE if p.request.model == TINY else "",
        tools_note=next((s.tools_note for s in data.suites if s.tools_note), ""),
        seed=p.request.seed, requested_backends=p.request.backends, overrides=p.request.overrides,
        sweeps=p.request.sweeps, train_seeds=p.request.train_seeds, environment=p.environment,
        pairs_from=p.request.pairs_from,
        config_key=p.config_key, allow_outside_data=p.request.allow_outside_data, fewshot=p.request.fewshot,
        allow_unsandboxed_code=p.request.allow_unsandboxed_code,
        trusted_code=p.trusted_code,
        suites=[SuiteInfo(
            name=s.name, version=s.spec.version, content_hash=s.content_hash, path=str(s.path),
            language=s.spec.language, n_train=len(s.train), n_test=len(s.test), description=s.spec.description,
            metrics=s.metric_infos(), gates=list(s.spec.gates), rubric=s.spec.rubric,
            judge_calibration=s.spec.judge_calibration,
            role=s.spec.role, limit=s.limit, sources=s.sources, prompt_variants=1 + len(s.variants),
            fewshot=s.spec.fewshot.n if s.spec.fewshot else 0,
        ) for s in p.suites],
        checks=Checks(),
        data=data,
        sequential=None if p.request.stage is None else stage_record(p.request.stage),
    )


def _data_report(p: Plan) -> DataReport:
    """The data-quality report, from the cache when these suites' data was reported with this tokenizer and
    these lengths before (it tokenises every example and compares every pair of prompts)."""
    lengths = max_lengths(p.settings)
    fingerprint = p.cache.fingerprint(p.model_path) if p.cache is not None else None
    if p.cache is None or fingerprint is None:
        return data_report(p.suites, p.request.model, p.model_path, lengths)
    key = keys.data_report_key([[s.content_hash, s.limit] for s in p.suites], p.request.model, fingerprint, lengths)
    return DataReport.model_validate(p.cache.store.get_or_compute(
        DATA_REPORTS, key,
        lambda: data_report(p.suites, p.request.model, p.model_path, lengths).model_dump(mode="json")))


def max_lengths(settings: dict[str, dict]) -> dict[str, int]:
    """Backend → the `max_length` its resolved settings train with (backends without one are left out)."""
    return {name: int(values["max_length"]) for name, values in settings.items() if values.get("max_length")}


def execute(p: Plan, run_dir: Path, log=print) -> RunRecord:
    """Run every step not yet done in `run_dir`, saving the record after each.

    Under a launcher every process runs this: they generate and explain their shares of each suite
    and tune together (DDP, FSDP or DeepSpeed); only the main process scores, analyses and writes
    the run directory, and only its record is complete.
    """
    run_dir = Path(run_dir)
    main = distributed.is_main()
    log = log if main else _silent
    try:
        record = load_record(run_dir)
    except HarnessError:
        record = new_record(p, run_dir.name)
    if record.config_key != p.config_key:
        raise HarnessError("this run was made with other suites, model, settings or code; start a new run",
                           str(run_dir))
    if main:
        save_record(run_dir, record)
    for data in record.data.suites if record.data else []:
        for finding in data.findings:
            log(f"WARNING: data: {data.suite} {finding.message}")
    run_advice.advise(record, run_advice.before_training(p.tunings, p.settings, p.suites), log)
    if not _evaluated(record, BASE, p.suites):
        log(f"Evaluating the base model {p.request.model} on {len(p.suites)} suite(s)")
        hints = _evaluate_state(load_model(p.model_path, adapter=p.request.adapter, cache=p.cache), BASE, p, run_dir,
                                record)
        run_advice.advise(record, hints, log)
    for t in p.tunings:
        done = next((b for b in record.backends if b.name == t.state), None)
        if done is None:
            log(f"Tuning {t.state}" if t.state != t.backend else f"Tuning with {t.backend}")
            done = tune_state(t, p.suites, p.model_path, p.settings[t.state], p.cache, run_dir,
                              p.start_settings.get(t.state), p.request.pairs_from, p.request.allow_outside_data)
            record.backends.append(done)
            run_advice.advise(record, run_advice.after_training(done), log)
            if main:
                save_record(run_dir, record)
        if main:
            discard_checkpoints(run_dir, t.state)  # its artefact is saved and recorded (also after a kill right then)
        if not _evaluated(record, t.state, p.suites):
            log(f"Evaluating {t.state} (reloaded from {done.artefact})")
            _evaluate_state(load_model(str(run_dir / done.artefact), cache=p.cache), t.state, p, run_dir, record)
    pending_names = distributed.broadcast([s.name for s in explanations.pending_base(record, run_dir, p.suites)]
                                          if main else None)
    pending = [s for s in p.suites if s.name in pending_names]
    if pending:
        log(f"Explaining base on the examples that changed (reloading {p.request.model})")
        start = time.perf_counter()
        base = load_model(p.model_path, adapter=p.request.adapter, cache=p.cache)
        explanations.explain_base(base, run_dir, record, pending, time.perf_counter() - start)
        uses = _gathered_cache_use(base.cache, record.cache.get(BASE))
        if main and uses is not None:
            record.cache[BASE] = uses
        del base
        if main:
            save_record(run_dir, record)
    if not main:
        return record

    if judge_run(record, run_dir, p.suites, p.cache, p.request.seed, log):  # every state's outputs exist now
        save_record(run_dir, record)
    analyse(record, run_dir, p.suites, p.request.seed, p.cache)
    record.reward_checks = reward_checks(record)
    for line in reward_warnings(record.reward_checks):
        log(f"WARNING: {line}")
    record.status = "complete"
    record_gates(run_dir, record, decide_all(record, str(run_dir)), "harness run")
    for state in record.states:
        for problem in record.checks.failures(state):
            log(f"WARNING: {state}: {problem}")
    return record


def _silent(*_args) -> None:
    return None


def _evaluated(record: RunRecord, state: str, suites: list[Suite]) -> bool:
    return all(any(r.state == state and r.suite == s.name for r in record.results) for s in suites)


def _evaluate_state(model, state: str, p: Plan, run_dir: Path, record: RunRecord) -> list[Advice]:
    """Generate and explain, each process a share; on the main process score, check and save. Returns the
    hints base's scores give (few-shot prompts for a chat model that scored 0 zero-shot)."""
    evaluated: dict[str, str] = {}
    regenerated: dict[str, str] = {}
    main, batch_size, seed = distributed.is_main(), p.request.batch_size, p.request.seed
    episodic = [s.name for s in p.suites if s.environment is not None]
    for suite in p.suites:
        if suite.environment is not None:
            if main:  # one process runs every episode; nor are episodes explained token by token
                rows = run_episode_suite(model, suite, state, batch_size)
                save_predictions(run_dir, state, suite.name, rows)
                record.results = [r for r in record.results if (r.state, r.suite) != (state, suite.name)] + \
                    aggregate(suite, state, rows, seed)
                save_record(run_dir, record)
            continue
        primary, *variants = prompts_for(suite, state, seed)
        inputs = [model.render(ex.messages, ex.tools) for ex in primary]
        pick = checks.invariance_sample(model.token_lengths(inputs)) if main else []
        outputs, again = generate_test(model, suite, state, batch_size, primary, pick)
        variant_outputs = [generate_test(model, suite, f"{state}#{k}", batch_size, examples)[0]
                           for k, examples in enumerate(variants, 1)]
        if main:
            rows, results = _score_suite(model, suite, state, seed, run_dir, record, primary, inputs, outputs,
                                         list(zip(variants, variant_outputs)), p.cache.store if p.cache else None)
            evaluated |= {f"{suite.name}/{rows[i].id}": rows[i].output for i in pick}
            regenerated |= {f"{suite.name}/{rows[i].id}": out for i, out in zip(pick, again)}
        if state != BASE:  # the model is loaded anyway: explain what changed against base (every process a share)
            explanations.explain_state(model, state, suite, run_dir, record, seed)
        if main:
            record.results = [r for r in record.results if (r.state, r.suite) != (state, suite.name)] + results
            save_record(run_dir, record)
    # Each process generated its own share: the record counts what all of them read and computed.
    uses = _gathered_cache_use(model.cache)
    if main:
        record.checks.batch_invariance[state] = checks.with_episode_suites(
            checks.compare_outputs(regenerated, evaluated), episodic)
        if uses is not None:
            record.cache[state] = uses
        save_record(run_dir, record)
    hints = run_advice.after_base(record, p.suites, model.chat and p.request.model != TINY, p.request.fewshot) \
        if main and state == BASE else []
    del model
    gc.collect()
    return hints


def _score_suite(model, suite: Suite, state: str, seed: int, run_dir: Path, record: RunRecord,
                 primary: list, inputs: list[str], outputs: list[str],
                 variants: list[tuple[list, list[str]]], store: Store | None) -> tuple[list[Prediction], list[Result]]:
    """On the main process: score one suite's outputs and its prompt variants' (through the caches in `store`),
    save the predictions and the retention loss; (the prediction rows, the suite's aggregate results)."""
    rows, results = evaluate_outputs(suite, state, primary, inputs, outputs, seed, store)
    for k, (examples, outs) in enumerate(variants, 1):
        _, variant = evaluate_outputs(suite, f"{state}#{k}", examples,
                                      [model.render(ex.messages, ex.tools) for ex in examples], outs, seed, store)
        record.variant_results = [v for v in record.variant_results
                                  if (v.state, v.suite, v.variant) != (state, suite.name, k)]
        record.variant_results += [VariantResult(state=state, suite=suite.name, metric=r.metric, variant=k,
                                                 value=r.value, n=r.n) for r in variant]
    if suite.spec.role == "retention":
        loss = model.token_loss([model.render(ex.messages, ex.tools) for ex in suite.test],
                                [ex.reference for ex in suite.test])
        record.retention.setdefault(suite.name, {})[state] = round(loss, 6)
    save_predictions(run_dir, state, suite.name, rows)
    return rows, results


def _gathered_cache_use(cache: GenerationCache | None, before: CacheUse | None = None) -> CacheUse | None:
    """What every process read from and computed into a model's generation cache, summed and added to
    `before` (base is explained by a second load of the model). Collective: every process calls it."""
    uses = distributed.all_gather(cache_use(cache) if cache is not None else None)
    if cache is None:
        return None
    return CacheUse(**{k: sum(getattr(u, k) for u in [*uses, *([before] if before else [])])
                       for k in CacheUse.model_fields})


def cache_use(cache: GenerationCache) -> CacheUse:
    """What a model's generation cache served and computed in this process."""
    (out_hit, out_new), (loss_hit, loss_new), (expl_hit, expl_new) = (cache.use(k) for k in CACHED_KINDS)
    return CacheUse(outputs_from_cache=out_hit, outputs_generated=out_new, losses_from_cache=loss_hit,
                    losses_computed=loss_new, explanations_from_cache=expl_hit, explanations_computed=expl_new)
