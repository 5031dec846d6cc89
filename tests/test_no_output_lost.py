"""No output is lost: SIGKILL during a write leaves the previous file, Ctrl-C keeps finished lines in a named
partial file, a new index leaves no stale file of the old one, a run folder is neither reused by accident nor
resumed by another run; and the silent cases not in the CLI matrix (tests/test_cli_errors.py): BOM, huge lines."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.errors import run_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREVIOUS = '{"previous": "file"}\n' * 3

# Runs an entry point in a real process with every record write slowed down, so a signal lands mid-write.
SLOW_WRITER = """
import sys, time, runpy
import core.data.records as records
original = records.dumps_record
def slow(record):
    time.sleep(0.02)
    return original(record)
records.dumps_record = slow
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def default_sigint() -> None:
    """In the child before exec: SIGINT handled by default and not blocked, whatever the test process inherited
    (a pytest worker's state must not decide whether the child can be interrupted)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def start_slow(tmp_path, module: str, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", SLOW_WRITER, module, *args], cwd=tmp_path, env=env,
                            preexec_fn=default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_write(proc: subprocess.Popen, out: str, lines: int = 3, timeout: float = 120) -> None:
    """Until the aside file holds `lines` lines, or (the former in-place writer) the target itself changed."""
    deadline = time.time() + timeout
    folder, name = os.path.dirname(out), os.path.basename(out)
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        aside = glob.glob(os.path.join(folder, f".{name}.tmp-*"))
        if aside and open(aside[0], "rb").read().count(b"\n") >= lines:
            return
        if open(out).read() != PREVIOUS:
            return
        time.sleep(0.01)
    raise AssertionError("the write never started")


@pytest.mark.parametrize("module,args", [
    ("suites.agent.generate", ["--n", "400"]),
    ("core.curate.quality", ["{data}", "--report", "report.md", "--near_dup.enabled", "false",
                             "--length.enabled", "false", "--unique_tokens.enabled", "false",
                             "--embedding.enabled", "false"]),
], ids=["agent.generate", "curate.quality"])
def test_sigkill_during_write_leaves_the_previous_file(tmp_path, module, args):
    out = str(tmp_path / "out.jsonl")
    with open(out, "w") as f:
        f.write(PREVIOUS)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i} about the sea"},
                                                     {"role": "assistant", "content": f"answer {i}: it is wide"}],
                                        "task_type": "general/chat"}) + "\n" for i in range(300)))
    args = [a.format(data=data) for a in args] + ["--out", out, "--overwrite"]
    proc = start_slow(tmp_path, module, args)
    try:
        wait_for_write(proc, out)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    assert open(out).read() == PREVIOUS  # neither truncated nor half-written


def test_ctrl_c_keeps_finished_lines_in_a_partial_file(tmp_path):
    out = str(tmp_path / "out.jsonl")
    with open(out, "w") as f:
        f.write(PREVIOUS)
    proc = start_slow(tmp_path, "suites.agent.generate", ["--n", "400", "--out", out, "--overwrite"])
    try:
        wait_for_write(proc, out, lines=5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = [x for x in err.splitlines() if "error" in x]
    assert len(lines) == 1 and out + ".partial" in lines[0], err
    assert open(out).read() == PREVIOUS
    kept = open(out + ".partial").read().splitlines()
    assert len(kept) >= 5 and all(json.loads(line)["messages"] for line in kept)  # only complete lines
    assert not glob.glob(str(tmp_path / ".out.jsonl.tmp-*"))


def test_a_new_index_leaves_no_stale_file_of_the_old_one(tmp_path):
    from suites.rag.index import IndexConfig, RagIndex

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "title": f"T{i}", "text": f"Town {i} lies by the river."})
                              + "\n" for i in range(3)))
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "index.json").write_text("{}")
    (folder / "dense.faiss").write_bytes(b"an older index's vectors")
    RagIndex.from_corpus(str(corpus), IndexConfig(dense=False, tokenizer="tiny")).save(str(folder))
    assert not (folder / "dense.faiss").exists()
    assert RagIndex.load(str(folder)).dense is None


def test_bom_is_dropped_from_corpus_text_and_records(tmp_path):
    from core.data.records import read_records
    from suites.rag.corpus import load_corpus

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_bytes("\ufeff# Harbour rules\n\nBoats dock at the north pier.\n".encode())
    (doc,) = load_corpus(str(docs))
    assert doc.title == "Harbour rules" and "\ufeff" not in doc.text
    data = tmp_path / "r.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                               {"role": "assistant", "content": "yo"}],
                                                  "task_type": "general/chat"}).encode() + b"\n")
    assert read_records(data)[0]["messages"][0]["content"] == "hi"


def test_a_50_mb_line_is_refused_in_seconds(tmp_path, capsys, monkeypatch):
    import core.data.inspect as inspect

    path = tmp_path / "huge.jsonl"
    ok = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                     "task_type": "general/chat"})
    with open(path, "w") as f:
        f.write(ok + "\n")
        f.write(json.dumps({"messages": [{"role": "user", "content": "x" * (50 << 20)},
                                         {"role": "assistant", "content": "yo"}], "task_type": "general/chat"}) + "\n")
    with pytest.raises(SystemExit) as e:
        run_cli("python -m core.data.inspect", inspect.main, [str(path)])
    assert e.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"python -m core.data.inspect: error: {path}:2: line of 50.0 MB is over the 16 MB limit"), err


def train(tmp_path, *args: str) -> tuple[int, str]:
    from core.train.cli import main

    try:
        run_cli("python -m core.train", main, ["--max-steps", "2", "--save_every", "1", "--progress", "false",
                                               "--data.cache_dir", str(tmp_path / "cache"), *args])
        return 0, ""
    except SystemExit as e:
        return e.code, ""


def test_run_folder_is_not_reused_or_resumed_by_another_run(tmp_path, capsys):
    rows = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                        "task_type": "general/chat"}) for i in range(8)]
    data, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    data.write_text("\n".join(rows) + "\n")
    other.write_text("\n".join(rows[::-1]) + "\n")
    run = str(tmp_path / "run")
    assert train(tmp_path, "--data", str(data), "--out", run)[0] == 0
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ["latest", "step-1", "step-2"]
    capsys.readouterr()

    assert train(tmp_path, "--data", str(data), "--out", run)[0] == 1  # reuse by accident
    assert "already exists; pass --overwrite to replace it, or --resume" in capsys.readouterr().err

    assert train(tmp_path, "--data", str(other), "--out", run, "--resume")[0] == 1  # other data
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume: the checkpoint was made by another run" in err and "b.jsonl" in err, err

    assert train(tmp_path, "--data", str(data), "--out", run, "--resume", "--optim.lr", "1e-3")[0] == 1
    assert "optim.lr 1e-05 -> 0.001" in capsys.readouterr().err

    # A real process: DeepSpeed keeps process-group state that a second engine in this process would trip over.
    env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "core.train", "--data", str(other), "--out", run, "--overwrite",
                           "--max-steps", "1", "--save_every", "1", "--progress", "false",
                           "--data.cache_dir", str(tmp_path / "cache")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ["latest", "step-1"]  # no step-2 of the old run
    metrics = open(os.path.join(run, "metrics.jsonl")).read().splitlines()
    assert [json.loads(m)["step"] for m in metrics if "loss" in json.loads(m)] == [1]


SLOW_BUILDER = """
import sys, time, runpy
import core.synth.generator as generator
original, built = generator.validate_record, [0]
def slow(record):
    built[0] += 1
    if built[0] == 5:
        open("five_built", "w").close()
    time.sleep(0.02)
    return original(record)
generator.validate_record = slow
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_while_generating_keeps_the_finished_samples(tmp_path):
    out = str(tmp_path / "out.jsonl")
    with open(out, "w") as f:
        f.write(PREVIOUS)
    env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BUILDER, "suites.agent.generate", "--n", "400", "--out", out,
                             "--overwrite"], cwd=tmp_path, env=env, preexec_fn=default_sigint,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "five_built").exists():
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("python -m suites.agent.generate: error: ") and "samples; the finished ones are in" in line
    assert open(out).read() == PREVIOUS
    kept = [json.loads(x) for x in open(out + ".partial")]
    assert len(kept) >= 4 and all(r["task_type"].startswith("agent/") for r in kept)  # the 5th was in flight
