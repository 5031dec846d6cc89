"""DeepSpeed's just-in-time op builds, without a silent hang.

torch builds a C++ op in TORCH_EXTENSIONS_DIR/<python>_<device>/<op>/ and guards the build with a `lock`
file (torch.utils.file_baton): a process killed mid-build leaves it behind, and every later build of that op
waits for it forever without a word. So:

- the project owns its extensions folder: TORCH_EXTENSIONS_DIR defaults to
  <cache>/torch_extensions/<python>_<device> (<cache>: $SFT_SUITES_CACHE, else $XDG_CACHE_HOME/sft-suites or
  ~/.cache/sft-suites); set the variable to use another;
- each build of ours holds an fcntl lock on `sft-owner` in the op's folder (the kernel drops it when the
  process dies, however it dies) and writes its pid and host there. A `lock` file with no holder of that
  fcntl lock and no process of this machine working in the folder is stale: it is removed with a one-line
  message. When the owner ran on another machine (a shared folder) and the lock is older than
  STALE_AFTER_S, the run stops with a line naming the file to delete;
- a first build says so in one line ("building DeepSpeed op X (once, ~N s)");
- on CPU, DeepSpeed's shared-memory communication op (deepspeed_shm_comm, built whenever its comm backend
  starts) is not built: it only serves `inference_all_reduce` (tensor-parallel inference); training
  all-reduces through torch.distributed (gloo).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import time

from core.errors import ConfigError

OWNER = "sft-owner"
STALE_AFTER_S = 600
# Measured first builds on 2 cores; they shrink with more cores.
BUILD_SECONDS = {"deepspeed_shm_comm": 35, "cpu_adam": 60, "cpu_adagrad": 60, "cpu_lion": 60, "fused_adam": 90,
                 "async_io": 45}
NOT_FOR_TRAINING_ON_CPU = ("deepspeed_shm_comm",)


def _flavour() -> str:
    import torch

    device = "cpu" if torch.version.cuda is None else f"cu{torch.version.cuda.replace('.', '')}"
    if getattr(torch.version, "hip", None):
        device = f"rocm{torch.version.hip.replace('.', '')}"
    return f"py{sys.version_info.major}{sys.version_info.minor}{getattr(sys, 'abiflags', '')}_{device}"


def default_extensions_dir() -> str:
    """<cache>/torch_extensions/<python>_<device>: torch adds no such level under a TORCH_EXTENSIONS_DIR it is
    given, and builds for another Python or CUDA must not share a folder."""
    cache = os.environ.get("SFT_SUITES_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sft-suites")
    return os.path.join(cache, "torch_extensions", _flavour())


def own_extensions_dir() -> str:
    """Point torch's extension builds at the project's folder unless TORCH_EXTENSIONS_DIR is set."""
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
    return os.environ["TORCH_EXTENSIONS_DIR"]


def build_dir(name: str) -> str:
    """The folder torch builds op `name` in (torch.utils.cpp_extension's own rule; created if missing)."""
    from torch.utils import cpp_extension

    return cpp_extension._get_build_directory(name, False)


def _local_workers(folder: str) -> list[int]:
    """Processes of this machine whose working directory is the op's folder (ninja and the compilers)."""
    real, found = os.path.realpath(folder), []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if pid.isdigit() and int(pid) != os.getpid():
            with contextlib.suppress(OSError):
                if os.path.realpath(os.readlink(f"/proc/{pid}/cwd")) == real:
                    found.append(int(pid))
    return found


def _owner(fd: int) -> tuple[str, str]:
    os.lseek(fd, 0, os.SEEK_SET)
    words = os.read(fd, 256).decode(errors="replace").split()
    return (words[0], words[1]) if len(words) >= 2 else ("", "")


def _judge_lock(folder: str, name: str, owner: tuple[str, str], flock_held: bool) -> None:
    """Remove a stale `lock`, say what a live one waits for, or stop naming the file to delete."""
    lock = os.path.join(folder, "lock")
    try:
        age = time.time() - os.stat(lock).st_mtime
    except FileNotFoundError:
        return
    pid, host = owner
    here = socket.gethostname()
    workers = _local_workers(folder)
    if workers:
        print(f"[engine] waiting for process {workers[0]} building DeepSpeed op {name} ({lock})", flush=True)
        return
    if flock_held and host in ("", here):
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)
        left_by = f"process {pid}, gone" if pid else "a killed build"
        print(f"[engine] removed a stale build lock {lock} (left by {left_by}; nothing is building {name})", flush=True)
        return
    if age > STALE_AFTER_S:
        where = f"on {host} " if host and host != here else ""
        raise ConfigError(f"DeepSpeed op {name}: the build lock {lock} is {age / 60:.0f} min old and its owner "
                          f"({where}pid {pid or '?'}) is not building here; delete it if no build of {name} is running "
                          "on any machine", field="TORCH_EXTENSIONS_DIR")
    print(f"[engine] waiting for the build of DeepSpeed op {name} by {'pid ' + pid if pid else 'another process'}"
          f"{' on ' + host if host and host != here else ''} ({lock}, {age:.0f} s old)", flush=True)


@contextlib.contextmanager
def build_guard(name: str):
    """Held around one build of op `name`: serialises our builds, clears or reports a stale lock, announces a
    first build."""
    folder = build_dir(name)
    fd = os.open(os.path.join(folder, OWNER), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        held = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, host = _owner(fd)
            print(f"[engine] waiting for process {pid or '?'}{' on ' + host if host else ''} to finish building "
                  f"DeepSpeed op {name}", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # a filesystem without fcntl locks (some network mounts)
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            held = False
        _judge_lock(folder, name, _owner(fd), held)
        if held:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        if not any(f.endswith(".so") for f in os.listdir(folder)):
            print(f"[engine] building DeepSpeed op {name} (once, ~{BUILD_SECONDS.get(name, 60)} s; in {folder})",
                  flush=True)
        yield
    finally:
        os.close(fd)  # drops the fcntl lock


def _guarded(jit_load):
    def jit_load_guarded(self, verbose=True):
        with build_guard(self.name):
            return jit_load(self, verbose)

    jit_load_guarded.sft_guarded = True
    return jit_load_guarded


def guard_deepspeed_builds() -> None:
    """Own the extensions folder, skip ops training does not use on CPU, and route every just-in-time build
    through build_guard. Idempotent; call before DeepSpeed starts its comm backend."""
    own_extensions_dir()
    import importlib

    for module in ("deepspeed.ops.op_builder.builder", "op_builder.builder"):
        try:
            builder = importlib.import_module(module).OpBuilder
        except (ImportError, AttributeError):
            continue
        if not getattr(builder.jit_load, "sft_guarded", False):
            builder.jit_load = _guarded(builder.jit_load)
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator

    if get_accelerator().device_name() == "cpu":
        compatible = deepspeed.ops.__compatible_ops__
        for name in NOT_FOR_TRAINING_ON_CPU:
            compatible[name] = False
