"""Every real chat template in ../shared/chat_templates x records of every suite scenario + hand-made ones x
masks all / last: the trained tokens are exactly the assistant turns (independent oracle), or the sample is
refused with one line. Zero raw exceptions."""

import json
import os
from collections import Counter

import pytest

from core.data.adapt import RenderPolicy, adapt_record
from core.data.chat import RenderError, render_samples
from core.data.template_probe import probe_template
from tests.core.data.template_fixtures import template_names, template_tokenizer
from tests.core.data.template_oracle import END_OF_TURN, check_sample, perturbed, turn_text

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "suite_records.jsonl")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _call(city):
    return {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}


def _u(t):
    return {"role": "user", "content": t}


def _a(t, **kw):
    return {"role": "assistant", "content": t, **kw}


HAND_MADE = [
    {"task_type": "hand/three_turns_system", "messages": [
        {"role": "system", "content": "You are a careful assistant."}, _u("First question here?"), _a("First answer."),
        _u("Second question here?"), _a("Second answer."), _u("Third question here?"), _a("Third answer.")]},
    {"task_type": "hand/middle_untrained", "messages": [
        _u("First question here?"), _a("First answer."), _u("Second question here?"),
        _a("Second answer, not trained.", train=False), _u("Third question here?"), _a("Third answer.")]},
    {"task_type": "hand/reasoning", "messages": [
        _u("What is 2+2 exactly?"), _a("<think>\nTwo plus two.\n</think>\n\nIt is 4."),
        _u("And 3+3 then?"), _a("<think>\nThree plus three.\n</think>\n\nIt is 6.")]},
    {"task_type": "hand/single_call", "tools": TOOLS, "messages": [
        _u("Weather in Paris today?"), _a("", tool_calls=[_call("Paris")]),
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21}"}, _a("It is 21 degrees in Paris.")]},
    {"task_type": "hand/parallel_calls", "tools": TOOLS, "messages": [
        _u("Weather in Paris and Rome?"), _a("", tool_calls=[_call("Paris"), _call("Rome")]),
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21}"},
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 25}"}, _a("Paris 21, Rome 25 degrees.")]},
    {"task_type": "hand/null_content_call", "tools": TOOLS, "messages": [
        _u("Weather in Oslo right now?"), {"role": "assistant", "content": None, "tool_calls": [_call("Oslo")]},
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 3}"}, _a("Oslo has 3 degrees.")]},
    {"task_type": "hand/chinese", "messages": [_u("今天北京的天气怎么样？"), _a("北京今天晴，气温二十度。"),
                                               _u("明天呢？请详细说明"), _a("明天多云，气温十八度。")]},
    {"task_type": "hand/padded", "messages": [_u("  padded question here  \n"), _a("  padded answer  \n"),
                                              _u("next question please"), _a("\n\nanswer after newlines")]},
]


def _records():
    with open(FIXTURE, encoding="utf-8") as f:
        return [json.loads(line) for line in f] + HAND_MADE


RECORDS = _records()


def expectations(record, probe, mask, tok, eot):
    """What the oracle needs, from the record as adapted for the template: prompt texts, per trained turn the
    texts its run must hold (the answer, every call's name), and per trained turn its exact text as the raw
    template serves it (template_oracle.turn_text)."""
    adapted, _ = adapt_record(record, probe, RenderPolicy(), "x")
    messages = adapted["messages"]
    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    answers_of_all = " ".join(m.get("content") or "" for m in messages if m["role"] == "assistant")
    prompts = [m["content"].strip() for m in messages if m["role"] == "user" and m.get("content")
               and len(m["content"].strip()) >= 20 and m["content"].strip() not in answers_of_all]
    turns, texts = [], []
    for i in assistant:
        default = True if mask == "all" else i == assistant[-1]
        if messages[i].get("train", default):
            answer = (messages[i].get("content") or "").split("</think>")[-1].strip()
            names = [c["function"]["name"] for c in messages[i].get("tool_calls") or []]
            turns.append([t for t in [answer, *names] if t])
            texts.append(turn_text(tok, messages, adapted.get("tools"), i, eot))
    return prompts, turns, texts


def run_template(tiny_tokenizer, name, masks=("all", "last"), tok=None, records=None, controls=False):
    """Outcome counts and failures of every record x mask. With `controls`, each checked sample's negative
    controls (template_oracle.perturbed) must all be caught too: counted as caught:<kind>, else a failure."""
    tok = tok or template_tokenizer(tiny_tokenizer, name)
    probe = probe_template(tok)
    eot = END_OF_TURN[name]
    outcome, failures = Counter(), []
    for k, record in enumerate(RECORDS if records is None else records):
        for mask in masks:
            try:
                samples = render_samples(record, tok, mask=mask, sample_id=f"r{k}")
            except RenderError as e:
                assert "\n" not in str(e) and str(e).startswith(f"r{k}: "), str(e)
                outcome[f"refused:{e.reason}"] += 1
                continue
            prompts, turns, texts = expectations(record, probe, mask, tok, eot)
            if len(samples) > 1:  # per_turn: one trained turn each
                pieces = ([(s, [t], [x]) for s, t, x in zip(samples, turns, texts)] if len(samples) == len(turns)
                          else [(None, None, None)])
            else:
                pieces = [(samples[0], turns, texts)]
            for sample, want, text in pieces:
                where = f"{record['task_type']} mask={mask}"
                problem = "sample count" if sample is None else check_sample(
                    sample.input_ids, sample.labels, tok, text, prompts, want)
                if problem:
                    failures.append(f"{where}: {problem}")
                elif controls:
                    for kind, labels in perturbed(sample.labels, sample.input_ids).items():
                        if check_sample(sample.input_ids, labels, tok, text, prompts, want) is None:
                            failures.append(f"{where}: the oracle passes the {kind} control")
                        else:
                            outcome[f"caught:{kind}"] += 1
            outcome[f"ok:{samples[0].strategy}"] += 1
    return outcome, failures


@pytest.mark.parametrize("name", template_names())
def test_every_sample_is_exact_or_refused_in_one_line(tiny_tokenizer, name):
    outcome, failures = run_template(tiny_tokenizer, name)
    assert not failures, f"{name}: {len(failures)} wrong: " + "\n".join(failures[:8])
    assert sum(n for k, n in outcome.items() if k.startswith("ok:")) > 0


QWEN3_RECORD = {"task_type": "hand/qwen3", "messages": [
    {"role": "system", "content": "Be exact."},
    _u("First?"), _a("<think>\nR1.\n</think>\n\nA1."),
    _u("Second?"), _a("A2."),
    _u("Third?"), _a("<think>\nR3.\n</think>\n\nA3.")]}


def test_qwen3_trains_each_turn_as_served(tiny_tokenizer):
    from tests.core.data.template_oracle import trained_runs

    tok = template_tokenizer(tiny_tokenizer, "Qwen-Qwen3-0.6B")
    samples = render_samples(QWEN3_RECORD, tok, mask="all")
    assert [s.strategy for s in samples] == ["per_turn"] * 3
    trained = [[text for _, _, text in trained_runs(s.input_ids, s.labels, tok)] for s in samples]
    assert trained == [["<think>\nR1.\n</think>\n\nA1.<|im_end|>"],
                       ["<think>\n\n</think>\n\nA2.<|im_end|>"],  # served: the template opens an empty think
                       ["<think>\nR3.\n</think>\n\nA3.<|im_end|>"]]
    # Earlier turns appear in each prompt as the template shows history: reasoning dropped.
    last = tok.decode(samples[2].input_ids)
    assert "<|im_start|>assistant\nA1.<|im_end|>" in last and "R1." not in last
    only_last = render_samples(QWEN3_RECORD, tok, mask="last")
    assert len(only_last) == 1 and only_last[0].input_ids == samples[2].input_ids


CONTROLS = ("shift+1", "shift-1", "prompt_trained", "no_end_of_turn")


def assert_controls_caught(outcome, failures, n_records):
    """Every correct sample passes the oracle and every negative control of every sample is caught."""
    assert not failures, f"{len(failures)} wrong: " + "\n".join(failures[:8])
    checked = outcome["caught:shift+1"]
    assert checked >= 2 * n_records and all(outcome[f"caught:{kind}"] == checked for kind in CONTROLS), outcome


@pytest.mark.parametrize("name", template_names())
def test_oracle_catches_shifted_mask_trained_prompt_and_missing_end_of_turn(tiny_tokenizer, name):
    """Negative controls on the hand-made records (calls, digits, Chinese, padding), masks all and last."""
    outcome, failures = run_template(tiny_tokenizer, name, records=HAND_MADE, controls=True)
    assert_controls_caught(outcome, failures, len(HAND_MADE))


def test_template_errors_are_one_line_render_errors(tiny_tokenizer):
    tok = template_tokenizer(tiny_tokenizer, "google-gemma-2-2b-it")
    bad = {"task_type": "hand/bad", "messages": [_u("one"), _u("two"), _a("three")]}
    with pytest.raises(RenderError) as err:
        render_samples(bad, tok, sample_id="data.jsonl:4")
    assert str(err.value) == ("data.jsonl:4: messages[1]: the chat template raised: Conversation roles must alternate "
                              "user/assistant/user/assistant/...")
    assert err.value.reason == "template_error"


@pytest.mark.parametrize("name,policy,reason", [
    ("meta-llama-Llama-3.1-8B-Instruct", RenderPolicy(parallel_calls="refuse"), "parallel_unsupported"),
    ("google-gemma-2-2b-it", RenderPolicy(system="refuse"), "system_unsupported"),
    ("microsoft-phi-4", RenderPolicy(tools="refuse"), "tools_unsupported"),
])
def test_refusals_by_option_name_the_fix(tiny_tokenizer, name, policy, reason):
    tok = template_tokenizer(tiny_tokenizer, name)
    record = HAND_MADE[4] if reason != "system_unsupported" else HAND_MADE[0]
    with pytest.raises(RenderError) as err:
        render_samples(record, tok, sample_id="f.jsonl:2", policy=policy)
    assert err.value.reason == reason and str(err.value).startswith("f.jsonl:2: ") and "--data." in str(err.value)


def test_adaptations_are_counted(tiny_tokenizer):
    llama = template_tokenizer(tiny_tokenizer, "meta-llama-Llama-3.1-8B-Instruct")
    assert render_samples(HAND_MADE[4], llama)[0].adaptations == {"parallel_split": 1}
    r1 = template_tokenizer(tiny_tokenizer, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B")
    assert render_samples(HAND_MADE[5], r1)[0].adaptations == {"tool_fallback": 1}
    mistral = template_tokenizer(tiny_tokenizer, "mistralai-Mistral-Nemo-Instruct-2407")
    assert all(s.adaptations == {"call_ids": 1} for s in render_samples(HAND_MADE[3], mistral))


def test_a_turn_whose_call_the_template_drops_is_never_trained(tiny_tokenizer):
    """Safety net below the probe: told (wrongly) that phi-4 renders tools, core still refuses the call turn
    the template renders empty instead of training just its end-of-turn token."""
    import dataclasses

    tok = template_tokenizer(tiny_tokenizer, "microsoft-phi-4")
    lying = dataclasses.replace(probe_template(tok), tools=True, tool_calls=True, tool_results=True)
    with pytest.raises(RenderError) as err:
        render_samples(HAND_MADE[3], tok, sample_id="f.jsonl:9", probe=lying)
    assert err.value.reason == "call_dropped" and str(err.value).startswith("f.jsonl:9: messages[1]: ")
    assert render_samples(HAND_MADE[3], tok)[0].adaptations == {"tool_fallback": 1}  # the real probe


def test_render_record_refuses_several_samples_in_one_line(tiny_tokenizer):
    from core.data.chat import render_record

    tok = template_tokenizer(tiny_tokenizer, "Qwen-Qwen3-0.6B")
    with pytest.raises(RenderError, match=r"^q.jsonl:1: .* gives 3 samples .*use render_samples$"):
        render_record(QWEN3_RECORD, tok, sample_id="q.jsonl:1")
    assert render_record(QWEN3_RECORD, tok, mask="last").strategy == "per_turn"
