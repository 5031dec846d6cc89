"""Every README entry point x bad inputs: a non-zero exit, exactly one line on stderr (``prog: error: ...``)
naming the file (and line and field where there is one), no traceback, and no output file touched.

Entry points run in-process through the shared wrapper (`core.errors.run_cli`), so the matrix stays fast; what
the wrapper prints is what `python -m ...` prints (tests/test_cli_kill.py runs real processes).
"""

from __future__ import annotations

import importlib
import itertools
import json
import os

import pytest

from core.errors import run_cli

GOOD_MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]


def record(task_type: str = "general/chat", **extra) -> dict:
    return {"messages": GOOD_MESSAGES, "task_type": task_type, **extra}


_ids = itertools.count(1)
QA = {"document": "The lighthouse keeper was Ada Lovelace. She lived in Brighton.", "question": "Who kept the lighthouse?",
      "answer": "Ada Lovelace"}
DOC = {"id": "d1", "title": "Brighton", "text": "Brighton is a town by the sea with a pier and a lighthouse."}
PAIR = {"instruction": "Describe the sea in one sentence.", "response": "The sea is wide, cold and grey."}

# What a good line looks like, and a line with a missing/unknown field, per input kind.
KINDS = {
    "records": (lambda tt: json.dumps(record(tt)),
                lambda tt: json.dumps({"messages": [{"role": "narrator", "content": "x"}, GOOD_MESSAGES[1]],
                                       "task_type": tt})),
    "qa": (lambda tt: json.dumps(QA), lambda tt: json.dumps({"document": QA["document"], "question": "q?"})),
    "corpus": (lambda tt: json.dumps({**DOC, "id": f"d{next(_ids)}"}), lambda tt: json.dumps({"id": "d0", "title": "no text"})),
    "pairs": (lambda tt: json.dumps(PAIR), lambda tt: json.dumps({"instruction": "no response"})),
}


class Entry:
    def __init__(self, module: str, argv, kind: str | None = None, out: str | None = None, task_type: str = "general/chat",
                 flags: list[list[str]] = (), wrong_suite: str | None = None):
        self.module, self.argv, self.kind, self.out, self.task_type = module, argv, kind, out, task_type
        self.flags, self.wrong_suite = list(flags), wrong_suite


def _recipe(p):
    return [p["RECIPE"], "--out", p["OUT"], "--no-tokens"]


ENTRIES = {
    "core.train": Entry("core.train.cli", lambda p: ["--data", p["IN"], "--out", p["OUT"], "--max-steps", "1",
                                                  "--progress", "false"], "records", "dir",
                        flags=[["--max-steps", "-5"], ["--micro_batch_size", "0"], ["--engine.sp_size", "2"],
                               ["--data.max_len", "4"], ["--log_every", "0"], ["--epochs", "-1", "--max-steps", "0"],
                               ["--data.max_len", "8", "--data.truncation", "drop"], ["--model", "{EMPTYDIR}"]]),
    "core.data.inspect": Entry("core.data.inspect", lambda p: [p["IN"]], "records",
                               flags=[["--show", "-1"], ["--mask", "bogus"], ["--tokenizer", "{MISSING}"],
                                      ["--tokenizer", "{EMPTYDIR}"]]),
    "core.curate.quality": Entry("core.curate.quality", lambda p: [p["IN"], "--out", p["OUT"], "--report", p["REPORT"]],
                                 "records", "file",
                                 flags=[["--augment-robustness", "2"], ["--augment-robustness", "-1"],
                                        ["--config", "{MISSING}"], ["--config", "{BADYAML}"]]),
    "core.curate.mix": Entry("core.curate.mix", _recipe, "records", "file",
                             flags=[["--seed", "x"], ["{NEG_RECIPE}"]]),
    "core.curate.export": Entry("core.curate.export", lambda p: [p["IN"], "--to", "trl", "--out", p["OUT"]],
                                "records", "dir", flags=[["--to", "bogus"]]),
    "core.eval.evaluate": Entry("core.eval.evaluate", lambda p: ["--models", "tiny", "tiny", "--data", p["IN"],
                                                                 "--out", p["OUT"], "--no-progress"], "records", "dir",
                                flags=[["--num-samples", "0"], ["--batch-size", "0"], ["--limit", "-1"], ["--k", "0"],
                                       ["--max-len", "0"], ["--max-new-tokens", "0"]]),
    "suites.longctx.generate": Entry("suites.longctx.generate", lambda p: ["--tasks", "doc_qa", "--qa-data", p["IN"],
                                                                           "--n", "2", "--lengths", "256", "--out", p["OUT"]],
                                     "qa", "file",
                                     flags=[["--n", "0"], ["--n", "-1"], ["--depths", "2"], ["--system-share", "2"],
                                            ["--lengths", "0"], ["--passkey-digits", "0"], ["{QA_NOT_IN_DOC}"]]),
    "suites.rag.generate": Entry("suites.rag.generate", lambda p: ["--corpus", p["IN"], "--questions", p["QUESTIONS"], "--n", "2",
                                                                   "--out", p["OUT"]],
                                 "corpus", "file",
                                 flags=[["--n", "0"], ["--n", "-1"], ["--shares", "single=-1"], ["--docs", "0"]]),
    "suites.agent.generate": Entry("suites.agent.generate", lambda p: ["--n", "2", "--out", p["OUT"]], None, "file",
                                   flags=[["--n", "0"], ["--n", "-1"], ["--shares", "single=-1"], ["--shares", "bogus=1"],
                                          ["--tools", "{MISSING}"], ["--num-shards", "0"], ["--shard", "3"],
                                          ["--lang", "xx"]]),
    "suites.complex_instr.generate": Entry("suites.complex_instr.generate",
                                           lambda p: ["--input", p["IN"], "--n", "2", "--out", p["OUT"]], "pairs", "file",
                                           flags=[["--n", "0"], ["--n", "-1"], ["--min-final", "50"],
                                                  ["--min-k", "5", "--max-k", "2"], ["--teacher", "bogus"]]),
    "suites.rag.index": Entry("suites.rag.index", lambda p: ["--corpus", p["IN"], "--out", p["OUT"], "--no-dense"],
                              "corpus", "dir", flags=[["--chunk-tokens", "0"], ["--overlap", "-1"]]),
    "suites.longctx.rope": Entry("suites.longctx.rope", lambda p: ["--train-length", "256"],
                                 flags=[["--train-length", "0"], ["--train-length", "-1"], ["--head-dim", "-2"],
                                        ["--base", "-1"], ["--rope-scale", "-1"], ["--target", "-5"],
                                        ["--model", "{MISSING}"], ["--model", "{EMPTYDIR}"], ["--pretrain-base", "-1"],
                                        ["--train-length", "abc"]]),
    "suites.longctx.eval(grid)": Entry("suites.longctx.eval", lambda p: ["--out", p["OUT"], "--n-per-cell", "1",
                                                                        "--lengths", "128", "--depths", "0.5"], None, "dir",
                                       flags=[["--lengths", "0"], ["--lengths", "100000000"], ["--n-per-cell", "0"],
                                              ["--depths", "2"], ["--depths", "-0.5"], ["--batch-size", "0"],
                                              ["--max-new-tokens", "0"], ["--passkey-digits", "0"],
                                              ["--model", "{MISSING}"], ["--model", "{EMPTYDIR}"]]),
}
for suite in ("agent", "rag", "complex_instr", "longctx"):
    ENTRIES[f"suites.{suite}.eval"] = Entry(
        f"suites.{suite}.eval", lambda p: ["--data", p["IN"], "--responses", p["RESPONSES"], "--out", p["OUT"]],
        "records", "file", task_type=f"{suite}/x",
        flags=[["--limit", "-1"], ["--num-samples", "0"], ["--batch-size", "0"], ["--max-new-tokens", "0"],
               ["--responses", "{MISSING}"]],
        wrong_suite="rag/x" if suite != "rag" else "agent/x")
for suite in ("agent", "rag", "complex_instr", "longctx"):
    n_flag = ["--n-train", "0"] if suite != "longctx" else ["--stage1-steps", "0"]
    ENTRIES[f"suites.{suite}.train"] = Entry(
        f"suites.{suite}.train", (lambda p: ["--out", p["OUT"]]), None, "dir",
        flags=[n_flag, ["--max-steps", "-5"] if suite != "longctx" else ["--stage2-steps", "-5"],
               ["--optim.lr", "0"], ["--micro_batch_size", "0"] if suite != "longctx" else ["--eval-per-cell", "0"],
               ["--bogus-flag", "1"], ["--lang", "xx"], ["--model", "{EMPTYDIR}"]]
        + ([["--corpus", "{MISSING}"], ["--shares", "single=-1"]] if suite == "rag" else [])
        + ([["--shares", "single=-1"], ["--tools", "{MISSING}"]] if suite == "agent" else [])
        + ([["--n-eval", "-1"], ["--epochs", "-1"]] if suite == "complex_instr" else [])
        + ([["--eval-lengths", "0"], ["--sp-size", "3"]] if suite == "longctx" else []))

FILE_CASES = ["missing", "empty", "directory", "bad_json_line3", "not_object_line3", "bad_field_line3", "not_utf8_line3"]
OUT_CASES = ["unwritable_out", "out_is_in", "existing_out"]


def cases():
    for name, e in ENTRIES.items():
        if e.kind:
            for c in FILE_CASES:
                yield name, c
        if e.out:
            for c in OUT_CASES:
                if c == "out_is_in" and not (e.kind and e.out == "file"):
                    continue
                yield name, c
        for i, _ in enumerate(e.flags):
            yield name, f"flag{i}"
        if e.wrong_suite:
            yield name, "wrong_suite"


CASES = list(cases())


def test_matrix_covers_every_entry_point_ten_times():
    per_entry = {name: sum(1 for n, _ in CASES if n == name) for name in ENTRIES}
    assert min(per_entry.values()) >= 10, per_entry


def write_lines(path, lines: list[str | bytes]) -> None:
    with open(path, "wb") as f:
        for line in lines:
            f.write((line if isinstance(line, bytes) else line.encode()) + b"\n")


def setup(tmp_path, entry: Entry, case: str) -> tuple[dict, str | None]:
    """Paths for the entry's argv, and what the error line must name (a path, maybe with :line)."""
    p = {"IN": str(tmp_path / "in.jsonl"), "OUT": str(tmp_path / ("out" if entry.out == "dir" else "out.jsonl")),
         "REPORT": str(tmp_path / "report.md"), "RECIPE": str(tmp_path / "recipe.yaml"),
         "RESPONSES": str(tmp_path / "responses.jsonl"),
         "QUESTIONS": str(tmp_path / "questions.jsonl"), "MISSING": str(tmp_path / "missing.file"),
         "EMPTYDIR": str(tmp_path / "emptydir"), "BADYAML": str(tmp_path / "bad.yaml")}
    os.makedirs(p["EMPTYDIR"])
    with open(p["BADYAML"], "w") as f:
        f.write("a: [1, 2\n")
    good, bad_field = KINDS.get(entry.kind or "records")
    tt = entry.task_type
    lines = [good(tt), good(tt)]
    write_lines(p["IN"], lines)
    write_lines(p["RESPONSES"], [json.dumps({"reply": "4"})] * 2)
    write_lines(p["QUESTIONS"], [json.dumps({"question": "What is Brighton by?", "answer": "the sea", "gold_ids": ["d1"]})])
    with open(p["RECIPE"], "w") as f:
        f.write(f"seed: 0\nsources:\n  - path: {p['IN']}\n")
    names = p["IN"]
    if case == "missing":
        os.remove(p["IN"])
    elif case == "empty":
        write_lines(p["IN"], [])
    elif case == "directory":
        os.remove(p["IN"])
        os.makedirs(p["IN"])
    elif case == "bad_json_line3":
        write_lines(p["IN"], lines + ['{"messages": [}'])
        names += ":3"
    elif case == "not_object_line3":
        write_lines(p["IN"], lines + ["[1, 2]"])
        names += ":3"
    elif case == "bad_field_line3":
        write_lines(p["IN"], lines + [bad_field(tt)])
        names += ":3"
    elif case == "not_utf8_line3":
        write_lines(p["IN"], lines + [b'{"text": "caf\xe9"}'])
        names += ":3"
    elif case == "unwritable_out":
        blocker = tmp_path / "a_file"
        blocker.write_text("x")
        p["OUT"] = str(blocker / "out")
        names = p["OUT"]
    elif case == "out_is_in":
        p["OUT"] = p["IN"]
        names = p["IN"]
    elif case == "existing_out":
        if entry.out == "dir":
            os.makedirs(p["OUT"])
            (tmp_path / "out" / "keep.txt").write_text("earlier result")
        else:
            with open(p["OUT"], "w") as f:
                f.write("earlier result\n")
        names = p["OUT"]
    elif case == "wrong_suite":
        write_lines(p["IN"], [good(entry.wrong_suite)] * 2)
        names = p["IN"]
    else:
        names = None
    return p, names


def expand(flags: list[str], p: dict, tmp_path) -> list[str]:
    out = []
    for flag in flags:
        if flag == "{NEG_RECIPE}":
            with open(p["RECIPE"], "w") as f:
                f.write(f"seed: 0\nsources:\n  - path: {p['IN']}\n    upsample: -2\n")
            continue
        if flag == "{QA_NOT_IN_DOC}":
            write_lines(p["IN"], [json.dumps({**QA, "answer": "Charles Babbage"})] * 2)
            continue
        out.append(flag.format(**p))
    return out


def snapshot(root) -> dict:
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.mark.parametrize("name,case", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_bad_input_gives_one_line(tmp_path, capsys, monkeypatch, name, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFT_DEBUG", raising=False)
    entry = ENTRIES[name]
    work = tmp_path / "work"
    work.mkdir()
    p, names = setup(work, entry, case)
    argv = entry.argv(p)
    if case.startswith("flag"):
        argv += expand(entry.flags[int(case[4:])], p, tmp_path)
    before = snapshot(work)
    module = importlib.import_module(entry.module)
    prog = f"python -m {entry.module.removesuffix('.cli')}"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(prog, module.main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code not in (0, None), err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), err
    assert "Traceback" not in err
    if names:
        assert names in lines[0], (names, lines[0])
    if case.startswith("bad_field") or case == "bad_json_line3":
        assert lines[0].count(":") >= 3  # file:line: field or kind: what
    after = snapshot(work)
    assert after == before, sorted(set(after) ^ set(before)) or "a file changed"


def _fails(argv):
    from core.errors import UserError

    raise UserError("the reason", file="data.jsonl", line=3, field="messages[0].role")


def test_the_wrapper_one_line_debug_rank_and_bugs(capsys, monkeypatch):
    monkeypatch.delenv("SFT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        run_cli("prog", _fails, [])
    assert e.value.code == 1
    assert capsys.readouterr().err == "prog: error: data.jsonl:3: messages[0].role: the reason\n"

    from core.errors import UserError

    with pytest.raises(UserError):  # --debug: the exception itself, with its traceback
        run_cli("prog", _fails, ["--debug"])
    monkeypatch.setenv("SFT_DEBUG", "1")
    with pytest.raises(UserError):
        run_cli("prog", _fails, [])
    monkeypatch.delenv("SFT_DEBUG")

    monkeypatch.setenv("RANK", "1")  # another rank of a multi-process run: same exit, nothing printed
    with pytest.raises(SystemExit) as e:
        run_cli("prog", _fails, [])
    assert e.value.code == 1 and capsys.readouterr().err == ""
    monkeypatch.delenv("RANK")

    def bug(argv):
        return {}["missing"]

    with pytest.raises(KeyError):  # an internal bug keeps its traceback
        run_cli("prog", bug, [])
