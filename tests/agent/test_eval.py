"""The scorer: the reference reply scores correct in both formats; wrong replies fail with the right metric."""

import json

from core.scoring import find_scorer
from suites.agent.eval import main, score_reply
from suites.agent.formats import to_fallback
from suites.agent.schema import load_tools
from tests.agent.conftest import assistant_text


def reference(tokenizer, record):
    return assistant_text(tokenizer, record, len(record["messages"]) - 1)


def test_the_reference_reply_is_correct_in_both_formats(tiny_tokenizer, no_tools_tokenizer, eval_records):
    for tokenizer, records in ((tiny_tokenizer, eval_records), (no_tools_tokenizer, [to_fallback(r) for r in eval_records])):
        for record in records:
            metrics = score_reply(record, reference(tokenizer, record))
            assert metrics["correct"] == 1, (record["meta"]["target"], reference(tokenizer, record))
            if record["meta"]["target"]["kind"] == "call":
                assert metrics["ast"] and metrics["exec"]


def test_wrong_replies_fail_on_the_right_metric(eval_records):
    call = next(r for r in eval_records if r["meta"]["target"]["kind"] == "call"
                and r["meta"]["target"]["calls"][0]["name"] == "calculate")
    expected = call["meta"]["target"]["calls"][0]["arguments"]["expression"]
    nothing = {"ast": False, "correct": False, "exec": False, "format": False, "name": False}
    assert score_reply(call, "") == nothing
    assert score_reply(call, "I think it is 42.") == nothing
    wrong = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "(' + expected + ') + 1"}}\n</tool_call>'
    assert score_reply(call, wrong) == {"ast": False, "correct": False, "exec": False, "format": True, "name": True}
    other = '<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-01-01"}}\n</tool_call>'
    assert score_reply(call, other) == {"ast": False, "correct": False, "exec": False, "format": True, "name": False}
    broken = '<tool_call>\n{"name": "calculate", "arguments": {"expression": '
    assert score_reply(call, broken) == {"ast": False, "correct": False, "format": False, "name": False}
    no_call = next(r for r in eval_records if r["meta"]["target"]["kind"] == "no_call")
    assert score_reply(no_call, "Sure.") == {"correct": True, "no_call": True}
    assert score_reply(no_call, '<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-01-01"}}\n</tool_call>') \
        == {"correct": False, "no_call": False}
    answer = next(r for r in eval_records if r["meta"]["target"]["kind"] == "answer")
    assert score_reply(answer, "Done.") == {"answer": False, "correct": False, "no_call": True}


def test_an_equivalent_expression_passes_by_execution():
    calculate = next(t for t in load_tools(None) if t.name == "calculate")
    record = {"messages": [{"role": "user", "content": "21.75 * 15?"},
                           {"role": "assistant", "content": "", "tool_calls": [
                               {"type": "function", "function": {"name": "calculate",
                                                                 "arguments": {"expression": "21.75 * 15"}}}]}],
              "tools": [calculate.schema()], "task_type": "agent/single"}
    reply = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "15*21.75"}}\n</tool_call>'
    assert score_reply(record, reply) == {"ast": False, "correct": True, "exec": True, "format": True,
                                          "name": True}  # no meta: the target is read from the reference message


def test_the_eval_cli_scores_given_replies(tmp_path, tiny_tokenizer, eval_records, capsys):
    from core.records import write_records

    records = eval_records[:60]
    data, replies, out = tmp_path / "eval.jsonl", tmp_path / "replies.jsonl", tmp_path / "results.json"
    write_records(data, records)
    with open(replies, "w") as f:
        for i, record in enumerate(records):  # every third reply is empty
            f.write(json.dumps({"reply": "" if i % 3 == 0 else reference(tiny_tokenizer, record)}) + "\n")
    aggregated = main(["--data", str(data), "--responses", str(replies), "--out", str(out)])
    n_wrong = sum(1 for i, r in enumerate(records) if i % 3 == 0 and r["meta"]["target"]["kind"] != "no_call")
    assert aggregated["ALL"]["n"] == 60 and round(aggregated["ALL"]["correct"] * 60) == 60 - n_wrong
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["task_type", "n", "correct", "answer", "ast", "exec", "format", "name",
                                             "no_call"]
    assert json.loads(out.read_text())["by_task_type"]["agent"]["n"] == 60
    assert find_scorer("agent") is score_reply
