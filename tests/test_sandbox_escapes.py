"""Hostile solutions against the code sandbox: each payload is a wrong `add_one` that also tries to escape,
lie about its verdict or harm the machine. Each must be contained (checked from outside the jail) and
score 0."""
from __future__ import annotations

import ast
import socket
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness.metrics.sandbox import jail, runner
from harness.metrics.sandbox.runner import Limits, run_tests

pytestmark = pytest.mark.skipif(not runner.available(), reason=f"no sandbox: {jail.INSTALL_HINT}")

ROOT = Path(__file__).resolve().parents[1]
TESTS = "assert add_one(1) == 2\nassert add_one(5) == 6\n"
WRONG = "def add_one(x):\n    {attempt}\n    return x\n"


@pytest.fixture
def outside(tmp_path_factory):
    """A folder outside the jail holding a 0600 secret; every path a payload may try to plant."""
    folder = tmp_path_factory.mktemp("outside")
    secret = folder / "secret.txt"
    secret.write_text("s3cret-token")
    secret.chmod(0o600)
    tag = uuid.uuid4().hex
    plants = [folder / "planted", ROOT / f"planted-{tag}.pth", Path(sysconfig.get_paths()["purelib"]) / f"p-{tag}.pth",
              Path("/tmp") / f"planted-{tag}", Path.home() / f"planted-{tag}"]
    yield secret, plants
    for plant in plants:
        plant.unlink(missing_ok=True)


def scored_zero(solution: str, tests: str = TESTS, limits: Limits = Limits()) -> runner.Outcome:
    started = time.monotonic()
    outcome = run_tests(solution, tests, limits)
    assert not outcome.passed, "a wrong solution passed"
    assert time.monotonic() - started < limits.wall_seconds + 3
    return outcome


def _attempts(*lines: str) -> str:
    """Each line run in its own try, what happened printed."""
    return "\n    ".join(f"try:\n        print('ok', {line})\n    except Exception as e:\n        print('FAILED', e)"
                          for line in lines)


def test_a_swapped_realpath_reads_and_writes_nothing_outside(outside):
    secret, plants = outside
    attempt = _attempts(*[f"open({str(p)!r}, 'w').write('import os')" for p in plants],
                        f"open({str(secret)!r}).read()", "open('/etc/passwd').read()",
                        f"open('/root/planted-{plants[0].name}', 'w')")  # the jail's own root is read-only
    solution = "import os, os.path\nos.path.realpath = lambda p, *a, **k: '/dev/null'\n" + WRONG.format(attempt=attempt)
    outcome = scored_zero(solution)
    assert "s3cret" not in outcome.output and "root:" not in outcome.output
    # Every write fails but the one to /tmp, which is the jail's own tmpfs, not the machine's /tmp.
    assert outcome.output.count("FAILED") == len(plants) + 2 and outcome.output.count("ok 9") == 1, outcome.output
    assert not [p for p in plants if p.exists()]


def test_hook_and_frame_tampering_cannot_forge_a_verdict():
    attempt = """import gc, os, sys
    f = sys._getframe()
    while f is not None:  # the job holds the descriptors; the tests' side is in another process
        for v in list(f.f_locals.values()) + list(f.f_globals.values()):
            if isinstance(v, dict):
                for key in ('verdict', 'tx', 'result_fd'):
                    if isinstance(v.get(key), int):
                        try:
                            os.write(v[key], b'P\\n')
                        except OSError:
                            pass
        f = f.f_back
    for obj in gc.get_objects():
        if callable(obj) and getattr(obj, '__closure__', None):
            for cell in obj.__closure__:
                try:
                    cell.cell_contents = None
                except Exception:
                    pass
    for fd in range(256):
        for forged in (b'P\\n', b'\\x00\\x00\\x00\\x0c("return",2)', b'x\\nP\\n\\n'):
            try:
                os.write(fd, forged)
            except OSError:
                pass"""
    for ending in ("", "\n    os._exit(0)"):
        outcome = scored_zero(WRONG.format(attempt=attempt + ending))
        assert outcome.reason == "the solution broke the channel to the tests: it sent something that is not an " \
                                 "answer", outcome.reason


def test_an_object_that_equals_everything_is_not_equal():
    solution = "class Yes:\n    def __eq__(self, other):\n        return True\ndef add_one(x):\n    return Yes()\n"
    assert scored_zero(solution).reason == "TypeError: Yes is not a literal value"
    subclass = "class Yes(int):\n    def __eq__(self, other):\n        return True\ndef add_one(x):\n    return Yes(x)\n"
    assert scored_zero(subclass).reason == "assert add_one(1) == 2"  # its int value is what the tests see


def test_stop_iteration_cannot_end_the_tests_early():
    tests = "for got, want in zip(map(add_one, [1, 5]), [2, 6]):\n    assert got == want\n"
    assert scored_zero("def add_one(x):\n    raise StopIteration\n", tests).reason == \
        "StopIteration (solution line 2)"


def test_errors_a_test_swallows_are_still_a_failure():
    tests = "try:\n    add_one(1)\nexcept BaseException:\n    pass\n"
    assert scored_zero("import os\ndef add_one(x):\n    os._exit(0)\n", tests).reason == \
        "exited with code 0 before the tests finished"


def test_closing_the_channel_and_lingering_fails_without_waiting_for_the_wall_limit():
    solution = "import os, time\ndef add_one(x):\n    os.closerange(3, 64)\n    time.sleep(60)\n"
    outcome = scored_zero(solution, limits=Limits(wall_seconds=20))
    assert outcome.reason == "the solution closed the channel to the tests" and outcome.seconds < 5


MARKER = "sandbox-escape-marker"


def _marked() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if MARKER in " ".join(p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


SPAWNERS = (f"os.posix_spawn(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', {MARKER!r}], {{}}, "
            "setsid=True)",
            "ctypes.CDLL(None).fork()", "ctypes.CDLL(None).syscall(56, 17, 0, 0, 0, 0)", "os.fork()",
            "os.system('sleep 30 &')")


def test_no_process_can_be_started_or_outlive_the_run():
    solution = "import ctypes, os, sys\n" + WRONG.format(attempt=_attempts(*SPAWNERS))
    outcome = scored_zero(solution)
    assert "Operation not permitted" in outcome.output
    assert "ok 0" not in outcome.output  # no fork returned 0 in a child
    assert not _marked()


def test_without_seccomp_the_pid_namespace_still_ends_every_process(monkeypatch):
    monkeypatch.setattr(jail, "seccomp_filter", lambda: None)  # the layer below seccomp, alone
    daemon = f"import os, sys\n{WRONG.format(attempt=_attempts(SPAWNERS[0]))}"
    outcome = scored_zero(daemon)
    assert "ok " in outcome.output  # it did start one
    assert not _marked()  # and nothing of the jail is left the moment scoring returns
    time.sleep(0.5)
    assert not _marked()


def test_no_network(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.3)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "s.sock"))
    unix.listen()
    unix.settimeout(0.3)
    try:
        attempt = _attempts(f"socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=1)",
                            "socket.create_connection(('1.1.1.1', 53), timeout=1)",
                            "socket.getaddrinfo('example.com', 80)",
                            f"socket.socket(socket.AF_UNIX).connect({str(tmp_path / 's.sock')!r})")
        outcome = scored_zero("import socket\n" + WRONG.format(attempt=attempt))
        assert outcome.output.count("FAILED") == 4, outcome.output
        for listener in (server, unix):
            with pytest.raises(TimeoutError):
                listener.accept()
    finally:
        server.close()
        unix.close()


def test_the_disk_cannot_be_filled():
    attempt = """total = 0
    try:
        for i in range(1000):
            with open(f'f{i}', 'wb') as out:
                out.write(bytes(2 ** 20 - 1))
            total += 2 ** 20 - 1
    except OSError as e:
        print(e)
    print('written', total)"""
    outcome = scored_zero(WRONG.format(attempt=attempt))
    written = int(outcome.output.split("written ")[1].split()[0])
    assert 32 << 20 < written <= 64 << 20, outcome.output
    assert "No space left on device" in outcome.output


def test_the_harness_and_the_environment_are_not_in_the_jail():
    attempt = _attempts(f"open({str(ROOT / 'README.md')!r}).read()", f"os.listdir({str(ROOT)!r})",
                        f"os.listdir({sys.prefix!r})", "os.listdir('/etc')", "os.listdir('/home')")
    outcome = scored_zero("import os\n" + WRONG.format(attempt=attempt))
    assert outcome.output.count("FAILED") == 5, outcome.output


def test_the_solution_holds_no_descriptor_but_its_own():
    attempt = """found = {}
    for fd in range(1024):
        try:
            found[fd] = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            pass
    print(sorted(found.items()))"""
    outcome = scored_zero("import os\n" + WRONG.format(attempt=attempt))
    found = dict(ast.literal_eval(outcome.output))
    assert found[0] == "/dev/null" and found[1] == found[2] and len(found) == 5, found  # + its two channel ends
    assert all(target.startswith("pipe:") for fd, target in found.items() if fd), found
