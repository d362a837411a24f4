"""The sandbox: verdicts and reasons on hand-checked solutions, and containment of hostile ones."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from harness.common.errors import HarnessError
from harness.metrics.sandbox import channel as child
from harness.metrics.sandbox import jail, runner
from harness.metrics.sandbox.runner import (
    MAX_REASON,
    Limits,
    Outcome,
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


pytestmark = pytest.mark.skipif(not runner.available(), reason=f"no sandbox: {jail.INSTALL_HINT}")


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


# --- containment (the hostile payloads are in test_sandbox_escapes.py) --------------------------------

def test_an_infinite_loop_is_stopped():
    outcome = contained("def f():\n    while True:\n        pass\n", limits=FAST)
    assert outcome.reason in ("killed: CPU time limit (1 s)", "timed out after 1.5 s")


def test_a_sleeper_is_killed_at_the_wall_limit():
    started = time.monotonic()
    outcome = contained("import time\ndef f():\n    time.sleep(60)\n", limits=Limits(wall_seconds=1))
    assert outcome.reason == "timed out after 1 s"
    assert 1 <= outcome.seconds <= time.monotonic() - started


@pytest.mark.parametrize("bomb", [
    "import os\ndef f():\n    while True:\n        os.fork()\n",
    "import os\ndef f():\n    assert os.system(':(){ :|:& };:') == 0\n",
    "import os\ndef f():\n    os.posix_spawn('/bin/sh', ['sh'], {})\n",
    "def f():\n    import subprocess\n    subprocess.run(['true'])\n",
    "def f():\n    import multiprocessing as m\n    m.Process(target=f).start()\n",
])
def test_a_fork_bomb_cannot_start_a_process(bomb):
    reason = contained(bomb).reason
    assert "Operation not permitted" in reason or reason.startswith("assert os.system"), reason


def test_threads_still_work():
    threads = ("import threading\ndef f():\n    out = []\n    t = threading.Thread(target=out.append, args=(1,))\n"
               "    t.start()\n    t.join()\n    return out\n")
    assert run_tests(threads, "assert f() == [1]\n").passed


def test_a_memory_bomb_is_stopped():
    assert contained("def f():\n    return [0] * 10**10\n").reason == "killed: memory limit (512 MB)"
    grower = "def f():\n    hog = []\n    while True:\n        hog.append(bytearray(10**7))\n"
    assert contained(grower, limits=Limits(memory_mb=200)).reason == "killed: memory limit (200 MB)"


def test_a_large_file_is_stopped():
    outcome = contained("def f():\n    with open('big', 'wb') as out:\n        out.write(bytes(2 * 2**20))\n")
    assert outcome.reason == "OSError: [Errno 27] File too large (solution line 3)"
    assert run_tests("def f():\n    open('small', 'wb').write(bytes(2**20))\n", "f()\n").passed


def test_environment_secrets_are_not_visible(monkeypatch):
    monkeypatch.setenv("HARNESS_FAKE_SECRET", "hunter2")
    probe = "import os\ndef env():\n    return dict(os.environ)\n"
    tests = "e = env()\nassert 'PATH' in e\nassert not [v for v in e.values() if 'hunter2' in v], e\n"
    outcome = run_tests(probe, tests)
    assert outcome.passed, outcome.reason


def test_exiting_early_fails():
    assert contained("import sys\ndef f():\n    sys.exit(0)\n").reason == "SystemExit: 0 (solution line 3)"
    assert contained("import os\ndef f():\n    os._exit(0)\n").reason == "exited with code 0 before the tests finished"


# --- the semantics of plain Python ------------------------------------------------------------------

PLAIN_CASES = [  # (solution, tests): each judged by the sandbox and by one plain interpreter running both
    ("from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    y: int = 2\n"
     "def norm(a):\n    p = P(a)\n    return p.x * p.x + p.y * p.y\n", "assert norm(1) == 5\n"),
    ("from typing import List\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n", "assert total([1, 2]) == 3\n"),
    ("def total(xs: List[int]) -> int:\n    return sum(xs)\n", "assert total([1, 2]) == 3\n"),  # NameError
    ("def f(x):\n    return f.__annotations__\n", "assert f(1) == {}\n"),
    ("def pair(x):\n    return (x, [x], {x: x}, {x}, None, -0.0, 10 ** 30, 'é', b'\\x00')\n",
     "assert pair(3) == (3, [3], {3: 3}, {3}, None, -0.0, 10 ** 30, 'é', b'\\x00')\n"),
    ("def pair(x):\n    return [x]\n", "assert pair(3) == (3,)\n"),  # a list is not a tuple
    ("import math\ndef root(x):\n    return math.sqrt(x)\n",
     "def check(candidate):\n    assert abs(candidate(2) - 1.41421356) < 1e-6\n    assert math.isnan(candidate(float('nan')))\n"
     "check(root)\n"),
    ("def raises(x):\n    raise ValueError(x)\n", "try:\n    raises(1)\n    assert False\nexcept ValueError as e:\n"
     "    assert str(e) == '1'\n"),
    ("def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\ndef zero(xs):\n    return 0.0\n",
     "assert abs(poly([0, 1], zero([0, 1]))) < 1e-9\n"),  # the tests call a helper the solution defines
    ("def apply(f, x):\n    return f(x)\ndef inc(x):\n    return x + 1\n", "assert apply(inc, 1) == 2\n"),
]


@pytest.mark.parametrize("solution, tests", PLAIN_CASES)
def test_verdicts_match_plain_python(solution, tests):
    plain = subprocess.run([sys.executable, "-I", "-c", solution + "\n" + tests], capture_output=True)
    outcome = run_tests(solution, tests)
    assert outcome.passed == (plain.returncode == 0), (outcome.reason, plain.stderr[-300:])


def test_annotations_are_evaluated_and_a_preamble_supplies_imports():
    solution = "def total(xs: List[int]) -> int:\n    return sum(xs)\n"
    assert run_tests(solution, "assert total([1]) == 1\n").reason == \
        "NameError: name 'List' is not defined (solution line 1)"
    assert run_tests(solution, "assert total([1]) == 1\n", preamble="from typing import List\n").passed
    # The preamble's names are the tests' too, and no solution redefines them there (nor a builtin).
    cheat = "def f(x):\n    return x\nTOLERANCE = 10 ** 9\nabs = lambda v: 0\n"
    tests = "assert abs(f(1) - 2) < TOLERANCE\n"
    outcome = run_tests(cheat, tests, preamble="TOLERANCE = 1e-9\n")
    assert outcome.reason == "assert abs(f(1) - 2) < TOLERANCE"


def test_a_preamble_that_does_not_compile_is_the_suites_error():
    with pytest.raises(HarnessError, match=r"^the suite's preamble do not compile"):
        run_tests(ADD, ADD_TESTS, preamble="import (\n")


def test_the_active_mechanisms_are_reported():
    active = isolation()
    assert active[0] == "bubblewrap: user/pid/net/ipc/uts namespaces"
    assert "separate tests process" in active and "read-only python, tmpfs 64MB" in active


def test_the_solution_runs_as_nobody_in_a_fresh_pid_namespace_without_network():
    probe = ("import os, socket\ndef who():\n    return (os.getuid(), os.getgid(), os.getpid() < 10, os.getcwd(),\n"
             "            sorted(name for _, name in socket.if_nameindex()))\n")
    assert run_tests(probe, "assert who() == (65534, 65534, True, '/tmp', ['lo'])\n").passed


def test_without_bubblewrap_code_is_refused_unless_accepted(monkeypatch):
    monkeypatch.setattr(jail, "_probe", lambda: (None, jail.INSTALL_HINT))
    monkeypatch.delenv(runner.ALLOW_UNSANDBOXED_ENV, raising=False)
    with pytest.raises(HarnessError, match=r"install the `bubblewrap` package .* --allow-unsandboxed-code"):
        run_tests(ADD, ADD_TESTS)
    monkeypatch.setenv(runner.ALLOW_UNSANDBOXED_ENV, "1")
    assert isolation()[0] == "UNSANDBOXED"
    assert run_tests(ADD, ADD_TESTS).passed
    assert run_tests("def add(a, b):\n    return 0\n", ADD_TESTS).reason == "assert add(2, 3) == 5"


# --- the channel's values ---------------------------------------------------------------------------

ROUND_TRIP = [None, True, False, 0, -1, 10 ** 5000, -(2 ** 70), 0.1, -0.0, float("inf"), float("-inf"), 1e-310,
              complex(1.5, -2), "", "é\x00\ud800", b"\x00\xff", (), (1,), [1, [2, (3,)]], {1: "a", "b": (2, None)},
              set(), {1, 2}, frozenset({"x"}), {frozenset({1}): [b""]}]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_literal_values_cross_the_channel_unchanged(value):
    back = child.decode(child.encode(value))
    assert type(back) is type(value) and back == value
    if isinstance(value, (list, dict)):
        assert repr(back) == repr(value)  # the types inside too
    assert child.decode(child.encode(-0.0)).hex() == "-0x0.0p+0"


def test_nan_and_subclasses_cross_as_plain_values():
    import enum
    import math
    from collections import namedtuple

    assert math.isnan(child.decode(child.encode(float("nan"))))
    Size = enum.IntEnum("Size", "S M")
    assert type(child.decode(child.encode(Size.M))) is int
    assert child.decode(child.encode(namedtuple("P", "x y")(1, 2))) == (1, 2)


@pytest.mark.parametrize("bad", [b"", b"X", b"i12", b"i1;x", b"s5:abc", b"l3:N", b"l99999999999:", b"d1:l0:N",
                                 b"r1:f", b"s-1:", b"f0x1p+;", b"l1:" * 200 + b"N", b"s1:\xff", b"N N"])
def test_anything_else_on_the_channel_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        child.decode(bad)


def test_random_bytes_never_decode_to_anything_but_an_error():
    import random

    rng = random.Random(0)
    alphabet = b"NTZifcsbrtlSgd0123456789abcdef-:;.px"
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        try:
            child.decode(data)
        except (ValueError, TypeError):
            pass


def test_non_literals_are_not_encoded():
    for value in (object(), print, iter([1]), [print], {1: object()}):
        with pytest.raises(TypeError, match="is not a literal value"):
            child.encode(value)
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deep"):
        child.encode(deep)
