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
from tests.core.data.template_oracle import END_OF_TURN, check_sample

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


def expectations(record, probe, mask):
    """What the oracle needs, from the record as adapted for the template: prompt texts and, per trained
    turn, the texts its run must hold (the answer, every call's name)."""
    adapted, _ = adapt_record(record, probe, RenderPolicy(), "x")
    messages = adapted["messages"]
    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    answers_of_all = " ".join(m.get("content") or "" for m in messages if m["role"] == "assistant")
    prompts = [m["content"].strip() for m in messages if m["role"] == "user" and m.get("content")
               and len(m["content"].strip()) >= 20 and m["content"].strip() not in answers_of_all]
    turns, spaces = [], []
    for i in assistant:
        default = True if mask == "all" else i == assistant[-1]
        if messages[i].get("train", default):
            answer = (messages[i].get("content") or "").split("</think>")[-1].strip()
            names = [c["function"]["name"] for c in messages[i].get("tool_calls") or []]
            turns.append([t for t in [answer, *names] if t])
            spaces.append((messages[i].get("content") or "x")[:1].isspace() or "</think>" in (messages[i].get("content") or ""))
    return prompts, turns, spaces


def run_template(tiny_tokenizer, name, masks=("all", "last")):
    tok = template_tokenizer(tiny_tokenizer, name)
    probe = probe_template(tok)
    outcome, failures = Counter(), []
    for k, record in enumerate(RECORDS):
        for mask in masks:
            try:
                samples = render_samples(record, tok, mask=mask, sample_id=f"r{k}")
            except RenderError as e:
                assert "\n" not in str(e) and str(e).startswith(f"r{k}: "), str(e)
                outcome[f"refused:{e.reason}"] += 1
                continue
            prompts, turns, spaces = expectations(record, probe, mask)
            if len(samples) > 1:  # per_turn: one trained turn each
                pieces = ([(s, [t], [sp]) for s, t, sp in zip(samples, turns, spaces)] if len(samples) == len(turns)
                          else [(None, None, None)])
            else:
                pieces = [(samples[0], turns, spaces)]
            for sample, want, space in pieces:
                problem = "sample count" if sample is None else check_sample(
                    sample.input_ids, sample.labels, tok, END_OF_TURN[name], prompts, want, space)
                if problem:
                    failures.append(f"{record['task_type']} mask={mask}: {problem}")
            outcome[f"ok:{samples[0].strategy}"] += 1
    return outcome, failures


@pytest.mark.parametrize("name", template_names())
def test_every_sample_is_exact_or_refused_in_one_line(tiny_tokenizer, name):
    outcome, failures = run_template(tiny_tokenizer, name)
    assert not failures, f"{name}: {len(failures)} wrong: " + "\n".join(failures[:8])
    assert sum(n for k, n in outcome.items() if k.startswith("ok:")) > 0
