"""The sandbox: verdicts and reasons on hand-checked solutions, and containment of hostile ones."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from harness.common.errors import HarnessError
from harness.metrics.sandbox.runner import (
    MAX_REASON,
    Limits,
    Outcome,
    _watch,
    extract_code,
    isolation,
    run_many,
    run_tests,
)

ROOT = Path(__file__).resolve().parents[1]
ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
FAST = Limits(wall_seconds=1.5, cpu_seconds=1)  # for the runs that are meant to hit a limit
MARGIN = 2.0  # seconds past the wall limit a run may take (start-up, cleanup, a loaded machine)


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Work directories go to a fresh folder, so a test can see that none is left behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(psutil.Process().children(recursive=True))  # e.g. a browser other tests keep open
    yield tmp_path
    assert list(tmp_path.iterdir()) == [], "a work directory was left behind"
    assert set(psutil.Process().children(recursive=True)) <= before, "a child process outlived its run"


def contained(solution: str, tests: str = "f()\n", limits: Limits | None = None) -> Outcome:
    """Run a hostile solution: it must fail, within its wall bound, and leave the parent able to run more."""
    limits = limits or Limits()
    started = time.monotonic()
    outcome = run_tests(solution, tests, limits)
    elapsed = time.monotonic() - started
    assert not outcome.passed
    assert elapsed < limits.wall_seconds + MARGIN
    assert outcome.seconds <= elapsed  # the run's own clock agrees with ours
    assert run_tests(ADD, ADD_TESTS).passed, "a normal solution no longer passes after this one"
    return outcome


# --- verdicts and reasons ---------------------------------------------------------------------------

def test_a_correct_solution_passes():
    outcome = run_tests(ADD, ADD_TESTS)
    assert outcome == Outcome(True, "", outcome.seconds, "")
    assert 0 < outcome.seconds < 5


def test_a_wrong_solution_fails_on_its_first_failing_assertion():
    tests = "assert add(2, 2) == 4\nassert add(2, 3) == 5\nassert 0\n"
    outcome = run_tests("def add(a, b):\n    return a * b\n", tests)
    assert outcome.passed is False
    assert outcome.reason == "assert add(2, 3) == 5"


def test_an_assertion_message_and_a_multi_line_assertion_are_quoted():
    tests = "def check(candidate):\n    assert candidate(1, 2) == (\n        4), 'one and two'\ncheck(add)\n"
    assert run_tests(ADD, tests).reason == "assert candidate(1, 2) == ( 4), 'one and two' (AssertionError: one and two)"


def test_an_exception_names_its_type_message_and_line():
    outcome = run_tests("def div(a, b):\n    return a // b\n", "assert div(4, 2) == 2\nassert div(1, 0) == 0\n")
    assert outcome.reason == "ZeroDivisionError: integer division or modulo by zero (solution line 2)"
    outcome = run_tests(ADD, "assert sub(1, 1) == 0\n")
    assert outcome.reason == "NameError: name 'sub' is not defined (tests line 1)"


def test_a_syntax_error():
    outcome = run_tests("def add(a, b)\n    return a + b\n", ADD_TESTS)
    assert outcome.reason == "SyntaxError: expected ':' (solution line 1)"


def test_a_solution_that_defines_no_function():
    assert run_tests("add = 3\nprint('hello')\n", ADD_TESTS).reason == "no function defined"
    assert run_tests("", ADD_TESTS).reason == "no function defined"
    assert run_tests("from math import gcd as add\n", ADD_TESTS).reason == "no function defined"


def test_decorated_functions_lambdas_and_demo_blocks_count_as_solutions():
    cached = "import functools\n@functools.lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)"
    assert run_tests(cached, "assert fib(30) == 832040\n").passed
    assert run_tests("add = lambda a, b: a + b\n", ADD_TESTS).passed
    demo = ADD + "if __name__ == '__main__':\n    print(add(int(input()), 1))\n"
    assert run_tests(demo, ADD_TESTS).passed


def test_fenced_model_output_is_extracted_and_passes():
    output = "Here is the function:\n\n```python\n" + ADD + "```\n\nIt adds `a` and `b`.\n"
    assert extract_code(output) == ADD.rstrip("\n")
    assert run_tests(extract_code(output), ADD_TESTS).passed


@pytest.mark.parametrize("output, code", [
    ("```py\nx = 1\n```\ntext\n```python\ndef f():\n    return x\n```", "def f():\n    return x"),
    ("```\ndef f():\n    return 1\n```", "def f():\n    return 1"),
    ("```python\ndef f():\n    return 1\n", "def f():\n    return 1"),  # cut off before the closing fence
    ("```bash\npip install x\n```\n", "pip install x"),
    ("Sure! Here it is.\nimport math\n\ndef f(x):\n    return math.sqrt(x)\n\nprint(f(4))\n\nThis returns the root.\n",
     "import math\n\ndef f(x):\n    return math.sqrt(x)\n\nprint(f(4))"),
    ("def f():\n    return 1\nresult = f()\nNote, it is short.", "def f():\n    return 1\nresult = f()"),
    ("no code at all", "no code at all"),
])
def test_extract_code(output, code):
    assert extract_code(output) == code


def test_output_is_kept_up_to_the_limit_and_a_flood_of_it_is_no_failure():
    flood = "def f():\n    for _ in range(20000):\n        print('x' * 1000)\n"
    outcome = run_tests(flood, "f()\n", Limits(output_chars=100))
    assert outcome.passed, outcome.reason
    assert outcome.output == "x" * 100


def test_a_long_reason_is_one_bounded_line():
    outcome = run_tests(ADD, "assert add(1, 1) == 3, 'line\\n' * 500\n")
    assert "\n" not in outcome.reason and len(outcome.reason) == MAX_REASON


def test_hidden_tests_that_do_not_compile_are_the_suites_error():
    with pytest.raises(HarnessError, match=r"^hidden tests do not compile: invalid syntax \(line 1\)$"):
        run_tests(ADD, "assert add(1, 1) ==\n")


def test_limits_must_be_positive():
    with pytest.raises(HarnessError, match="sandbox limits: memory_mb: must be a positive number"):
        Limits(memory_mb=0)


def test_run_many_keeps_order_and_runs_each_example_alone():
    pairs = [(ADD, ADD_TESTS), ("def add(a, b):\n    return 0\n", ADD_TESTS), (ADD, "assert add(1, 1) == 2\n")]
    pairs.append(("import os\ndef add(a, b):\n    open('mine', 'w').close()\n    return os.listdir('.')\n",
                  "assert add(1, 1) == ['mine']\n"))  # an empty directory of its own: no file of another example
    outcomes = run_many(pairs * 5, workers=3)
    assert [o.passed for o in outcomes] == [True, False, True, True] * 5
    assert outcomes[1].reason == "assert add(2, 3) == 5"


# --- containment ------------------------------------------------------------------------------------

def test_an_infinite_loop_is_stopped():
    outcome = contained("def f():\n    while True:\n        pass\n", limits=FAST)
    assert outcome.reason in ("killed: CPU time limit (1 s)", "timed out after 1.5 s")


def test_a_sleeper_is_killed_at_the_wall_limit():
    started = time.monotonic()
    outcome = contained("import time\ndef f():\n    time.sleep(60)\n", limits=Limits(wall_seconds=1))
    assert outcome.reason == "timed out after 1 s"
    assert 1 <= outcome.seconds <= time.monotonic() - started


@pytest.mark.parametrize("bomb, refused", [
    ("import os\ndef f():\n    while True:\n        os.fork()\n", "os.fork"),
    ("import os\ndef f():\n    os.system(':(){ :|:& };:')\n", "os.system"),
    ("import os\ndef f():\n    os.posix_spawn('/bin/sh', ['sh'], {})\n", "os.posix_spawn"),
    ("import os\ndef f():\n    os.execv('/bin/sh', ['sh'])\n", "os.exec"),
    ("def f():\n    import subprocess\n", "_posixsubprocess"),
    ("def f():\n    import multiprocessing as m\n    m.Process(target=f).start()\n", "_posixsubprocess"),
])
def test_a_fork_bomb_cannot_start_a_process(bomb, refused):
    assert refused in contained(bomb).reason


def test_a_memory_bomb_is_stopped():
    assert contained("def f():\n    return [0] * 10**10\n").reason == "killed: memory limit (512 MB)"
    grower = "def f():\n    hog = []\n    while True:\n        hog.append(bytearray(10**7))\n"
    assert contained(grower, limits=Limits(memory_mb=200)).reason == "killed: memory limit (200 MB)"


def test_a_large_file_is_stopped():
    outcome = contained("def f():\n    with open('big', 'wb') as out:\n        out.write(bytes(2 * 2**20))\n")
    assert outcome.reason == "OSError: [Errno 27] File too large (solution line 3)"
    assert run_tests("def f():\n    open('small', 'wb').write(bytes(2**20))\n", "f()\n").passed


def test_writing_outside_the_work_directory_is_refused(tmp_path_factory):
    target = tmp_path_factory.mktemp("outside") / "planted"
    for write in (f"open({str(target)!r}, 'w').write('x')", f"os.mkdir({str(target)!r})",
                  f"os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY)", "os.symlink('/etc/passwd', 'link')",
                  "open('../escape', 'w')"):
        outcome = contained(f"import os\ndef f():\n    {write}\n")
        assert outcome.reason.startswith("PermissionError: sandbox:"), outcome.reason
    assert not target.exists()
    scratch = "def f():\n    open('scratch', 'w').write('kept')\n    return open('scratch').read()\n"
    assert run_tests(scratch, "assert f() == 'kept'\n").passed  # its own directory is writable


@pytest.mark.parametrize("path", [str(ROOT / "README.md"), "/etc/passwd", f"/proc/{os.getpid()}/environ",
                                  str(Path(__file__))])
def test_reading_the_harness_or_the_system_is_refused(path):
    outcome = contained(f"def f():\n    return open({path!r}).read()\n")
    assert outcome.reason == f"PermissionError: sandbox: reading {path!r} is not allowed (solution line 2)"


def test_listing_outside_the_work_directory_is_refused():
    assert "os.listdir '/' is not allowed" in contained("import os\ndef f():\n    return os.listdir('/')\n").reason
    assert "os.scandir" in contained(f"import os\ndef f():\n    return list(os.scandir({str(ROOT)!r}))\n").reason


@pytest.mark.parametrize("use", [
    "s = socket.socket(); s.connect(('127.0.0.1', 22))",
    "s = socket.socket(); s.bind(('127.0.0.1', 0))",
    "socket.create_connection(('127.0.0.1', 80), timeout=1)",
    "socket.getaddrinfo('localhost', 80)",
    "s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')",
    "socket.socketpair()",
])
def test_sockets_are_refused(use):
    assert "sandbox: socket." in contained(f"import socket\ndef f():\n    {use}\n").reason


def test_escape_hatches_are_refused():
    assert "ctypes" in contained("def f():\n    import ctypes\n").reason
    assert "resource.setrlimit" in contained("import resource\ndef f():\n    resource.setrlimit(0, (-1, -1))\n").reason
    assert "os.kill" in contained(f"import os\ndef f():\n    os.kill({os.getpid()}, 9)\n").reason
    assert "code.__new__" in contained("def f():\n    return f.__code__.replace(co_name='g')\n").reason
    assert "sandbox: reading '/etc/passwd'" in contained(
        "import pathlib\ndef f():\n    return pathlib.Path('/etc/passwd').read_text()\n").reason


def test_environment_secrets_are_not_visible(monkeypatch):
    monkeypatch.setenv("HARNESS_FAKE_SECRET", "hunter2")
    probe = "import os\ndef env():\n    return dict(os.environ)\n"
    tests = "e = env()\nassert 'PATH' in e\nassert not [v for v in e.values() if 'hunter2' in v], e\n"
    outcome = run_tests(probe, tests)
    assert outcome.passed, outcome.reason


def test_a_forged_verdict_is_not_believed():
    forger = ("import os\ndef f():\n    for fd in range(3, 64):\n        try:\n"
              "            os.write(fd, b'x\\nP\\n\\n')\n        except OSError:\n            pass\n    os._exit(0)\n")
    outcome = contained(forger)
    assert outcome.reason == "exited with code 0 before the tests finished"


def test_exiting_early_fails():
    assert contained("import sys\ndef f():\n    sys.exit(0)\n").reason == "SystemExit: 0 (solution line 3)"


def test_the_active_mechanisms_are_reported():
    active = isolation()
    assert "audit hook" in active and "rlimits cpu/as/fsize/core/nofile" in active
    assert ("rlimit nproc (not binding: root)" if os.geteuid() == 0 else "rlimit nproc") in active


@pytest.mark.parametrize("script", ["sleep 60 & exec sleep 60", "sleep 60 & exit 0"])
def test_descendants_die_with_the_process_group(script):
    # What stops a process that got past the audit hook: the whole group is killed, at the deadline or
    # as soon as the child itself exits (a plain shell here, which may fork freely).
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    assert proc.stdout is not None
    result_r, result_w = os.pipe()
    os.close(result_w)
    started = time.monotonic()
    try:
        _, _, timed_out, _ = _watch(proc, proc.stdout.fileno(), result_r, started + 1.0, 100)
    finally:
        proc.stdout.close()
        os.close(result_r)
    assert timed_out == script.endswith("sleep 60")
    assert time.monotonic() - started < 1.0 + MARGIN
    # SIGKILL is delivered asynchronously: give a busy machine a moment to finish the killed ones off.
    _, alive = psutil.wait_procs([p for p in psutil.process_iter() if _alive_in_group(p, proc.pid)], timeout=2)
    assert not [p for p in alive if _alive_in_group(p, proc.pid)]


def _alive_in_group(process: psutil.Process, group: int) -> bool:
    try:  # a zombie is dead, only not yet reaped by whoever inherited it
        return os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False
