"""The scorer: the reference reply scores correct in both formats; wrong replies fail with the right metric."""

import json

from core.eval.scoring import find_scorer
from suites.agent.catalog import load_tools
from suites.agent.eval import main, score_reply
from suites.agent.formats import to_fallback
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
    nothing = {"ast": False, "correct": False, "call_turns": False, "exec": False, "format": False, "name": False}
    assert score_reply(call, "") == nothing
    assert score_reply(call, "I think it is 42.") == nothing
    wrong = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "(' + expected + ') + 1"}}\n</tool_call>'
    assert score_reply(call, wrong) == {**nothing, "format": True, "name": True}
    other = '<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-01-01"}}\n</tool_call>'
    assert score_reply(call, other) == {**nothing, "format": True}
    broken = '<tool_call>\n{"name": "calculate", "arguments": {"expression": '
    assert score_reply(call, broken) == {"ast": False, "correct": False, "call_turns": False, "format": False,
                                         "name": False}
    no_call = next(r for r in eval_records if r["meta"]["target"]["kind"] == "no_call")
    assert score_reply(no_call, "Sure.") == {"correct": True, "no_call": True, "no_call_turns": True}
    assert score_reply(no_call, '<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-01-01"}}\n</tool_call>') \
        == {"correct": False, "no_call": False, "no_call_turns": False}
    answer = next(r for r in eval_records if r["meta"]["target"]["kind"] == "answer")
    assert score_reply(answer, "Done.") == {"answer": False, "correct": False, "no_call": True, "no_call_turns": False}


def test_an_equivalent_expression_passes_by_execution():
    calculate = next(t for t in load_tools(None) if t.name == "calculate")
    record = {"messages": [{"role": "user", "content": "21.75 * 15?"},
                           {"role": "assistant", "content": "", "tool_calls": [
                               {"type": "function", "function": {"name": "calculate",
                                                                 "arguments": {"expression": "21.75 * 15"}}}]}],
              "tools": [calculate.schema()], "task_type": "agent/single"}
    reply = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "15*21.75"}}\n</tool_call>'
    assert score_reply(record, reply) == {"ast": False, "correct": True, "call_turns": True, "exec": True,
                                          "format": True, "name": True}  # no meta: the target is read from the reference


def test_the_eval_cli_scores_given_replies(tmp_path, tiny_tokenizer, eval_records, capsys):
    from core.data.records import write_records

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
    # columns past 120 characters are named below the table; the JSON has them all
    assert table.splitlines()[0].split()[:9] == ["task_type", "n", "correct", "answer", "ast", "call_turns", "exec",
                                                 "format", "name"]
    assert {"no_call", "no_call_turns", "call_turns"} <= set(aggregated["ALL"])
    assert json.loads(out.read_text())["by_task_type"]["agent"]["n"] == 60
    assert find_scorer("agent") is score_reply


def test_eval_converts_template_records_for_a_model_without_tool_support(tmp_path, tiny_tokenizer, no_tools_tokenizer,
                                                                         eval_records, monkeypatch, capsys):
    """Standalone eval on template-format data: the prompts keep their tools (in the fallback format) when the
    model's template cannot render them, and stay as they are when it can."""
    import core.model.generation
    from core.data.records import write_records
    from core.model.loading import load_model

    checkpoint = tmp_path / "plain"
    no_tools_tokenizer.save_pretrained(checkpoint)
    load_model("tiny").save_pretrained(checkpoint)
    records = eval_records[:12]
    data, out = tmp_path / "eval.jsonl", tmp_path / "results.json"
    write_records(data, records)
    seen = {}

    def fake_generate(model, tokenizer, prompts, **kwargs):  # replies: the reference in the format the prompt uses
        seen["prompts"], seen["tokenizer"] = prompts, tokenizer
        fallback = not prompts[0].get("tools")
        return [[reference(no_tools_tokenizer, to_fallback(r)) if fallback else reference(tiny_tokenizer, r)]
                for r in records]

    monkeypatch.setattr(core.model.generation, "generate_replies", fake_generate)
    aggregated = main(["--model", str(checkpoint), "--data", str(data), "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"the chat template of {checkpoint} has no tool support: 12 of 12 records converted to the fallback " \
           "format (<|tools|>, <|call|>, <|result|>; tools in the system message); <|tools|>, <|call|>, <|result|> " \
           "are not in its vocabulary and read as plain text" in printed
    for record, prompt in zip(records, seen["prompts"]):
        assert "tools" not in prompt and all(m["role"] != "tool" for m in prompt["messages"])
        rendered = seen["tokenizer"].apply_chat_template(prompt["messages"], tokenize=False, add_generation_prompt=True)
        unconverted = seen["tokenizer"].apply_chat_template(record["messages"][:-1], tools=record["tools"],
                                                            tokenize=False, add_generation_prompt=True)
        for tool in record["tools"]:  # every declaration reaches the model; without the conversion none does
            declared = json.dumps(tool["function"], ensure_ascii=False)  # as declared, in its own key order
            assert "<|tools|>\n" in rendered and declared in rendered and declared not in unconverted
    assert aggregated["ALL"] == {**aggregated["ALL"], "n": 12, "correct": 1.0}
    saved = json.loads(out.read_text())
    assert saved["data"] == str(data) and saved["call_format"] == "fallback (converted from template)"

    aggregated = main(["--model", "tiny", "--data", str(data)])  # a template with tool support: left as it is
    assert "converted" not in capsys.readouterr().out
    assert [p["tools"] for p in seen["prompts"]] == [r["tools"] for r in records]
    assert aggregated["ALL"]["correct"] == 1.0


def test_scores_split_into_call_turns_and_no_call_turns(tmp_path, eval_records):
    """A model that never calls looks decent on "correct" (turns that need no call pass); the split shows it
    gets every call turn wrong."""
    from core.data.records import write_records

    records = eval_records[:60]
    data, replies = tmp_path / "eval.jsonl", tmp_path / "replies.jsonl"
    write_records(data, records)
    replies.write_text("".join(json.dumps({"reply": "I cannot say."}) + "\n" for _ in records))
    aggregated = main(["--data", str(data), "--responses", str(replies)])["ALL"]
    kinds = [r["meta"]["target"]["kind"] for r in records]
    assert 0 < aggregated["correct"] < 1 and aggregated["call_turns"] == 0.0
    no_call_share = sum(k == "no_call" for k in kinds) / sum(k != "call" for k in kinds)
    assert aggregated["no_call_turns"] == no_call_share  # answers fail: they must state the tool result
    assert round(aggregated["correct"] * 60) == sum(k == "no_call" for k in kinds)
