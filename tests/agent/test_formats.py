"""Tool-support detection and the fallback format for chat templates without tools."""

import pytest

from core.data.chat import IGNORE_INDEX, render_record
from suites.agent.formats import (
    CALL_TOKEN,
    FALLBACK_TOKENS,
    RESULT_TOKEN,
    TOOLS_TOKEN,
    for_tokenizer,
    supports_system,
    supports_tools,
    to_fallback,
)


def test_detection(tiny_tokenizer, no_tools_tokenizer):
    import copy

    assert supports_tools(tiny_tokenizer) and not supports_tools(no_tools_tokenizer)
    strict = copy.deepcopy(tiny_tokenizer)  # a template that raises on roles it does not know
    strict.chat_template = ("{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
                            "{{ raise_exception('roles must be user/assistant') }}{% endif %}"
                            "{{ m.role }}: {{ m.content }}\n{% endfor %}")
    assert not supports_tools(strict) and not supports_system(strict)
    assert supports_system(no_tools_tokenizer)


def test_fallback_rewrites_calls_results_and_tools(mixed_records):
    record = next(r for r in mixed_records if r["task_type"] == "agent/parallel" and r["messages"][0]["role"] == "system")
    out = to_fallback(record)
    assert "tools" not in out and out["meta"]["call_format"] == "fallback" and out["meta"]["tools"] == record["tools"]
    system = out["messages"][0]["content"]
    assert system.startswith(record["messages"][0]["content"]) and TOOLS_TOKEN in system
    assert all(t["function"]["name"] in system for t in record["tools"])
    call_turn = next(m for m in out["messages"] if m["role"] == "assistant" and CALL_TOKEN in m["content"])
    assert call_turn["content"].count(CALL_TOKEN) == len(record["messages"][2]["tool_calls"])
    results = out["messages"][3]
    n_results = sum(m["role"] == "tool" for m in record["messages"])
    assert results["role"] == "user" and results["content"].count(RESULT_TOKEN) == n_results
    assert all(m["role"] != "tool" and "tool_calls" not in m for m in out["messages"])
    assert len(out["messages"]) == len(record["messages"]) - n_results + 1


def test_fallback_keeps_targets_pointing_at_the_same_turns(mixed_records):
    for record in mixed_records[:300]:
        out = to_fallback(record)
        for old, new in zip(record["meta"]["targets"], out["meta"]["targets"]):
            before, after = record["messages"][old["turn"]], out["messages"][new["turn"]]
            assert after["role"] == "assistant"
            assert after.get("train", True) == before.get("train", True)
            if before.get("content"):
                assert after["content"].startswith(before["content"])


def test_fallback_without_a_system_role_goes_into_the_first_user_turn(mixed_records):
    record = next(r for r in mixed_records if r["task_type"] == "agent/single" and r["messages"][0]["role"] == "system")
    out = to_fallback(record, system_role=False)
    assert out["messages"][0]["role"] == "user"
    assert out["messages"][0]["content"].startswith(record["messages"][0]["content"])
    assert TOOLS_TOKEN in out["messages"][0]["content"]
    assert out["messages"][out["meta"]["targets"][0]["turn"]]["content"].startswith(CALL_TOKEN)


@pytest.mark.parametrize("mask", ["all", "last"])
def test_fallback_records_render_and_train_the_call_turns(no_tools_tokenizer, mixed_records, mask):
    import copy

    tokenizer = copy.deepcopy(no_tools_tokenizer)
    tokenizer.add_tokens(FALLBACK_TOKENS, special_tokens=True)
    records, used = for_tokenizer(mixed_records[:50], tokenizer)
    assert used == "fallback"
    call_id = tokenizer.convert_tokens_to_ids(CALL_TOKEN)
    for record in records:
        sample = render_record(record, tokenizer, mask=mask)
        trained = [t for t, label in zip(sample.input_ids, sample.labels) if label != IGNORE_INDEX]
        n_calls = sum(m["content"].count(CALL_TOKEN) for m in record["messages"] if m["role"] == "assistant")
        n_trained = sum(m["content"].count(CALL_TOKEN) for m in record["messages"]
                        if m["role"] == "assistant" and m.get("train", True))
        if mask == "all":  # every <|call|> of a trained turn is one trained special token
            assert trained.count(call_id) == n_trained
        assert sample.input_ids.count(tokenizer.convert_tokens_to_ids(TOOLS_TOKEN)) == (1 if n_calls else
                                                                                       int(bool(record["meta"].get("tools"))))


def test_template_records_are_left_as_they_are(tiny_tokenizer, mixed_records):
    records, used = for_tokenizer(mixed_records[:5], tiny_tokenizer)
    assert used == "template" and records == mixed_records[:5]
