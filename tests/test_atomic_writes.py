"""Every report is written aside and renamed into place (core/outputs.py), so a kill mid-write keeps the previous
report. A static scan fails when a module in core/ or suites/ writes a file any other way, unless the file is on
ALLOWED with the reason its writes are safe; SIGKILL tests show it for the quality report (markdown and PNG) and
the suite pipelines' eval.json / eval.png."""

from __future__ import annotations

import ast
import glob
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# module -> (how many writer calls it holds, why they are safe without core.outputs)
ALLOWED: dict[str, tuple[int, str]] = {
    "core/outputs.py": (3, "the atomic writers themselves (aside file, then os.replace)"),
    "core/data/sources.py": (1, "tokenisation cache: built in CACHE.tmpPID and renamed whole"),
    "core/data/store.py": (3, "writes into that cache's aside folder only"),
    "core/synth/openai_client.py": (1, "teacher cache entry: mkstemp beside it, then os.replace"),
    "core/train/engine.py": (7, "checkpoint built in step-N.tmp and renamed; `latest` via .tmp + os.replace; "
                                "final/ is saved by HF save_pretrained inside replace_dir's aside folder"),
    "core/train/metrics.py": (1, "metrics.jsonl is an append-only log: one whole row per write"),
    "core/train/op_builds.py": (1, "a lock file (flock), never read as output"),
    "core/assets/build_tokenizer.py": (1, "a developer script that builds the test tokenizer asset"),
    "suites/rag/bm25.py": (2, "only called by RagIndex.save (bm25s too), inside replace_dir's aside folder"),
    "suites/rag/dense.py": (2, "only called by RagIndex.save, inside replace_dir's aside folder"),
}

WRITE_METHODS = {"savefig", "write_text", "write_bytes", "to_csv", "to_parquet", "to_json", "write_index",
                 "save_pretrained", "save_to_disk", "write_table", "tofile", "savetxt"}
WRITE_CLASSES = {"OSFile", "ParquetWriter", "RecordBatchFileWriter", "RecordBatchStreamWriter"}  # pyarrow sinks
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}


def _mode(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "mode":
            return kw.value
    positional = 0 if isinstance(call.func, ast.Attribute) and call.func.attr == "open" and \
        not (isinstance(call.func.value, ast.Name) and call.func.value.id in ("io", "os", "gzip", "bz2", "lzma")) \
        else 1
    return call.args[positional] if len(call.args) > positional else None


def writer(call: ast.Call) -> str | None:
    """What the call writes with, if it opens or saves a file for writing."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
    if name == "open" and owner == "os":
        flags = {n.attr for n in ast.walk(call.args[1]) if isinstance(n, ast.Attribute)} if len(call.args) > 1 else set()
        return "os.open" if flags & WRITE_FLAGS else None
    if name in ("open", "fdopen"):
        mode = _mode(call)
        if mode is None:
            return None
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
            return f"open({mode.value!r})" if set(mode.value) & set("wax+") else None
        return "open(non-literal mode)"
    if name in WRITE_CLASSES:
        return name
    if name in ("save", "savez", "savez_compressed") and owner in ("np", "numpy", "torch"):
        return f"{owner}.{name}"
    if name in WRITE_METHODS and isinstance(func, ast.Attribute) and owner != "outputs":
        return name
    return None


def writers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted([*REPO.glob("core/**/*.py"), *REPO.glob("suites/**/*.py")]):
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if isinstance(node, ast.Call) and (how := writer(node)):
                found.setdefault(rel, []).append(f"{rel}:{node.lineno}: {how}")
    return found


def test_no_module_writes_a_file_in_place():
    found = writers()
    unexpected = [hit for rel, hits in found.items() if rel not in ALLOWED for hit in hits]
    assert not unexpected, ("write through core.outputs (atomic_write / write_text / write_json / save_figure), "
                            "or add the module to ALLOWED with the reason it is safe:\n" + "\n".join(unexpected))
    changed = {rel: (len(found.get(rel, [])), count) for rel, (count, _) in ALLOWED.items()
               if len(found.get(rel, [])) != count}
    assert not changed, f"allowed modules whose writer count changed (found, allowed): {changed}; {found}"


def test_the_scan_sees_in_place_writes(tmp_path):
    source = ("import os, numpy as np\nopen(p, 'w')\nopen(p, mode='ab')\nopen(p)\nopen(p, 'rb')\nfig.savefig(p)\n"
              "pathlib.Path(p).open('w')\npathlib.Path(p).open()\nos.open(p, os.O_WRONLY | os.O_CREAT)\n"
              "os.open(p, os.O_RDONLY)\nnp.save(p, a)\nPath(p).write_text('x')\nwrite_text(p, 'x')\n"
              "outputs.save_figure(fig, p)\nopen(p, m)\npa.OSFile(p, 'wb')\n")
    hits = [w for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call) and (w := writer(node))]
    assert sorted(hits) == sorted(["open('w')", "open('ab')", "savefig", "open('w')", "os.open", "np.save",
                                   "write_text", "open(non-literal mode)", "OSFile"])


# --- a kill mid-write keeps the previous report -------------------------------------------------------------

# Runs CODE (argv[3]) with every write to TARGET (argv[1]) or to its aside copy slowed down, and a marker file
# (argv[2]) created once such a write has begun, so the SIGKILL lands in the middle of it.
SLOW_WRITE = """
import builtins, io, os, sys, time
target, marker, code = sys.argv[1:4]
stem, ext = os.path.splitext(target)
real_open = builtins.open
class Slow:
    def __init__(self, f): self.f = f
    def write(self, data):
        for i in range(0, len(data), 64):
            self.f.write(data[i:i + 64]); self.f.flush()
            if not os.path.exists(marker): real_open(marker, "w").close()
            time.sleep(0.05)
        return len(data)
    def __enter__(self): return self
    def __exit__(self, *exc): return self.f.__exit__(*exc)
    def __getattr__(self, name): return getattr(self.f, name)
def slow_open(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    name = os.path.basename(str(file))
    aside = name.startswith("." + stem) and ".tmp-" in name and ext in name
    return Slow(f) if any(c in mode for c in "wax") and (name == target or aside) else f
builtins.open = slow_open
import matplotlib.figure
real_savefig = matplotlib.figure.Figure.savefig
def savefig(self, fname, **kwargs):  # render in memory, then write the bytes through the slow open
    buf = io.BytesIO()
    real_savefig(self, buf, format=os.path.splitext(str(fname))[1][1:], **kwargs)
    with open(fname, "wb") as f:
        f.write(buf.getvalue())
matplotlib.figure.Figure.savefig = savefig
sys.argv = sys.argv[3:]
exec(code)
"""


def kill_mid_write(cwd: pathlib.Path, target: str, code: str, args: list[str]) -> None:
    marker = cwd / "writing"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, target, str(marker), code, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the write never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
        proc.communicate()


PREVIOUS_PNG = b"\x89PNG previous\n" * 50


@pytest.mark.parametrize("target", ["report.md", "report.png"])
def test_sigkill_during_the_quality_report_keeps_the_previous_one(tmp_path, target):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i} about the sea"},
                                                     {"role": "assistant", "content": f"answer {i}: it is wide"}],
                                        "task_type": f"general/chat{i % 3}"}) + "\n" for i in range(60)))
    previous = {"report.md": b"# previous report\n" * 50, "report.png": PREVIOUS_PNG}
    for name, content in previous.items():
        (tmp_path / name).write_bytes(content)
    code = "import runpy; runpy.run_module('core.curate.quality', run_name='__main__', alter_sys=True)"
    kill_mid_write(tmp_path, target, code, [str(data), "--out", "kept.jsonl", "--report", "report.md",
                                            "--overwrite", "--near_dup.enabled", "false",
                                            "--embedding.enabled", "false"])
    # neither truncated nor half-written; the markdown (written after the PNG) is the previous one in both cases
    assert (tmp_path / target).read_bytes() == previous[target]
    assert (tmp_path / "report.md").read_bytes() == previous["report.md"]


@pytest.mark.parametrize("target", ["eval.json", "eval.png"])
def test_sigkill_during_the_pipeline_eval_keeps_the_previous_one(tmp_path, target):
    previous = {"eval.json": b'{"previous": "eval"}\n' * 50, "eval.png": PREVIOUS_PNG}
    for name, content in previous.items():
        (tmp_path / name).write_bytes(content)
    after = {f"rag/task{i}": {"correct": i / 10, "n": 10} for i in range(8)} | {"ALL": {"correct": 0.4, "n": 80}}
    code = ("import json, sys; from core.eval.pipeline import write_eval\n"
            "write_eval(sys.argv[1], None, json.loads(sys.argv[2]), 'data/eval.jsonl')")
    kill_mid_write(tmp_path, target, code, [str(tmp_path), json.dumps(after)])
    assert (tmp_path / target).read_bytes() == previous[target]
    assert (tmp_path / "eval.png").read_bytes() == previous["eval.png"]  # the PNG comes after the JSON


def test_write_eval_replaces_both_files_whole(tmp_path):
    from core.eval.pipeline import write_eval

    after = {"rag/a": {"correct": 0.5}, "ALL": {"correct": 0.5}}
    for name in ("eval.json", "eval.png"):
        (tmp_path / name).write_bytes(PREVIOUS_PNG)
    write_eval(str(tmp_path), None, after, "eval.jsonl")
    assert json.loads((tmp_path / "eval.json").read_text())["after"] == after
    assert (tmp_path / "eval.png").read_bytes().startswith(b"\x89PNG\r\n")
    assert not glob.glob(str(tmp_path / ".*"))  # no aside file left behind
