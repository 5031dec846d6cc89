"""bench/gpu_check.sh --dry-run: the GPU check's code paths on the CPU at tiny shapes, so it cannot rot."""

import os
import subprocess
import sys

from bench.gpu_check import main, search_longest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = ("device", "torch", "flash-attn", "attention kernel", "packed vs per-segment fp32: max |out diff|",
        "packed vs per-segment fp32: max |dq diff|", "model", "train step, packed row of 64",
        "train step, packed row of 128", "longest row that trains, without grad checkpointing",
        "longest row that trains, with grad checkpointing", "check took")


def test_dry_run_fills_every_row_of_the_table():
    rows = {r.name: r for r in main(["--dry-run", "--lengths", "64", "128", "--steps", "1", "--limit", "256"])}
    assert tuple(rows) == ROWS
    assert rows["attention kernel"].value == "torch sdpa per segment"
    assert float(rows["packed vs per-segment fp32: max |out diff|"].value) < 1e-5
    assert float(rows["packed vs per-segment fp32: max |dq diff|"].value) < 1e-4
    assert rows["train step, packed row of 128"].value.endswith("tokens/s")
    assert rows["longest row that trains, without grad checkpointing"].value == "256 tokens"  # the search limit
    assert rows["longest row that trains, with grad checkpointing"].value == "256 tokens"


def test_shell_entry_point_reaches_the_check_in_dry_run_mode():
    script = os.path.join(REPO, "bench", "gpu_check.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    done = subprocess.run(["bash", script, "--dry-run", "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--dry-run" in done.stdout and "--budget-s" in done.stdout


def test_longest_row_search_doubles_then_bisects():
    tried = []

    def fits(n):
        tried.append(n)
        return n <= 5000

    assert search_longest(fits, 1024, 1 << 20, float("inf"), step=512) == (4608, "5,120 ran out of memory")
    assert tried == [1024, 2048, 4096, 8192, 6144, 5120, 4608]
    assert search_longest(lambda n: False, 1024, 4096, float("inf"), step=512) == (0, "1,024 ran out of memory")
    assert search_longest(lambda n: True, 1024, 4096, float("inf"), step=512) == (4096, "reached the search limit 4,096")
