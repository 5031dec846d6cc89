"""Acceptance for scenario synthesis: schema-valid calls, reproducible tool results, answers that use them,
every scenario present in both languages, rejections counted, same seed same bytes (sharded too)."""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from core.data.records import read_records, validate_record
from core.synth.generator import GenerationReport
from suites.agent.arguments import validation_errors
from suites.agent.catalog import load_tools
from suites.agent.generate import generate, main
from suites.agent.scenarios import SCENARIOS
from suites.agent.schema import execute
from suites.agent.values import fmt, missing_facts, scalar_leaves
from suites.agent.verify import recorded_calls
from tests.agent.conftest import FIXTURES

TOOLS = {t.name: t for t in load_tools(None)}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(FIXTURES)))
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_call_validates_and_reexecuting_it_reproduces_the_tool_turn(mixed_records):
    n_calls = n_errors = 0
    for record in mixed_records:
        validate_record(record)
        targets = {t["turn"]: t for t in record["meta"]["targets"]}
        offered = {t["function"]["name"] for t in record["tools"]}
        for turn, call, reply in recorded_calls(record):
            tool = TOOLS[call["name"]]
            assert call["name"] in offered
            assert validation_errors(tool, call["arguments"]) == [], call
            execution = execute(tool, call["arguments"])
            assert reply["role"] == "tool" and reply["name"] == call["name"]
            assert execution.content == reply["content"]
            assert execution.ok or targets[turn].get("error"), (record["task_type"], call)
            n_calls += 1
            n_errors += not execution.ok
    assert n_calls > 4000 and 0 < n_errors < n_calls / 10


def test_answers_state_the_results_and_text_turns_make_no_call(mixed_records):
    kinds = Counter()
    for record in mixed_records:
        for target in record["meta"]["targets"]:
            message = record["messages"][target["turn"]]
            kinds[target["kind"]] += 1
            if target["kind"] == "call":
                assert [c["function"] for c in message["tool_calls"]] == target["calls"]
            else:
                assert "tool_calls" not in message and message["content"]
            if target["kind"] == "answer":
                assert target["facts"] and missing_facts(message["content"], target["facts"]) == []
    assert min(kinds.values()) > 500


def test_every_scenario_in_both_languages(mixed_records):
    seen = Counter((r["task_type"], r["meta"]["lang"]) for r in mixed_records)
    assert {t for t, _ in seen} == {f"agent/{s}" for s in SCENARIOS}
    assert all(seen[(f"agent/{s}", lang)] > 50 for s in SCENARIOS for lang in ("en", "zh"))
    chinese = Counter()
    for record in mixed_records:
        user = " ".join(m["content"] for m in record["messages"] if m["role"] == "user")
        chinese[record["meta"]["lang"]] += bool(CJK.search(user))
    n_zh = sum(r["meta"]["lang"] == "zh" for r in mixed_records)
    assert chinese["en"] == 0 and chinese["zh"] > 0.95 * n_zh  # a zh request may be a bare formula: "3 * 4 = ？"


def test_scenarios_do_what_their_name_says(mixed_records):
    by_type = {}
    for record in mixed_records:
        by_type.setdefault(record["task_type"], []).append(record)
    for record in by_type["agent/single"]:
        assert len(record["tools"]) == 1 and len(record["meta"]["targets"][0]["calls"]) == 1
    for record in by_type["agent/multiple"]:
        assert 2 <= len(record["tools"]) <= 5 and len(record["meta"]["targets"][0]["calls"]) == 1
    for record in by_type["agent/parallel"]:
        assert len(record["meta"]["targets"][0]["calls"]) >= 2
    for record in by_type["agent/chain"]:  # the second call uses a value only the first call's result contains
        first, second = [t for t in record["meta"]["targets"] if t["kind"] == "call"][:2]
        first_result = json.loads(record["messages"][first["turn"] + 1]["content"])
        leaves = {fmt(v) for v in scalar_leaves(first_result)}
        assert any(fmt(v) in leaves or fmt(v).split(" ")[0] in leaves for v in second["calls"][0]["arguments"].values())
    for record in by_type["agent/no_call"]:
        assert len(record["meta"]["targets"]) == 1 and record["meta"]["targets"][0]["kind"] == "no_call"
    for record in by_type["agent/clarify"]:
        question, call = record["meta"]["targets"][:2]
        assert question["reason"] == "clarify" and call["kind"] == "call"
        assert question["missing"] in call["calls"][0]["arguments"]
        assert record["messages"][question["turn"] + 1]["role"] == "user"  # the user supplies the missing value
    recoveries = Counter()
    for record in by_type["agent/tool_error"]:
        episode = record["meta"]["episodes"][0]
        recoveries[episode["recovery"]] += 1
        failing = record["messages"][record["meta"]["targets"][0]["turn"]]
        assert json.loads(record["messages"][record["meta"]["targets"][0]["turn"] + 1]["content"]).keys() == {"error"}
        # A retry's failing call is shown but not trained; an unavoidable failure (division by zero) is trained.
        assert failing.get("train", True) == (episode["recovery"] == "explain")
    assert recoveries["explain"] > 50 and recoveries["retry"] > 50
    depends = Counter(e.get("depends_on_history", False) for r in by_type["agent/multi_turn"] for e in r["meta"]["episodes"])
    assert depends[True] > 100 and depends[False] > 100
    assert all(sum(m["role"] == "user" for m in r["messages"]) >= 2 for r in by_type["agent/multi_turn"])


def test_phrasing_and_answers_are_diverse(mixed_records):
    first_requests = {next(m["content"] for m in r["messages"] if m["role"] == "user") for r in mixed_records}
    finals = {r["messages"][-1]["content"] for r in mixed_records}
    assert len(first_requests) > 0.85 * len(mixed_records) and len(finals) > 0.85 * len(mixed_records)
    systems = Counter(r["messages"][0]["content"] for r in mixed_records if r["messages"][0]["role"] == "system")
    assert 0.7 * len(mixed_records) < sum(systems.values()) < 0.95 * len(mixed_records) and len(systems) > 20


def test_same_seed_same_bytes_and_shards_concatenate_to_the_whole(tmp_path):
    whole, again = tmp_path / "whole.jsonl", tmp_path / "again.jsonl"
    args = ["--n", "300", "--seed", "5", "--lang", "mix"]
    main(args + ["--out", str(whole), "--report", str(tmp_path / "report.json")])
    main(args + ["--out", str(again)])
    assert whole.read_bytes() == again.read_bytes()
    parts = []
    for k in range(3):
        part = tmp_path / f"part{k}.jsonl"
        main(args + ["--out", str(part), "--shard", str(k), "--num-shards", "3"])
        parts.append(part.read_bytes())
    assert b"".join(parts) == whole.read_bytes()
    # Another process with another hash seed writes the same bytes (nothing depends on set or dict hashing).
    fresh = tmp_path / "fresh.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    subprocess.run([sys.executable, "-m", "suites.agent.generate", *args, "--out", str(fresh)], check=True, env=env,
                   capture_output=True, cwd=REPO)
    assert fresh.read_bytes() == whole.read_bytes()
    other = tmp_path / "other.jsonl"
    main(["--n", "300", "--seed", "6", "--lang", "mix", "--out", str(other)])
    assert other.read_bytes() != whole.read_bytes()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["written"] == 300 and sum(report["by_task_type"].values()) == 300
    assert report["rejected"] == dict(GenerationReport(rejected=Counter(report["rejected"])).as_dict()["rejected"])


def test_eval_records_end_at_their_target(tmp_path):
    path = tmp_path / "eval.jsonl"
    main(["--n", "200", "--seed", "2", "--eval", "--out", str(path)])
    records = read_records(path)
    kinds = Counter(r["meta"]["target"]["kind"] for r in records)
    assert kinds["call"] > 100 and kinds["no_call"] > 20 and kinds["answer"] > 10
    for record in records:
        target, last = record["meta"]["target"], record["messages"][-1]
        assert target["turn"] == len(record["messages"]) - 1 and last["role"] == "assistant"
        assert (target["kind"] == "call") == bool(last.get("tool_calls"))
        assert last.get("train", True)  # a failing call that is not trained is never the thing to predict


def test_user_tools_module_with_rejections_counted(tmp_path):
    report = GenerationReport()
    records = generate(300, 0, "en", tools=os.path.join(FIXTURES, "user_tools.py"), report=report)
    types = Counter(r["task_type"] for r in records)
    assert set(types) == {f"agent/{s}" for s in SCENARIOS}
    assert report.rejected["execution_failed"] > 0  # cities outside the weather table are caught and counted
    tools = {t.name: t for t in load_tools(os.path.join(FIXTURES, "user_tools.py"))}
    for record in records:
        assert record["meta"]["tools_source"].endswith("user_tools.py")
        for _, call, reply in recorded_calls(record):
            assert execute(tools[call["name"]], call["arguments"]).content == reply["content"]


def test_unavailable_scenarios_are_reported_not_faked(tmp_path):
    module = tmp_path / "one_tool.py"
    module.write_text('def echo(text: str) -> dict:\n    """Echo a text back.\n\n    Args:\n        text: what to echo\n'
                      '    """\n    return {"echo": text}\n')
    report = GenerationReport()
    records = generate(40, 0, "en", tools=str(module), report=report)
    assert report.extra["unavailable_scenarios"] == {
        "chain": "no tool's result feeds another tool's parameter",
        "tool_error": "no tool raised ToolError on sampled arguments",
        "multiple": "needs at least two tools"}
    assert {r["task_type"] for r in records} == {"agent/single", "agent/parallel", "agent/no_call", "agent/clarify",
                                                "agent/multi_turn"}


def test_cli_rejects_bad_tools_and_shares(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--n", "5", "--out", str(tmp_path / "x.jsonl"), "--tools", os.path.join(FIXTURES, "bad_type.json")])
    assert "bad_type.json: tools[0].function.parameters.properties.city.type" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--n", "5", "--out", str(tmp_path / "x.jsonl"), "--shares", "single=1,nope=2"])
    assert "--shares: unknown scenario 'nope'" in capsys.readouterr().err


def test_a_user_tool_raising_keyerror_is_a_counted_rejection_not_a_crash(tmp_path, capsys):
    from suites.agent.schema import ToolRaised
    from suites.agent.session import Toolset

    path = os.path.join(FIXTURES, "raising_tools.py")
    tools = {t.name: t for t in load_tools(path)}
    with pytest.raises(ToolRaised, match="get_price raised KeyError: 'plum'") as caught:
        execute(tools["get_price"], {"item": "plum"})
    assert (caught.value.tool, caught.value.kind) == ("get_price", "KeyError")
    toolset = Toolset.load(path)  # probing the tools survives the KeyError too
    assert toolset.failable == ["stock_level"] and [(link.first, link.key) for link in toolset.links] == [
        ("get_price", "item"), ("stock_level", "item")]
    report = GenerationReport()
    records = generate(150, 0, "en", tools=path, report=report)
    assert len(records) == 150 and {r["task_type"] for r in records} == {f"agent/{s}" for s in SCENARIOS}
    raised = report.rejected["execution_raised"]
    assert raised > 10 and report.extra["tool_exceptions"] == {"get_price: KeyError": raised}
    calls = [call for r in records for _, call, _ in recorded_calls(r)]
    assert all(c["arguments"]["item"] != "plum" for c in calls if c["name"] == "get_price")
    assert sum(c["name"] == "get_price" for c in calls) > 50
    main(["--n", "40", "--tools", path, "--out", str(tmp_path / "raising.jsonl")])
    err = capsys.readouterr().err
    assert "execution_raised" in err and "tools that raised (calls rejected as execution_raised): {'get_price: KeyError'" in err
    assert len(read_records(tmp_path / "raising.jsonl")) == 40
