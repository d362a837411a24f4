"""Training resumes from checkpoints: a killed `harness run` retrains an interrupted state from its last
checkpoint, bit for bit what an uninterrupted training gives (the checkpoint folder itself: test_checkpoints)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from backends.checkpoints import MANIFEST
from harness.cache import TUNED, Cache
from harness.cli import main
from harness.common.errors import HarnessError
from harness.record import load_predictions, load_record
from harness.run.orchestrate import RunRequest, config_key
from harness.runtime.launch import accelerate_command
from harness.suitedef.suite import find_suites, load_suite
from harness.tuning.settings import resolve
from harness.tuning.tune import CHECKPOINTS, training_examples, tune, tuning_key_for

from .conftest import ROOT, cut_suite, tiny_t5

STEPS, EVERY = 30, 10
WEIGHTS = {"full": "model.safetensors", "lora": "adapter_model.safetensors"}


# --- settings and keys ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def resume_suite(tmp_path_factory):
    return cut_suite("agent_tools", tmp_path_factory.mktemp("resume") / "agent_tools", 160, 8)


@pytest.fixture(scope="module")
def tiny_and_examples(resume_suite):
    from harness.models.loading import resolve_model_path

    suites = [load_suite(p) for p in find_suites([resume_suite])]
    return suites, resolve_model_path("tiny", suites, 0), training_examples(suites)


def test_checkpoint_every_is_validated_and_decides_no_key(tiny_and_examples):
    suites, base, examples = tiny_and_examples
    assert resolve("full", base, {}).checkpoint_every == 500
    assert resolve("lora", base, {"lora": {"checkpoint_every": None}}).checkpoint_every is None
    with pytest.raises(HarnessError, match="setting 'full.checkpoint_every': Input should be a multiple of 5"):
        resolve("full", base, {"full": {"checkpoint_every": 12}})
    with pytest.raises(HarnessError, match="setting 'full.checkpoint_every': Input should be greater than 0"):
        resolve("full", base, {"full": {"checkpoint_every": 0}})
    one, other = (resolve("full", base, {"full": {"checkpoint_every": n}}).model_dump(mode="json") for n in (10, 20))
    cache = Cache()
    assert tuning_key_for(cache, "full", base, examples, one, 0) == tuning_key_for(cache, "full", base, examples,
                                                                                    other, 0)
    changed = dict(one, learning_rate=1e-3)
    assert tuning_key_for(cache, "full", base, examples, one, 0) != tuning_key_for(cache, "full", base, examples,
                                                                                    changed, 0)
    request = RunRequest(suites=[str(suites[0].path)], backends=["full"])
    assert config_key(request, suites, base, {"full": one}, "code") == config_key(request, suites, base,
                                                                                 {"full": other}, "code")


# --- killed and resumed ---------------------------------------------------------------------------------------



def settings_args(*backends: str) -> list[str]:
    return [arg for b in backends for arg in ("--backend", b, "--set", f"{b}.max_steps={STEPS}",
                                              "--set", f"{b}.checkpoint_every={EVERY}")]


STALLING = r'''
"""`harness run` that stops for good at one point of training, so that the test can kill it there."""
import sys
import time
from pathlib import Path

from transformers import Trainer, TrainerCallback

import backends.sft as sft

where, step, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


def stall():
    marker.write_text("stalled")
    time.sleep(3600)


if where == "checkpoint":  # while writing the checkpoint of `step`: its weights and optimizer are written
    save_rng_state = Trainer._save_rng_state

    def _save_rng_state(self, output_dir):
        if self.state.global_step == step:
            stall()
        save_rng_state(self, output_dir)

    Trainer._save_rng_state = _save_rng_state
elif where == "evaluate":  # as the tuned state's evaluation starts: its training is finished and saved
    import harness.run.orchestrate as orchestrate

    generate_test = orchestrate.generate_test

    def stalling_generate_test(model, suite, state, *args, **kwargs):
        if state != "base":
            stall()
        return generate_test(model, suite, state, *args, **kwargs)

    orchestrate.generate_test = stalling_generate_test
else:  # after optimizer step `step`
    class Stall(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                stall()

    setup = sft.SFTBackend.setup

    def stalling_setup(self, *args, **kwargs):
        setup(self, *args, **kwargs)
        self.trainer.add_callback(Stall())

    sft.SFTBackend.setup = stalling_setup

from harness.cli import main

sys.exit(main(sys.argv[4:]))
'''


@pytest.fixture(scope="module")
def uninterrupted(resume_suite, tmp_path_factory):
    """Both backends trained in one go with the settings the killed runs use."""
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(["run", "--suite", str(resume_suite), "--out", str(out), "--no-cache",
                 *settings_args("full", "lora")]) == 0
    (run,) = out.iterdir()
    return run


def _env(cache: Path) -> dict:
    env = dict(os.environ, HARNESS_CACHE=str(cache), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


def _killed_run(suite: Path, backend: str, where: str, step: int, tmp_path: Path, env: dict,
                processes: int = 1, resume: Path | None = None) -> Path:
    """A `harness run` (or `--resume` of the run directory `resume`) in a subprocess (under accelerate with
    several processes), SIGKILLed with every process it started once it stalls at `where` `step`; its run
    directory."""
    script, marker, out = tmp_path / "stalling.py", tmp_path / "stalled", tmp_path / "runs"
    script.write_text(STALLING)
    marker.unlink(missing_ok=True)
    command_line = ["run", "--resume", str(resume)] if resume else ["run", "--suite", str(suite), "--out", str(out),
                                                                     *settings_args(backend)]
    args = [where, str(step), str(marker), *command_line]
    command = [sys.executable, str(script), *args]
    if processes > 1:
        launch = accelerate_command(["run"], processes)
        command = launch[:launch.index("-m", 3)] + [str(script), *args]
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    try:
        while not marker.exists():
            assert proc.poll() is None, f"the run ended before it stalled:\n{(tmp_path / 'killed.log').read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the run never reached the point to kill it at"
            time.sleep(0.05)
    finally:
        # torch's launcher starts its workers in sessions of their own: kill each process of the tree
        for child in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
            try:
                child.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    if resume:
        return resume
    (run,) = out.iterdir()
    return run


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _same_as_uninterrupted(run: Path, uninterrupted: Path, backend: str) -> None:
    """Weights, loss curve, outputs and results of `backend` in `run` are those of the uninterrupted run."""
    (state,) = load_record(run).backends
    ref = next(b for b in load_record(uninterrupted).backends if b.name == backend)
    assert state.cost.loss_curve == ref.cost.loss_curve
    assert (state.cost.steps, state.cost.train_tokens, state.cost.trainable_params) == \
        (ref.cost.steps, ref.cost.train_tokens, ref.cost.trainable_params)
    mine, theirs = (_tensors(r / "models" / backend / WEIGHTS[backend]) for r in (run, uninterrupted))
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert [r.output for r in load_predictions(run, backend, "agent_tools")] == \
        [r.output for r in load_predictions(uninterrupted, backend, "agent_tools")]
    assert [r for r in load_record(run).results if r.state == backend] == \
        [r for r in load_record(uninterrupted).results if r.state == backend]


@pytest.mark.parametrize("backend, where, step, resumed_from, left", [
    ("full", "checkpoint", 20, 10, ["checkpoint-10"]),  # killed while writing its second checkpoint
    ("lora", "step", 23, 20, ["checkpoint-20"]),  # killed three steps after its second checkpoint
])
def test_a_killed_training_resumes_to_the_uninterrupted_result(uninterrupted, resume_suite, tmp_path, monkeypatch,
                                                               capsys, backend, where, step, resumed_from, left):
    cache = tmp_path / "cache"  # a cache of its own: nothing there can spare the training
    run = _killed_run(resume_suite, backend, where, step, tmp_path, _env(cache))
    checkpoints = run / CHECKPOINTS / backend
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(".")) == left
    assert load_record(run).backends == []

    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    capsys.readouterr()
    assert main(["run", "--resume", str(run)]) == 0
    assert f"(in 2 attempts, the last resumed from step {resumed_from})" in capsys.readouterr().out
    resumed = load_record(run)
    (state,) = resumed.backends
    ref = next(b for b in load_record(uninterrupted).backends if b.name == backend)
    assert (state.cost.resumed_from_step, state.cost.attempts) == (resumed_from, 2)
    assert (ref.cost.resumed_from_step, ref.cost.attempts) == (None, 1) and len(state.cost.loss_curve) == 7
    _same_as_uninterrupted(run, uninterrupted, backend)
    assert resumed.checks.failures(backend) == []  # the reload check compares with the resumed model as trained
    assert not (run / CHECKPOINTS).exists()  # removed once the artefact is recorded
    # stored in the tuning cache as a fresh training would be: under the key of these inputs, with its cost
    suites = [load_suite(p) for p in find_suites([resume_suite])]
    key = tuning_key_for(Cache(), backend, resumed.model_path, training_examples(suites), state.settings, 0)
    stored = Cache().store.get(TUNED, key)
    assert stored is not None and stored["cost"]["resumed_from_step"] == resumed_from


def test_killed_before_any_checkpoint_then_again_while_resuming(uninterrupted, resume_suite, tmp_path, monkeypatch,
                                                                 capsys):
    """Killed before its first checkpoint (nothing to resume: the training starts again), then killed again
    three steps past the checkpoint of that second attempt: the third resumes from it, and all is as if
    trained in one go."""
    env = _env(tmp_path / "cache")
    run = _killed_run(resume_suite, "lora", "step", 5, tmp_path, env)
    assert not [p for p in (run / CHECKPOINTS / "lora").glob("checkpoint-*")]
    _killed_run(resume_suite, "lora", "step", 13, tmp_path, env, resume=run)
    assert sorted(p.name for p in (run / CHECKPOINTS / "lora").glob("checkpoint-*")) == ["checkpoint-10"]
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    capsys.readouterr()
    assert main(["run", "--resume", str(run)]) == 0
    # the first attempt left no checkpoint, so only the second counts towards the training that was kept
    assert "(in 2 attempts, the last resumed from step 10)" in capsys.readouterr().out
    (state,) = load_record(run).backends
    assert (state.cost.resumed_from_step, state.cost.attempts) == (10, 2)
    _same_as_uninterrupted(run, uninterrupted, "lora")


def test_killed_while_evaluating_the_trained_state(uninterrupted, resume_suite, tmp_path, monkeypatch, capsys):
    """Killed after the training finished, as its evaluation starts: the resumed run trains nothing again."""
    run = _killed_run(resume_suite, "full", "evaluate", 0, tmp_path, _env(tmp_path / "cache"))
    assert [b.name for b in load_record(run).backends] == ["full"]  # recorded, not yet evaluated
    assert not [p for p in (run / "predictions").glob("full/*")]
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    capsys.readouterr()
    assert main(["run", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Tuning with full" not in out and "Evaluating full (reloaded from " in out
    (state,) = load_record(run).backends
    assert (state.cost.resumed_from_step, state.cost.attempts) == (None, 1)
    _same_as_uninterrupted(run, uninterrupted, "full")


def test_a_killed_data_parallel_training_resumes_exactly(resume_suite, tmp_path):
    """Two processes (DDP over gloo): each restores its own RNG state, the main one publishes the checkpoints."""
    env = _env(tmp_path / "cache")

    def harness(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "harness", *args, "--processes", "2"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    harness("run", "--suite", str(resume_suite), "--out", str(tmp_path / "uninterrupted"), "--no-cache",
            *settings_args("lora"))
    (reference,) = (tmp_path / "uninterrupted").iterdir()
    run = _killed_run(resume_suite, "lora", "step", 23, tmp_path, env, processes=2)
    staged = sorted(p.name for p in (run / CHECKPOINTS / "lora" / "checkpoint-20").iterdir())
    assert {"rng_state_0.pth", "rng_state_1.pth", "optimizer.pt", "adapter_model.safetensors", MANIFEST} <= set(staged)
    assert "Resuming lora from its checkpoint at step 20\n" in harness("run", "--resume", str(run))
    resumed, uninterrupted = load_record(run), load_record(reference)
    assert resumed.environment.world_size == uninterrupted.environment.world_size == 2
    (state,) = resumed.backends
    assert (state.cost.resumed_from_step, state.cost.attempts) == (20, 2)
    _same_as_uninterrupted(run, reference, "lora")


# --- the encoder-decoder path, and a damaged checkpoint ---------------------------------------------------------

class Interrupt(Exception):
    pass


def test_seq2seq_resumes_and_a_damaged_checkpoint_restarts_from_step_0(resume_suite, tmp_path, monkeypatch, capsys):
    from transformers import TrainerCallback

    import backends.sft as sft

    tiny_t5(tmp_path / "t5")
    base = str(tmp_path / "t5")
    examples = training_examples([load_suite(resume_suite)])[:64]
    settings = resolve("full", base, {"full": {"max_steps": 12, "checkpoint_every": 5, "learning_rate": 1e-3}})
    _, _, reference = tune("full", base, examples, settings, 0, tmp_path / "reference")

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 8:
                raise Interrupt

    setup = sft.SFTBackend.setup

    def stopping_setup(self, *args, **kwargs):
        setup(self, *args, **kwargs)
        self.trainer.add_callback(Stop())

    monkeypatch.setattr(sft.SFTBackend, "setup", stopping_setup)
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(Interrupt):
        tune("full", base, examples, settings, 0, tmp_path / "first", checkpoints)
    monkeypatch.setattr(sft.SFTBackend, "setup", setup)
    assert sorted(p.name for p in checkpoints.iterdir()) == [".staging", "checkpoint-5"]
    damaged = tmp_path / "damaged"
    shutil.copytree(checkpoints, damaged)
    _, _, resumed = tune("full", base, examples, settings, 0, tmp_path / "resumed", checkpoints)
    assert "Resuming full from its checkpoint at step 5" in capsys.readouterr().out
    weights = _tensors(tmp_path / "reference" / "model.safetensors")
    assert resumed.resumed_from_step == 5 and resumed.loss_curve == reference.loss_curve
    resumed_weights = _tensors(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(weights[k], resumed_weights[k]) for k in weights)

    (damaged / "checkpoint-5" / "optimizer.pt").write_bytes(b"")
    _, _, restarted = tune("full", base, examples, settings, 0, tmp_path / "restarted", damaged)
    out = capsys.readouterr().out
    assert f"WARNING: full: checkpoint {damaged / 'checkpoint-5'} ignored: its file optimizer.pt changed after it " \
           "was written" in out and "Resuming" not in out
    assert (restarted.resumed_from_step, restarted.attempts) == (None, 1) and restarted.loss_curve == reference.loss_curve
    restarted_weights = _tensors(tmp_path / "restarted" / "model.safetensors")
    assert all(torch.equal(weights[k], restarted_weights[k]) for k in weights)
