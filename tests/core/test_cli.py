"""The `sft` command dispatches to each entry point's own `python -m` module."""

import subprocess
import sys

import pytest

from core import cli
from tests.trainer_utils import REPO


@pytest.mark.parametrize("argv, module, rest", [
    (["train", "--data", "a.jsonl"], "core.train", ["--data", "a.jsonl"]),
    (["inspect", "x.jsonl"], "core.data.inspect", ["x.jsonl"]),
    (["export", "--to", "trl"], "core.curate.export", ["--to", "trl"]),
    (["rag", "index", "--corpus", "c"], "suites.rag.index", ["--corpus", "c"]),
    (["longctx", "rope", "--help"], "suites.longctx.rope", ["--help"]),
])
def test_resolve_maps_commands_to_modules(argv, module, rest):
    assert cli.resolve(argv) == (module, rest)


@pytest.mark.parametrize("argv, message", [
    (["nope"], "sft: error: unknown command 'nope'"),
    (["agent", "index"], "sft: error: `sft agent` takes one of generate, train, eval"),
    (["rag"], "sft: error: `sft rag` takes one of generate, index, train, eval"),
])
def test_bad_commands_exit_with_one_line(argv, message):
    with pytest.raises(SystemExit) as e:
        cli.resolve(argv)
    assert str(e.value).splitlines()[0] == message


def test_every_listed_module_exists():
    import importlib.util

    modules = list(cli.CORE.values()) + [f"suites.{s}.{v}" for s, verbs in cli.SUITES.items() for v in verbs]
    assert [m for m in modules if importlib.util.find_spec(m) is None] == []


def test_sft_runs_the_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "core.cli", "inspect", "--help"], capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "--extra-roles" in out.stdout
