"""Several processes: sharing out examples, the launcher command, and real 2-process runs on CPU (gloo)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.evaluation.explanations import chosen
from harness.record import load_explanations, load_predictions, load_record
from harness.runtime import distributed
from harness.runtime.launch import accelerate_command, without_processes
from harness.suitedef.suite import load_suite

from .conftest import ROOT, cut_suite

CONFIGS = ROOT / "configs" / "accelerate"


@pytest.mark.parametrize("n, world", [(0, 2), (1, 2), (7, 2), (10, 3), (5, 8)])
def test_shares_cover_every_example_once_and_reassemble_in_order(monkeypatch, n, world):
    items = [f"out-{i}" for i in range(n)]
    shares = []
    for r in range(world):
        monkeypatch.setenv("WORLD_SIZE", str(world))
        monkeypatch.setenv("RANK", str(r))
        shares.append([items[i] for i in distributed.share(n)])
    assert sorted(x for s in shares for x in s) == sorted(items)
    monkeypatch.setattr(distributed, "all_gather", lambda obj: shares)
    assert distributed.unshare(n, shares[world - 1]) == items


def test_alone_everything_is_a_no_op(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.share(3) == [0, 1, 2] and distributed.unshare(3, ["a", "b", "c"]) == ["a", "b", "c"]
    assert distributed.broadcast("x") == "x" and distributed.all_gather(5) == [5]
    distributed.barrier()
    with distributed.main_first():
        pass


def test_processes_option_relaunches_under_accelerate():
    argv = ["run", "--processes", "2", "--suite", "s", "--processes=3", "--threads", "1"]
    assert without_processes(argv) == ["run", "--suite", "s", "--threads", "1"]
    cmd = accelerate_command(argv, 2)
    assert cmd[:3] == [sys.executable, "-m", "harness.runtime.launcher"]  # accelerate's, reporting failures once
    assert cmd[cmd.index("--num_processes") + 1] == "2"
    assert cmd[cmd.index("-m", 3):] == ["-m", "harness", "run", "--suite", "s", "--threads", "1"]


@pytest.mark.parametrize("failures, notes, code, line", [
    # killed from outside: the cause, whatever the others said about their lost connection
    ([{"rank": 0, "exitcode": -15, "signal": "SIGTERM"}, {"rank": 1, "exitcode": -9, "signal": "SIGKILL"}],
     {"error-0": "harness: internal error: RuntimeError: Connection closed by peer"}, 1,
     "harness: error: process 2 of 2 was killed (SIGKILL), so the others were stopped"),
    # a process that failed and said why: its own line and exit status
    ([{"rank": 0, "exitcode": 2, "signal": None}, {"rank": 1, "exitcode": -15, "signal": "SIGTERM"}],
     {"error-0": "harness: error: suite.yaml: bad"}, 2, "harness: error: suite.yaml: bad"),
    ([{"rank": 1, "exitcode": 3, "signal": None}], {}, 1, "harness: error: process 2 of 2 failed (exit status 3)"),
    (None, {"error-1": "harness: interrupted"}, 1, "harness: interrupted"),  # the launcher failed, not the agent
    (None, {}, 0, None),
])
def test_how_launched_processes_ended_is_one_line(tmp_path, failures, notes, code, line):
    from harness.runtime.launch import FAILURES, RUN_DIR, _outcome

    if failures is not None:
        (tmp_path / FAILURES).write_text(json.dumps(failures))
    for name, text in notes.items():
        (tmp_path / name).write_text(text)
    (tmp_path / RUN_DIR).write_text("/runs/x")
    launched = _outcome(tmp_path, 1 if line else 0, 2)
    assert (launched.code, launched.failure, launched.run_dir) == (code, line, Path("/runs/x"))


@pytest.mark.parametrize("name", ["ddp.yaml", "fsdp.yaml", "deepspeed_zero3.yaml"])
def test_shipped_accelerate_configs_are_what_accelerate_launch_reads(name):
    """Read each file the way `accelerate launch --config_file` does (unknown top-level keys are errors there) and
    check the environment its launcher would give the processes. DeepSpeed itself is not installed here."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / name), "-m", "harness", "run"])
    args, defaults, _ = _validate_launch_command(args)
    assert args.num_machines == 1 and args.num_processes == 2
    if name == "ddp.yaml":
        assert args.multi_gpu and not (args.use_fsdp or args.use_deepspeed)
    elif name == "fsdp.yaml":
        env = prepare_multi_gpu_env(args)
        assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_VERSION"] == "2"
        assert env["FSDP_STATE_DICT_TYPE"] == "FULL_STATE_DICT"  # save_model writes plain, loadable weights
        assert env["FSDP_AUTO_WRAP_POLICY"] == "TRANSFORMER_BASED_WRAP"
    else:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        _, env = prepare_deepspeed_cmd_env(args)
        assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "3"
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"  # a loadable model, not only shards


# --- two real processes ---------------------------------------------------------------------------------------

STEPS = 120
LOSS_TOLERANCE = 1e-3


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT))
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


@pytest.fixture(scope="module")
def ddp_suite(tmp_path_factory):
    gates = [{"metric": "tool_name", "min": 0.8}, {"metric": "tool_name", "min_delta": 0.5}]
    return cut_suite("agent_tools", tmp_path_factory.mktemp("ddp") / "agent_tools", 160, 20, gates=gates)


@pytest.fixture(scope="module")
def one_and_two(ddp_suite, tmp_path_factory):
    """The same run in one process and, through --processes 2, in two: (one, two) run directories."""
    from harness.cli import main

    out = tmp_path_factory.mktemp("runs")
    args = ["run", "--suite", str(ddp_suite), "--backend", "full", "--set", f"full.max_steps={STEPS}"]
    assert main(args + ["--out", str(out / "one")]) == 0
    done = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out / "two"), "--processes", "2"],
                          env=_env(out), capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Run directory:") == 1  # only the main process speaks
    (one,) = (out / "one").iterdir()
    (two,) = (out / "two").iterdir()
    return one, two


def test_two_processes_evaluate_exactly_as_one(one_and_two):
    one, two = one_and_two
    first, second = load_record(one), load_record(two)
    assert (first.environment.world_size, second.environment.world_size) == (1, 2)
    base_one, base_two = load_predictions(one, "base", "agent_tools"), load_predictions(two, "base", "agent_tools")
    assert [r.model_dump() for r in base_one] == [r.model_dump() for r in base_two]
    assert [r for r in first.results if r.state == "base"] == [r for r in second.results if r.state == "base"]
    assert second.checks.batch_invariance["base"].ok and second.checks.reload_equivalence["full"].ok
    # the cache's counts cover every process's share, not the main one's alone
    totals = [{s: u.outputs_from_cache + u.outputs_generated for s, u in r.cache.items()} for r in (first, second)]
    assert totals[0] == totals[1] and totals[1]["base"] >= len(base_two)


def test_two_processes_explain_each_example_once_as_one_does(ddp_suite, one_and_two):
    one, two = one_and_two
    second = load_record(two)
    assert second.explanations is not None
    wanted, _ = chosen(load_suite(ddp_suite), load_predictions(two, "base", "agent_tools"),
                       load_predictions(two, "full", "agent_tools"), seed=0)
    for state in ("full", "base"):
        mine = load_explanations(two, state, "agent_tools")
        # the processes' shares are reassembled: every chosen example once, in test order
        assert [e.id for e in mine] == wanted and second.explanations.counts[state]["agent_tools"] == len(wanted)
        use = second.cache[state]
        assert use.explanations_from_cache + use.explanations_computed >= len(mine)  # every process counted
        # Where the states' outputs agree, one process explained the same tokens; full's weights differ
        # by float rounding between the two trainings (see the loss-curve test), so probabilities by little.
        alone = {e.id: e for e in load_explanations(one, state, "agent_tools")}
        outputs = [{r.id: r.output for r in load_predictions(run, "full", "agent_tools")} for run in (one, two)]
        same = [e for e in mine if e.id in alone and outputs[0][e.id] == outputs[1][e.id]]
        assert same
        for e in same:
            assert e.tokens == alone[e.id].tokens and e.divergence == alone[e.id].divergence
            assert max(abs(x - y) for x, y in zip(e.logprobs, alone[e.id].logprobs)) <= 0.01
    assert second.cache["full"].explanations_computed > 0  # full was explained in two processes, not from cache


def test_data_parallel_tuning_passes_the_gates_and_follows_the_same_loss_curve(one_and_two):
    one, two = one_and_two
    first, second = load_record(one), load_record(two)
    assert second.status == "complete" and second.gates and all(g.passed for g in second.gates), \
        [g.message for g in second.gates]
    a, b = first.backends[0].cost, second.backends[0].cost
    assert a.steps == b.steps == STEPS and a.train_tokens == b.train_tokens  # the same examples, all processes counted
    # Each of the 2 processes takes its share of every step's 16 examples (the same 16 as one process: the step
    # is drawn with the run's seed, then split into micro-batches of similar lengths), the loss is summed over the
    # tokens of all shares and divided by their count, and the gradients are averaged across the processes: a step
    # is the same computation as in one process, summed in another order. Measured: the curves differ by float
    # rounding (5e-7 relative over 120 steps). The tolerance, 1e-3 relative, leaves room for other arithmetic;
    # steps over other examples moved the curve by 1-4% (measured with length grouping per process), and each
    # process training on all 16 would double the tokens counted.
    assert [s for s, _ in a.loss_curve] == [s for s, _ in b.loss_curve]
    for (step, x), (_, y) in zip(a.loss_curve, b.loss_curve):
        assert abs(x - y) <= LOSS_TOLERANCE * max(x, y), (step, x, y)


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun is not installed")
def test_torchrun_evaluation_matches_one_process(ddp_suite, one_and_two, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    one, _ = one_and_two
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "harness", "eval",
                           "--model", "tiny", "--suite", str(ddp_suite), "--out", str(tmp_path)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    assert load_record(run_dir).environment.world_size == 2
    assert load_predictions(run_dir, "base", "agent_tools") == load_predictions(one, "base", "agent_tools")


# --- a process killed -----------------------------------------------------------------------------------------

STALL = r'''
"""Read by every Python process of the test's run: the process of rank STALL_RANK stops for good at STALL_AT
(`generate`: its first share of examples; `step N`: after training step N) and says so, to be killed there."""
import os
import time
from pathlib import Path


def _stall():
    Path(os.environ["STALL_MARKER"]).write_text(str(os.getpid()))
    time.sleep(3600)


if os.environ.get("RANK") is not None and os.environ.get("RANK") == os.environ.get("STALL_RANK"):
    where = os.environ["STALL_AT"]
    if where == "generate":
        from harness.runtime import distributed

        distributed.share = lambda *args, **kwargs: _stall()
    else:
        from transformers import TrainerCallback

        import backends.sft as sft

        class Stall(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == int(where.split()[1]):
                    _stall()

        setup = sft.SFTBackend.setup

        def stalling_setup(self, *args, **kwargs):
            setup(self, *args, **kwargs)
            self.trainer.add_callback(Stall())

        sft.SFTBackend.setup = stalling_setup
'''


@pytest.mark.parametrize("where, kept", [("generate", False), ("step 3", True)])
def test_a_killed_process_ends_the_run_in_one_line_and_leaves_no_half_written_run(tmp_path, where, kept):
    """Process 2 of 2 is SIGKILLed: the launcher stops the other, and the command says so in one line; a run
    directory that holds nothing yet is removed, one with finished work is kept whole, to be resumed."""
    import signal
    import time

    suite = cut_suite("agent_tools", tmp_path / "agent_tools", 24, 2)
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(STALL)
    marker, out = tmp_path / "stalled", tmp_path / "runs"
    env = dict(_env(tmp_path), HARNESS_CACHE=str(tmp_path / "cache"), PYTHONPATH=f"{tmp_path / 'hook'}:{ROOT}",
               STALL_RANK="1", STALL_AT=where, STALL_MARKER=str(marker))
    command = [sys.executable, "-m", "harness", "run", "--suite", str(suite), "--out", str(out), "--backend", "lora",
               "--set", "lora.max_steps=6", "--processes", "2"]
    with open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, (tmp_path / "err").read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never reached the point to kill it at"
            time.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)
        assert proc.wait(timeout=300) == 1
    stderr = (tmp_path / "err").read_text()
    assert "Traceback" not in stderr and "ChildFailedError" not in stderr and "internal error" not in stderr, stderr
    (line,) = [x for x in stderr.splitlines() if "harness: error" in x]
    runs = list(out.iterdir())
    assert len(runs) == (1 if kept else 0)
    assert stderr.endswith("\nharness: error: process 2 of 2 was killed (SIGKILL), so the others were stopped; " + (
        f"`harness run --resume {runs[0].resolve()}` continues the run\n" if kept else
        "the run directory held nothing yet and was removed\n")), stderr
    if kept:  # whole: its record reads, its base predictions are complete, no file was left half-written
        record = load_record(runs[0])
        assert record.status != "complete" and len(load_predictions(runs[0], "base", "agent_tools")) == 2
        assert not [p for p in runs[0].rglob("*") if p.name.endswith(".tmp")]
