"""The OS-level jail a sandboxed process runs in: a bubblewrap (`bwrap`) command line and its seccomp filter.

Each process gets, from bubblewrap: new user, pid, network, IPC, UTS and cgroup namespaces (no nested
user namespaces: ``--disable-userns``), uid and gid 65534 inside, ``--die-with-parent``,
``--new-session``, a fresh ``/proc`` of its own pid namespace and a minimal ``/dev``; read-only binds of
the system's libraries and programs (``/usr``, with ``/lib``, ``/lib64`` and ``/bin`` as its links) and
of the interpreter's own installation (executable, standard library, ``libpython``), with the base
installation's ``site-packages`` hidden under an empty read-only tmpfs; the jail's own root made
read-only; and one writable place, a size-limited tmpfs at ``/tmp`` (its working directory), gone
when the process ends. Nothing else of the
machine is there: not the harness, not the virtual environment, not ``/etc``, ``/home``, ``/root``, the
cache or the runs. From a seccomp filter (x86-64 and aarch64): no new processes (fork, vfork, clone
without CLONE_THREAD, clone3: threads still work), no ptrace, process_vm, keyctl, bpf, perf_event_open,
userfaultfd, io_uring, mount, unshare or setns.
"""
from __future__ import annotations

import os
import platform
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import time
from functools import cache
from pathlib import Path

INSTALL_HINT = "install the `bubblewrap` package (e.g. `apt-get install bubblewrap`)"
SANDBOX_UID = 65534
WORKDIR = "/tmp"


def bwrap() -> str | None:
    """The bubblewrap executable, when it is installed and can make a jail on this machine."""
    return _probe()[0]


def unavailable() -> str:
    """Why there is no jail here, as the end of a sentence ("" when there is one)."""
    return _probe()[1]


@cache
def _probe() -> tuple[str | None, str]:
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None, INSTALL_HINT
    probe = [path, *_namespaces(), *_binds(), "--", _interpreter(), "-I", "-S", "-c", "pass"]
    try:
        done = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"bubblewrap is installed but did not start ({e})"
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
        return None, f"bubblewrap is installed but cannot make a sandbox here (user namespaces off?): {said}"
    return path, ""


def command(tmpfs_bytes: int, seccomp_fd: int | None, info_fd: int | None = None) -> list[str]:
    """The bubblewrap command line that runs the interpreter as ``python -I -S -B`` in a fresh jail;
    bubblewrap reads the seccomp filter from `seccomp_fd` and writes the jail's first pid to `info_fd`."""
    path = bwrap()
    assert path is not None, "command() needs bwrap(); check it first"
    extra = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
    extra += ["--info-fd", str(info_fd)] if info_fd is not None else []
    return [path, *_namespaces(), *_binds(), "--size", str(tmpfs_bytes), "--tmpfs", WORKDIR, "--remount-ro", "/",
            "--chdir", WORKDIR, *extra, "--", _interpreter(), "-I", "-S", "-B"]


def _namespaces() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID), "--gid",
            str(SANDBOX_UID), "--die-with-parent", "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "HOME", WORKDIR, "--setenv", "TMPDIR", WORKDIR, "--setenv", "LANG", "C.UTF-8",
            "--proc", "/proc", "--dev", "/dev"]


@cache
def _interpreter() -> str:
    """The real interpreter behind this one (a virtual environment's python is a link to it)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@cache
def _binds() -> tuple[str, ...]:
    """Read-only binds of the system's libraries and of this interpreter's installation, nothing else."""
    args = ["--ro-bind", "/usr", "/usr"]
    for link in ("lib", "lib64", "bin", "lib32"):
        target = Path("/", link)
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    libdir = os.path.realpath(sysconfig.get_config_var("LIBDIR") or stdlib)
    shared = [os.path.join(libdir, name) for name in os.listdir(libdir) if name.startswith("libpython")] \
        if os.path.isdir(libdir) else []
    for path in (_interpreter(), stdlib, *shared):
        if not path.startswith("/usr/"):
            args += ["--ro-bind", path, path]
    site = os.path.join(stdlib, "site-packages")
    if os.path.isdir(site):  # the base installation's packages: not the standard library
        args += ["--tmpfs", site, "--remount-ro", site]
    return tuple(args)


def end(jails: list[tuple[int, int]]) -> None:
    """SIGKILL each jail's first process (its pid, and bubblewrap's pid that must be its parent) and wait
    until each has exited, which the kernel allows only once every other process of its pid namespace
    has: nothing of a jail outlives the run. The jails end in parallel."""
    pidfds = []
    for pid, parent in jails:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue  # already gone
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[1]) != parent:
                    raise ValueError("not the jail's any more: the pid was reused")
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            pidfds.append(pidfd)
        except (OSError, ValueError, IndexError):
            os.close(pidfd)
    sel = selectors.DefaultSelector()
    try:
        for pidfd in pidfds:
            sel.register(pidfd, selectors.EVENT_READ)  # readable once the process has exited
        deadline = time.monotonic() + 5.0
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(deadline - time.monotonic()):
                sel.unregister(key.fd)
    finally:
        sel.close()
        for pidfd in pidfds:
            os.close(pidfd)


# --- seccomp ----------------------------------------------------------------------------------------

_ARCH = {"x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435}, {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "keyctl": 250, "add_key": 248,
    "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
    "mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "kexec_load": 246, "pidfd_getfd": 438}),
         "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}, {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "keyctl": 219, "add_key": 217,
    "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425,
    "mount": 40, "umount2": 39, "unshare": 97, "setns": 268, "kexec_load": 104, "pidfd_getfd": 438})}
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_ALLOW, _KILL, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000  # SECCOMP_RET_ALLOW, KILL_PROCESS, ERRNO


def seccomp_filter() -> bytes | None:
    """The filter as bubblewrap's ``--seccomp`` reads it (an array of ``struct sock_filter``); None on an
    architecture it does not know. A call of another architecture's ABI (x32, i386 on x86-64) kills."""
    known = _ARCH.get(platform.machine())
    if known is None:
        return None
    arch, spawning, denied = known
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JSET|K, BPF_RET|K
    prog: list[tuple[int, int, int, int]] = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, _KILL), (ld, 0, 0, 0)]
    if arch == 0xC000003E:  # x32 system calls have bit 30 set
        prog += [(0x35, 0, 1, 0x40000000), (ret, 0, 0, _KILL)]  # BPF_JMP|JGE|K
    deny = [n for name, n in spawning.items() if name not in ("clone", "clone3")] + list(denied.values())
    for number in deny:
        prog += [(jeq, 0, 1, number), (ret, 0, 0, _ERRNO | _EPERM)]
    prog += [(jeq, 0, 1, spawning["clone3"]), (ret, 0, 0, _ERRNO | _ENOSYS)]  # glibc falls back to clone
    prog += [(jeq, 1, 0, spawning["clone"]), (ret, 0, 0, _ALLOW),
             (ld, 0, 0, 16), (jset, 1, 0, _CLONE_THREAD), (ret, 0, 0, _ERRNO | _EPERM), (ret, 0, 0, _ALLOW)]
    return b"".join(struct.pack("=HBBI", *insn) for insn in prog)
