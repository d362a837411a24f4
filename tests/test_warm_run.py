"""A repeated run costs almost nothing: with every generation, score and tuned model cached, `--processes N`
runs alone in the process that planned it (nothing launched, no jail started, no weights loaded), and its
record is the cold run's apart from times, ids, dates and what came from the caches."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.metrics.sandbox import runner
from harness.runtime import distributed, launch

from .conftest import cut_suite

needs_sandbox = pytest.mark.skipif(not runner.available(), reason="no sandbox (bubblewrap)")

VOLATILE = {"run_id", "created", "cache", "environment", "from_cache", "seconds", "restore_seconds"}
"""What a warm run may record differently: its id and date, where it ran (one process instead of two), what
came from the caches and how long explaining took."""


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("warm-suites")
    cut_suite("code_python", root / "code_python", 24, 8)
    cut_suite("agent_tools", root / "agent_tools", 40, 8)
    return root


def command(suites: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--suite", str(suites), "--limit", "6", "--out", str(out), "--set", "full.max_steps=3",
            "--set", "lora.max_steps=3", *extra]


def only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def stable(value):
    """A record without what may differ between a cold run and a warm one."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def record(run_dir: Path) -> dict:
    """run.json, the run's own folder named `RUN` (a gate's message names it)."""
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8").replace(str(run_dir), "RUN"))


@pytest.fixture(scope="module")
def cold(suites, tmp_path_factory) -> Path:
    """The cold run, made in this process but keyed as two processes' (the tuned models' cache key counts the
    training processes), so that the warm `--processes 2` run below can find it without the test launching two
    processes (tests/test_distributed.py launches them)."""
    out = tmp_path_factory.mktemp("cold")
    with distributed.standing_in_for(2):
        assert main(command(suites, out)) == 0
    return only_run(out)


@needs_sandbox
def test_a_cached_run_runs_alone_and_records_what_the_cold_run_did(cold, suites, tmp_path, monkeypatch, capsys):
    def forbidden(what):
        def fail(*_args, **_kwargs):
            raise AssertionError(f"a fully cached run {what}")
        return fail

    import transformers

    monkeypatch.setattr(launch, "relaunch", forbidden("launched processes"))
    monkeypatch.setattr(runner, "run_tests", forbidden("started a jail"))
    # explaining, scoring and the reload check read the caches: no model's weights load (only tokenizers)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", forbidden("loaded weights"))
    capsys.readouterr()
    assert main(command(suites, tmp_path, "--processes", "2")) == 0
    said = capsys.readouterr()
    warm = only_run(tmp_path)
    assert f"Run directory: {warm}" in said.out and "Evaluating the base model tiny" in said.out
    assert "Results on the test splits" in said.out  # the summary, after the held-back lines
    before, after = record(cold), record(warm)
    assert stable(after) == stable(before)
    assert (after["environment"]["world_size"], after["environment"]["results_from"]) == (1, 2)  # two processes' results
    assert before["environment"]["threads"] == after["environment"][
        "threads"]
    for state, use in after["cache"].items():
        assert use["outputs_generated"] == use["losses_computed"] == use["explanations_computed"] == 0, state
    assert all(b["from_cache"] for b in after["backends"])
    written = [f.relative_to(cold) for folder in ("predictions", "explanations") for f in (cold / folder).rglob("*")
               if f.is_file()]
    assert len(written) >= 12  # both suites' predictions in three states, and the explanations
    for name in written:
        assert (warm / name).read_bytes() == (cold / name).read_bytes(), name


def test_a_run_with_something_to_compute_launches_the_processes_and_leaves_nothing_behind(cold, suites, tmp_path,
                                                                                         monkeypatch, capsys):
    launched = []
    monkeypatch.setattr(launch, "relaunch", lambda argv, n: launched.append((argv, n)) or launch.Launched(0))
    argv = command(suites, tmp_path, "--set", "lora.max_steps=4", "--processes", "2")  # lora is not cached so
    assert main(argv) == 0
    assert launched == [(argv, 2)]
    assert list(tmp_path.iterdir()) == []  # the attempt's run directory is gone
    assert "Evaluating" not in capsys.readouterr().out  # and what it said was never shown


def test_a_cache_that_only_reads_refuses_to_compute(tmp_path):
    from harness.cache import Cache, NotCached
    from harness.cache.keys import OUTPUTS

    cache = Cache(tmp_path / "cache")
    generations = cache.generations(str(cold_model_dir(tmp_path)), None, "float32", "cpu")
    assert generations is not None
    assert generations.values(OUTPUTS, ["a"], lambda idx: ["A"]) == ["A"]
    reading = cache.reading_only().generations(str(cold_model_dir(tmp_path)), None, "float32", "cpu")
    assert reading is not None and reading.values(OUTPUTS, ["a"], lambda idx: ["?"]) == ["A"]
    with pytest.raises(NotCached, match="1 outputs"):
        reading.values(OUTPUTS, ["a", "b"], lambda idx: ["B"])
    assert cache.computing and generations.values(OUTPUTS, ["b"], lambda idx: ["B"]) == ["B"]


def cold_model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    return folder
