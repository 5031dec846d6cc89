"""Calls parsed back from rendered output equal the record's calls, for the template path and the fallback path."""

from suites.agent.formats import supports_tools, to_fallback
from suites.agent.parse import parse_reply
from tests.agent.conftest import assistant_text


def calls_of(message):
    return [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in message["tool_calls"]]


def call_turns(records):
    for record in records:
        for i, message in enumerate(record["messages"]):
            if message.get("tool_calls"):
                yield record, i


def test_round_trip_through_the_template(tiny_tokenizer, mixed_records):
    assert supports_tools(tiny_tokenizer)
    checked = 0
    for record, turn in call_turns(mixed_records[:400]):
        text = assistant_text(tiny_tokenizer, record, turn)
        assert "<tool_call>" in text
        parsed = parse_reply(text)
        assert parsed.errors == []
        assert parsed.calls == calls_of(record["messages"][turn])
        assert parsed.text == record["messages"][turn]["content"].strip()
        checked += 1
    assert checked > 400  # several call turns per record on average


def test_round_trip_through_the_fallback_format(no_tools_tokenizer, mixed_records):
    assert not supports_tools(no_tools_tokenizer)
    checked = 0
    for record in mixed_records[:400]:
        fallback = to_fallback(record)
        original_calls = [calls_of(m) for m in record["messages"] if m.get("tool_calls")]
        turns = [i for i, m in enumerate(fallback["messages"]) if m["role"] == "assistant" and "<|call|>" in m["content"]]
        assert len(turns) == len(original_calls)
        for turn, expected in zip(turns, original_calls):
            text = assistant_text(no_tools_tokenizer, fallback, turn)
            parsed = parse_reply(text)
            assert parsed.errors == [] and parsed.calls == expected
            checked += 1
    assert checked > 400


def test_other_formats_and_broken_output():
    llama = parse_reply('{"name": "weekday", "parameters": {"date": "2024-01-01"}}')
    assert llama.calls == [{"name": "weekday", "arguments": {"date": "2024-01-01"}}] and llama.text == ""
    mistral = parse_reply('[TOOL_CALLS] [{"name": "a", "arguments": {}}, {"name": "b", "arguments": "{\\"x\\": 1}"}]')
    assert mistral.calls == [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]
    prose = parse_reply('The answer is {"value": 3} and 2 {x}.')  # JSON that is not a call stays text
    assert prose.calls == [] and prose.text == 'The answer is {"value": 3} and 2 {x}.'
    cut = parse_reply('<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-')
    assert cut.calls == [] and cut.errors and cut.errors[0].startswith("tool_call 1: invalid JSON")
    unclosed = parse_reply('<tool_call>\n{"name": "weekday", "arguments": {"date": "2024-01-01"}}')
    assert unclosed.calls == [{"name": "weekday", "arguments": {"date": "2024-01-01"}}]
    bad_args = parse_reply('<|call|>{"name": "f", "arguments": "{oops"}')
    assert bad_args.calls == [] and "arguments are not valid JSON" in bad_args.errors[0]
    two = parse_reply('Checking.\n<|call|>{"name": "f", "arguments": {}}\n<|call|>{"name": "g", "arguments": {"k": [1]}}')
    assert [c["name"] for c in two.calls] == ["f", "g"] and two.text == "Checking."
