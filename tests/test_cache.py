"""The caches: shared safely by processes, keyed by exactly what decides a value, and invisible in results."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cache import Cache, GenerationCache, Store, TuningCache
from harness.cache.fingerprint import model_fingerprint
from harness.cache.keys import OUTPUTS
from harness.cli import main
from harness.record import load_explanations, load_predictions
from harness.run.dirs import new_run_dir
from harness.run.orchestrate import RunRequest, execute, plan

from .conftest import ROOT, cut_suite

STEPS = {"full": {"max_steps": 6}, "lora": {"max_steps": 6}}


# --- the store -------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from harness.cache import Store, TuningCache

    store, who = Store(sys.argv[1]), sys.argv[2]
    for i in range(150):
        store.put_many("outputs", [(f"shared-{i}", f"value-{i}"), (f"{who}-{i}", who)])
        assert store.get("outputs", f"shared-{i}") == f"value-{i}"
    TuningCache(store).save("same-key", Path(sys.argv[3]), "/base", "adapter", {"steps": 1}, who)
""")


def test_two_processes_share_the_store(tmp_path):
    artefact = tmp_path / "artefact"
    artefact.mkdir()
    (artefact / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    (artefact / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/base"}))
    root = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), who, str(artefact)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    store = Store(root)
    found = store.get_many("outputs", [f"shared-{i}" for i in range(150)] + [f"{w}-{i}" for w in "ab" for i in range(150)])
    assert len(found) == 450 and found["shared-7"] == "value-7" and found["b-149"] == "b"
    assert store.counts()["outputs"] == 450
    # both stored the same tuned artefact at once: one whole entry, restorable byte for byte
    dest = tmp_path / "restored"
    hit = TuningCache(store).restore("same-key", dest, "/base")
    assert hit is not None and hit.origin in ("a", "b")
    assert (dest / "adapter_model.safetensors").read_bytes() == (artefact / "adapter_model.safetensors").read_bytes()
    assert [p.name for p in store.tuned_dir.iterdir()] == ["same-key"]  # no temporary folder left behind


def test_opening_waits_out_a_lock_that_sqlite_reports_without_waiting(tmp_path, monkeypatch):
    # Two processes opening a new cache together: switching it to WAL can answer "database is
    # locked" at once (seen in CI); opening must wait for the other process, not fail.
    from harness.cache import store as store_module
    calls = []

    def locked(times: float) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise sqlite3.OperationalError("database is locked")
    store_module._retry_while_locked(lambda: locked(3))
    assert len(calls) == 4  # returned once the lock was gone
    with pytest.raises(sqlite3.OperationalError, match="no such table"):  # other errors are not retried
        store_module._retry_while_locked(lambda: sqlite3.connect(":memory:").execute("SELECT * FROM missing"))
    monkeypatch.setattr(store_module, "_BUSY_SECONDS", 0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # nor waited on for ever
        store_module._retry_while_locked(lambda: locked(float("inf")))


def test_file_hashes_are_remembered_until_the_file_changes(tmp_path):
    store = Store(tmp_path / "cache")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"a" * 1000)
    assert store.file_sha256(weights) == hashlib.sha256(b"a" * 1000).hexdigest()
    stat = weights.stat()
    # same size and time: the remembered hash is used, the file is not read again
    weights.write_bytes(b"b" * 1000)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert store.file_sha256(weights) == hashlib.sha256(b"a" * 1000).hexdigest()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a new time: hashed afresh
    assert store.file_sha256(weights) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_hub_models_are_fingerprinted_by_resolved_commit(tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--small"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    store = Store(tmp_path / "cache")
    assert model_fingerprint(store, "org/small") == f"hub:org/small@{commit}"
    assert model_fingerprint(store, "org/not-downloaded") is None  # offline and unknown: never cached


# --- generation and tuning caches ------------------------------------------------------------------

def test_generation_cache_serves_what_it_stored_and_keeps_the_check_apart(tmp_path):
    store = Store(tmp_path)
    calls: list[tuple[list[str], list[str]]] = []

    def compute(prompts, again):
        calls.append((prompts, again))
        return [p.upper() for p in prompts] + [p.upper() + "'" for p in again]

    cache = GenerationCache(store, "dir:m", None, "torch.float32", "cpu")
    assert cache.outputs(["a", "b"], [], 8, [], compute) == ["A", "B"]
    assert cache.outputs(["b", "c", "a"], [], 8, [], compute) == ["B", "C", "A"] and calls[-1] == (["c"], [])
    assert cache.use(OUTPUTS) == (2, 3)
    # the batch-invariance check's second outputs are generated, not read back from evaluation's...
    assert cache.outputs(["a", "b"], ["a"], 8, [], compute) == ["A", "B", "A'"] and calls[-1] == ([], ["a"])
    # ...and then cached apart from them
    assert cache.outputs(["a"], ["a"], 8, [], compute) == ["A", "A'"] and len(calls) == 3
    # any other setting, adapter or dtype is another address
    assert cache.outputs(["a"], [], 9, [], compute) == ["A"] and calls[-1] == (["a"], [])
    other = GenerationCache(store, "dir:m", "dir:adapter", "torch.float32", "cpu")
    assert other.outputs(["a"], [], 8, [], compute) == ["A"] and calls[-1] == (["a"], [])
    assert GenerationCache(store, "dir:m", None, "torch.bfloat16", "cpu").outputs(["b"], [], 8, [], compute) == ["B"]
    assert calls[-1] == (["b"], [])


def test_tuned_artefacts_are_restored_rebased_and_checked(tmp_path):
    store = Store(tmp_path / "cache")
    artefact = tmp_path / "run" / "models" / "lora"
    artefact.mkdir(parents=True)
    weights = os.urandom(2048)
    (artefact / "adapter_model.safetensors").write_bytes(weights)
    (artefact / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/old/base", "r": 16}))
    (artefact / "extra" / "nested").mkdir(parents=True)
    (artefact / "extra" / "nested" / "notes.txt").write_text("kept too")
    in_memory = tmp_path / "run" / "checks" / "lora.in_memory.json"
    in_memory.parent.mkdir()
    in_memory.write_text('{"s/1": "out"}')
    tuning = TuningCache(store)
    tuning.save("k", artefact, "/old/base", "adapter", {"steps": 3}, "run-1", {"in_memory.json": in_memory})
    (artefact / "adapter_model.safetensors").write_bytes(b"changed later in the run folder")  # the cache keeps its own

    dest, extra = tmp_path / "run2" / "models" / "lora", tmp_path / "run2" / "checks" / "lora.in_memory.json"
    hit = tuning.restore("k", dest, "/new/base", {"in_memory.json": extra})
    assert hit is not None and (hit.kind, hit.cost, hit.origin) == ("adapter", {"steps": 3}, "run-1")
    assert (dest / "adapter_model.safetensors").read_bytes() == weights
    # its hash is known from the cache, so fingerprinting the restored model reads nothing
    known = store._db().execute("SELECT sha256 FROM file_hashes WHERE path = ?",
                                (str((dest / "adapter_model.safetensors").resolve()),)).fetchone()
    assert known == (hashlib.sha256(weights).hexdigest(),)
    assert json.loads((dest / "adapter_config.json").read_text()) == {"base_model_name_or_path": "/new/base", "r": 16}
    assert extra.read_text() == '{"s/1": "out"}' and (dest / "extra" / "nested" / "notes.txt").read_text() == "kept too"
    assert tuning.restore("other", tmp_path / "x", "/new/base") is None

    cached = store.tuned_dir / "k" / "artefact" / "adapter_model.safetensors"
    cached.write_bytes(weights[:-1] + b"!")  # damaged in the cache: not reused
    assert tuning.restore("k", tmp_path / "run3", "/new/base") is None


def _tamper_keeping_stamp(path: Path, offset: int = 1024) -> bytes:
    """Overwrite 4 KiB of `path` in place and put its time back: size, mtime and inode all unchanged."""
    st = path.stat()
    altered = os.urandom(4096)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(altered)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    return altered


@pytest.mark.parametrize("damaged", ["adapter_model.safetensors", "adapter_config.json", "extras"])
def test_a_tampered_artefact_with_its_time_restored_is_caught_removed_and_never_restored(tmp_path, capsys, damaged):
    store = Store(tmp_path / "cache")
    artefact = tmp_path / "run" / "lora"
    artefact.mkdir(parents=True)
    weights = os.urandom(16384)
    (artefact / "adapter_model.safetensors").write_bytes(weights)
    (artefact / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/b", "pad": "x" * 8192}))
    in_memory = tmp_path / "run" / "in_memory.json"
    in_memory.write_text(json.dumps({"s/1": "y" * 8192}))
    tuning = TuningCache(store)
    tuning.save("k", artefact, "/b", "adapter", {}, "run-1", {"in_memory.json": in_memory})
    stored = store.tuned_dir / "k" / ("extras/in_memory.json" if damaged == "extras" else f"artefact/{damaged}")
    recorded = store.file_sha256(stored)
    _tamper_keeping_stamp(stored)
    assert store.file_sha256(stored) == recorded  # the stat-keyed memo is fooled: restore must not rely on it
    capsys.readouterr()

    dest, extra = tmp_path / "run2" / "lora", tmp_path / "run2" / "in_memory.json"
    assert tuning.restore("k", dest, "/new", {"in_memory.json": extra}) is None
    warning = capsys.readouterr().err.strip()
    assert "\n" not in warning and f"harness: warning: the cached tuning k is damaged ({stored}" in warning
    assert not extra.exists() and (not dest.exists() or not any(dest.iterdir()))  # nothing of it reaches the run
    assert store.get("tuned", "k") is None and list(store.tuned_dir.iterdir()) == []  # gone, not parked
    # recomputed and stored again: restored whole
    tuning.save("k", artefact, "/b", "adapter", {}, "run-3", {"in_memory.json": in_memory})
    assert tuning.restore("k", dest, "/new", {"in_memory.json": extra}).origin == "run-3"
    assert (dest / "adapter_model.safetensors").read_bytes() == weights and extra.read_bytes() == in_memory.read_bytes()
    assert capsys.readouterr().err == ""


def test_copy_file_hashes_what_it_copies_and_refuses_other_bytes(tmp_path):
    from harness.common.files import ContentChanged, copy_file

    src, dest = tmp_path / "src.bin", tmp_path / "out" / "dest.bin"
    data = os.urandom(3 << 20)  # several chunks
    src.write_bytes(data)
    assert copy_file(src, dest) == hashlib.sha256(data).hexdigest() and dest.read_bytes() == data
    dest.write_bytes(b"old")
    with pytest.raises(ContentChanged, match="src.bin: content changed"):
        copy_file(src, dest, hashlib.sha256(b"other").hexdigest())
    assert dest.read_bytes() == b"old" and [p.name for p in dest.parent.iterdir()] == ["dest.bin"]


# --- whole runs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache_suites(tmp_path_factory) -> Path:
    """A task suite and a retention suite of their own, so that nothing else in the session shares their model."""
    root = tmp_path_factory.mktemp("cache-suites")
    cut_suite("agent_tools", root / "agent_tools", 40, 10)
    cut_suite("translate_en_zh", root / "translate_en_zh", 24, 6, role="retention", gates=[])
    return root


def _run(out: Path, suites, cache: bool):
    p = plan(RunRequest(suites=[str(s) for s in suites], overrides=STEPS, cache=cache))
    run_dir = new_run_dir(out, p.config_key)
    return run_dir, execute(p, run_dir, log=lambda *_: None)


@pytest.fixture(scope="module")
def fresh_cold_warm(cache_suites, tmp_path_factory):
    return [_run(tmp_path_factory.mktemp(name), [cache_suites], cache)
            for name, cache in (("fresh", False), ("cold", True), ("warm", True))]


def test_results_from_the_caches_are_identical_to_fresh_ones(fresh_cold_warm):
    (fresh_dir, fresh), (cold_dir, cold), (warm_dir, warm) = fresh_cold_warm
    for other in (cold, warm):
        assert [r.model_dump() for r in other.results] == [r.model_dump() for r in fresh.results]
        assert [c.model_dump() for c in other.comparisons] == [c.model_dump() for c in fresh.comparisons]
        assert other.checks == fresh.checks and other.retention == fresh.retention and other.data == fresh.data
    assert fresh.checks.reload_equivalence["lora"].ok is True and fresh.checks.batch_invariance["lora"].ok is True
    for state in fresh.states:
        for suite in ("agent_tools", "translate_en_zh"):
            assert load_predictions(warm_dir, state, suite) == load_predictions(fresh_dir, state, suite)
            assert load_explanations(warm_dir, state, suite) == load_explanations(fresh_dir, state, suite)
    assert any(load_explanations(fresh_dir, "lora", s) for s in ("agent_tools", "translate_en_zh"))
    for name in ("full", "lora"):
        for f in (cold_dir / "models" / name).iterdir():
            assert (warm_dir / "models" / name / f.name).read_bytes() == f.read_bytes(), f


def test_a_restored_artefact_is_reload_checked_only_where_its_suites_still_generate_alike(fresh_cold_warm, cache_suites,
                                                                                          tmp_path):
    """The outputs of the model as trained travel with a cached artefact; a suite edited since (here another
    `max_new_tokens`) must not be compared against them, the unchanged suites still are."""
    import shutil

    import yaml

    (_, _), (_, cold), (_, _) = fresh_cold_warm
    edited = tmp_path / "suites"
    shutil.copytree(cache_suites, edited)
    spec_path = edited / "translate_en_zh" / "suite.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["generation"] = {**spec.get("generation", {}), "max_new_tokens": 7}
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    _, record = _run(tmp_path / "runs", [edited], True)
    for state in ("full", "lora"):
        assert next(b for b in record.backends if b.name == state).from_cache is not None
        check = record.checks.reload_equivalence[state]
        assert check.ok is True and check.checked == cold.checks.reload_equivalence[state].checked - 6
        assert check.note == "6 sampled examples changed since the model was trained and were not compared"


def test_the_record_says_what_came_from_the_caches(fresh_cold_warm):
    (_, fresh), (_, cold), (_, warm) = fresh_cold_warm
    assert fresh.cache == {} and all(b.from_cache is None for b in fresh.backends)
    for state in ("base", "full", "lora"):
        # 10 + 6 test examples, and the batch-invariance check's second outputs, generated apart from them
        outputs = 16 + cold.checks.batch_invariance[state].checked
        explained = cold.cache[state].explanations_computed
        assert explained == sum(cold.explanations.counts[state].values()) > 0
        assert cold.cache[state].model_dump() == {"outputs_from_cache": 0, "outputs_generated": outputs,
                                                  "losses_from_cache": 0, "losses_computed": 6,
                                                  "explanations_from_cache": 0, "explanations_computed": explained}
        assert warm.cache[state].model_dump() == {"outputs_from_cache": outputs, "outputs_generated": 0,
                                                  "losses_from_cache": 6, "losses_computed": 0,
                                                  "explanations_from_cache": explained, "explanations_computed": 0}
    assert all(b.from_cache is None for b in cold.backends)
    for trained, restored in zip(cold.backends, warm.backends):
        assert restored.from_cache is not None and restored.from_cache.trained_in == cold.run_id
        assert restored.cost == trained.cost and restored.settings == trained.settings


def test_a_new_test_example_is_generated_and_nothing_retrains(fresh_cold_warm, tmp_path):
    _, (_, cold), _ = fresh_cold_warm
    root = tmp_path / "suites"
    cut_suite("agent_tools", root / "agent_tools", 40, 11)  # the same training data, one test example more
    cut_suite("translate_en_zh", root / "translate_en_zh", 24, 6, role="retention", gates=[])
    _, record = _run(tmp_path / "runs", [root], cache=True)
    assert all(b.from_cache is not None and b.from_cache.trained_in == cold.run_id for b in record.backends)
    for state in ("base", "full", "lora"):
        # every earlier test example from the cache; the new one generated, and of the batch-invariance check's
        # second outputs those of examples it did not pick before (it picks by prompt length)
        checked = record.checks.batch_invariance[state].checked
        use = record.cache[state]
        assert use.outputs_from_cache + use.outputs_generated == 17 + checked
        assert 1 <= use.outputs_generated <= 1 + checked and use.outputs_from_cache >= 16


def test_cache_commands_and_no_cache(small_suites, tmp_path, monkeypatch, capsys):
    suites = [str(small_suites / "agent_tools")]
    model = plan(RunRequest(suites=suites, backends=[])).model_path  # built in the session's cache
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    args = ["eval", "--model", model, "--suite", suites[0], "--batch-size", "8"]
    assert main([*args, "--out", str(tmp_path / "a"), "--no-cache"]) == 0
    assert main(["cache", "info"]) == 0
    assert "generations: 0 outputs" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert main(["cache", "info"]) == 0
    assert "generations: 32 outputs" in capsys.readouterr().out  # 24 test examples and the 8 of the batch check
    assert main(["cache", "clear", "--only", "generations"]) == 0
    assert Cache().info().outputs == 0


def test_tune_restores_from_the_tuning_cache(small_suites, tmp_path, capsys):
    args = ["tune", "--backend", "lora", "--model", "tiny", "--suite", str(small_suites / "agent_tools"),
            "--set", "lora.max_steps=2", "--set", "lora.r=4"]
    assert main([*args, "--out", str(tmp_path / "first")]) == 0
    assert "from the tuning cache" not in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "second")]) == 0
    assert "(from the tuning cache)" in capsys.readouterr().out
    first, second = (json.loads((tmp_path / d / "cost.json").read_text()) for d in ("first", "second"))
    assert second["from_cache"]["trained_in"] == str((tmp_path / "first").resolve())
    assert {k: v for k, v in second.items() if k != "from_cache"} == first
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert (tmp_path / "second" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    assert main([*args, "--out", str(tmp_path / "third"), "--no-cache"]) == 0
    assert "from_cache" not in json.loads((tmp_path / "third" / "cost.json").read_text())
    # the cached adapter altered in place, its time put back: caught, retrained, the altered bytes never used
    key = second["from_cache"]["key"]
    cached = Cache().store.tuned_dir / key / "artefact" / "adapter_model.safetensors"
    altered = _tamper_keeping_stamp(cached, offset=cached.stat().st_size // 2)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "fourth")]) == 0
    out, err = capsys.readouterr()
    assert "from the tuning cache" not in out and err.count("is damaged") == 1
    fourth = json.loads((tmp_path / "fourth" / "cost.json").read_text())
    assert "from_cache" not in fourth and altered not in (tmp_path / "fourth" / "adapter_model.safetensors").read_bytes()
    assert main([*args, "--out", str(tmp_path / "fifth")]) == 0  # the retrained artefact took the entry's place
    assert "(from the tuning cache)" in capsys.readouterr().out
