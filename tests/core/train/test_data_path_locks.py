"""No silent hang on DeepSpeed op builds (core.train.op_builds): a build lock whose owner was killed is cleared
with one line and the build proceeds; a live owner is waited for with one line; an old lock owned on another
machine stops the run with one line naming the file; on CPU the shm comm op is never built, so the lock a
killed build of it left (the case seen twice) no longer stops core.train.

The build test uses a real DeepSpeed OpBuilder and torch's real FileBaton on a tiny C++ module (builds in
seconds), not DeepSpeed's own ops (a minute each)."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from core.errors import ConfigError
from core.train import op_builds
from tests.trainer_utils import REPO, write_data

TINY_OP = "sft_tiny_op"
BUILDER = f'''
import os, sys
from deepspeed.ops.op_builder.cpu.builder import CPUOpBuilder
from core.train import op_builds

class TinyBuilder(CPUOpBuilder):
    NAME = "{TINY_OP}"
    def __init__(self):
        super().__init__(name=self.NAME)
    def absolute_name(self):
        return "deepspeed.ops.{TINY_OP}_op"
    def sources(self):
        return [sys.argv[1]]
    def include_paths(self):
        return []
    def cxx_args(self):
        return ["-O0"]
    def is_compatible(self, verbose=False):
        return True

op_builds.guard_deepspeed_builds()
module = TinyBuilder().jit_load(verbose=False)
print("loaded", module.__name__, flush=True)
'''
SOURCE = f'''#include <Python.h>
static struct PyModuleDef tiny = {{PyModuleDef_HEAD_INIT, "{TINY_OP}", NULL, -1, NULL}};
PyMODINIT_FUNC PyInit_{TINY_OP}(void) {{ return PyModule_Create(&tiny); }}
'''
HOLDER = '''
import fcntl, os, socket, sys, time
folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
fd = os.open(os.path.join(folder, "sft-owner"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} {socket.gethostname()}\\n".encode())
open(os.path.join(folder, "lock"), "w").close()  # what torch's FileBaton creates before it builds
print("holding", flush=True)
time.sleep(600)
'''


def env_for(extensions: str) -> dict:
    return {**os.environ, "TORCH_EXTENSIONS_DIR": extensions, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}


def build_folder(extensions: str, name: str) -> str:
    out = subprocess.run([sys.executable, "-c", f"from core.train import op_builds; print(op_builds.build_dir({name!r}))"],
                         env=env_for(extensions), capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def hold_and_kill(folder: str, env: dict, kill: bool = True) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, folder], env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    if kill:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    return holder


def test_a_build_lock_left_by_a_killed_build_is_cleared_and_the_build_proceeds(tmp_path):
    extensions = str(tmp_path / "ext")
    env = env_for(extensions)
    (tmp_path / "tiny.cpp").write_text(SOURCE)
    folder = build_folder(extensions, TINY_OP)
    assert folder.startswith(os.path.realpath(extensions))
    hold_and_kill(folder, env)  # a build killed while it held both locks
    assert os.path.exists(os.path.join(folder, "lock"))
    run = [sys.executable, "-c", BUILDER, str(tmp_path / "tiny.cpp")]
    out = subprocess.run(run, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert any(line.startswith("[engine] removed a stale build lock") and "gone" in line for line in lines), out.stdout
    assert sum("[engine] building DeepSpeed op sft_tiny_op (once" in line for line in lines) == 1
    assert lines[-1] == f"loaded {TINY_OP}"

    # A live owner is waited for (one line), and once it dies its lock is cleared; the op is built already.
    holder = hold_and_kill(folder, env, kill=False)
    waiter = subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = waiter.stdout.readline()
    while first and not first.startswith("[engine]"):  # DeepSpeed's own start-up lines
        first = waiter.stdout.readline()
    assert first.startswith(f"[engine] waiting for process {holder.pid} on {socket.gethostname()} to finish building"), first
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    rest, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err[-3000:]
    assert "removed a stale build lock" in rest and "building DeepSpeed op" not in rest
    assert rest.splitlines()[-1] == f"loaded {TINY_OP}"


def test_an_old_lock_owned_on_another_machine_stops_with_the_file_to_delete(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    lock = folder / "lock"
    lock.touch()
    old = time.time() - op_builds.STALE_AFTER_S - 60
    os.utime(lock, (old, old))
    with pytest.raises(ConfigError, match="delete it if no build of cpu_adam is running") as e:
        op_builds._judge_lock(str(folder), "cpu_adam", ("4242", "other-node"), flock_held=True)
    assert str(lock) in str(e.value) and "\n" not in str(e.value)
    os.utime(lock, None)  # young: waited for, with one line, not removed
    op_builds._judge_lock(str(folder), "cpu_adam", ("4242", "other-node"), flock_held=True)
    assert lock.exists()


def test_core_train_proceeds_past_the_lock_a_killed_shm_build_left(tmp_path):
    extensions = str(tmp_path / "ext")
    env = env_for(extensions)
    folder = build_folder(extensions, "deepspeed_shm_comm")
    open(os.path.join(folder, "lock"), "w").close()  # torch's baton, owner killed mid-build (no owner file)
    data = write_data(tmp_path, n=12)
    started = time.time()
    out = subprocess.run([sys.executable, "-m", "core.train", "--data", data, "--out", str(tmp_path / "run"),
                          "--max-steps", "1", "--progress=false", f"--data.cache_dir={tmp_path / 'cache'}"],
                         env=env, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "[done] 1 steps" in out.stdout
    assert not [f for f in os.listdir(folder) if f.endswith(".so")], "the shm op was built on CPU"
    assert time.time() - started < 180
