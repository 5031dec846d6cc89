import copy
import pickle

import pytest

from core.data.chat import IGNORE_INDEX, RenderError, render_record
from core.data.inspect import mark_trained

TOOLS = [{"type": "function", "function": {"name": "calc", "description": "Evaluate",
          "parameters": {"type": "object", "properties": {"expr": {"type": "string"}}, "required": ["expr"]}}}]
CALL = {"type": "function", "function": {"name": "calc", "arguments": {"expr": "2+3"}}}
CALL_TEXT = '<tool_call>\n{"name": "calc", "arguments": {"expr": "2+3"}}\n</tool_call><|im_end|>'

TOOL_SAMPLE = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+3?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "name": "calc", "content": "5"},
        {"role": "assistant", "content": "2 + 3 = 5."},
        {"role": "user", "content": "And doubled?"},
        {"role": "assistant", "content": "10."},
    ],
    "tools": TOOLS,
    "task_type": "agent/chain",
}
NO_SYSTEM = {**TOOL_SAMPLE, "messages": TOOL_SAMPLE["messages"][1:]}
# TOOL_SAMPLE's rendering, piece by piece, written out from the tiny template.
TOOLS_TEXT = (
    "# Tools\n\nYou may call one or more functions. Their signatures are inside <tools></tools>:\n<tools>\n"
    '{"type": "function", "function": {"name": "calc", "description": "Evaluate", "parameters": {"type": "object", '
    '"properties": {"expr": {"type": "string"}}, "required": ["expr"]}}}\n</tools>\n\n'
    "To call a function, write a JSON object with its name and arguments inside <tool_call></tool_call>:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)
TOOLS_BLOCK = "<|im_start|>system\n" + TOOLS_TEXT  # what the template emits before a first user message
SYSTEM_BLOCK = "<|im_start|>system\nBe brief.\n\n" + TOOLS_TEXT  # the system message merged into it
USER_1 = "<|im_start|>user\nWhat is 2+3?<|im_end|>\n"
CALL_TURN = "<|im_start|>assistant\n" + CALL_TEXT + "\n"
TOOL_TURN = "<|im_start|>tool\n5<|im_end|>\n"
REST = ("<|im_start|>assistant\n2 + 3 = 5.<|im_end|>\n<|im_start|>user\nAnd doubled?<|im_end|>\n"
        "<|im_start|>assistant\n10.<|im_end|>\n")
MULTI_TURN = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！"},
        {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "Goodbye!"},
    ],
    "task_type": "chat/multi_turn",
}


# Raises on two messages of one role in a row, as some templates do.
ALTERNATING = ("{%- for m in messages %}{%- if not loop.first and m.role == loop.previtem.role %}"
               "{{- raise_exception('roles must alternate') }}{%- endif %}{%- endfor %}")


def trained_spans(sample, tokenizer):
    """The decoded text of every maximal run of trained tokens."""
    spans, run = [], []
    for token, label in zip(sample.input_ids + [None], sample.labels + [IGNORE_INDEX]):
        if label != IGNORE_INDEX:
            run.append(token)
        elif run:
            spans.append(tokenizer.decode(run))
            run = []
    return spans


def with_flags(record, flags):
    messages = [dict(m) for m in record["messages"]]
    for i, flag in flags.items():
        messages[i]["train"] = flag
    return {**record, "messages": messages}


# (record, mask, per-message flags, expected trained spans), written out by hand.
EXPECTED = [
    (TOOL_SAMPLE, "all", {}, [CALL_TEXT, "2 + 3 = 5.<|im_end|>", "10.<|im_end|>"]),
    (TOOL_SAMPLE, "last", {}, ["10.<|im_end|>"]),
    (TOOL_SAMPLE, "all", {2: False}, ["2 + 3 = 5.<|im_end|>", "10.<|im_end|>"]),
    (TOOL_SAMPLE, "last", {2: True}, [CALL_TEXT, "10.<|im_end|>"]),
    (TOOL_SAMPLE, "all", {1: True}, ["<|im_start|>user\nWhat is 2+3?<|im_end|>\n", CALL_TEXT,
                                     "2 + 3 = 5.<|im_end|>", "10.<|im_end|>"]),
    (TOOL_SAMPLE, "prompt", {}, [SYSTEM_BLOCK + USER_1 + CALL_TURN + TOOL_TURN + REST]),
    (TOOL_SAMPLE, "prompt", {3: False}, [SYSTEM_BLOCK + USER_1 + CALL_TURN, REST]),
    (TOOL_SAMPLE, "prompt", {2: False}, [SYSTEM_BLOCK + USER_1, TOOL_TURN + REST]),
    (TOOL_SAMPLE, "prompt", {0: False}, [USER_1 + CALL_TURN + TOOL_TURN + REST]),
    # A first message's span is its own text, not the tools block the template puts before it.
    (NO_SYSTEM, "all", {0: True}, [USER_1, CALL_TEXT, "2 + 3 = 5.<|im_end|>", "10.<|im_end|>"]),
    (NO_SYSTEM, "prompt", {0: False}, [TOOLS_BLOCK, CALL_TURN + TOOL_TURN + REST]),
    (NO_SYSTEM, "prompt", {}, [TOOLS_BLOCK + USER_1 + CALL_TURN + TOOL_TURN + REST]),
    (MULTI_TURN, "all", {}, ["Hello.<|im_end|>", "你好！<|im_end|>", "Goodbye!<|im_end|>"]),
    (MULTI_TURN, "last", {}, ["Goodbye!<|im_end|>"]),
    (MULTI_TURN, "all", {3: False}, ["Hello.<|im_end|>", "Goodbye!<|im_end|>"]),
    (MULTI_TURN, "last", {1: True, 5: False}, ["Hello.<|im_end|>"]),
]


@pytest.mark.parametrize("markers", [True, False], ids=["generation-markers", "prefix-rendering"])
@pytest.mark.parametrize("record,mask,flags,expected", EXPECTED)
def test_trained_spans(tiny_tokenizer, plain_tokenizer, markers, record, mask, flags, expected):
    tokenizer = tiny_tokenizer if markers else plain_tokenizer
    sample = render_record(with_flags(record, flags), tokenizer, mask=mask, use_generation_markers=markers)
    assert trained_spans(sample, tokenizer) == expected
    assert sample.task_type == record["task_type"]


def test_prompt_mode_trains_every_token_except_flagged_messages(tiny_tokenizer):
    sample = render_record(MULTI_TURN, tiny_tokenizer, mask="prompt")
    assert sample.labels == sample.input_ids
    flagged = render_record(with_flags(MULTI_TURN, {2: False}), tiny_tokenizer, mask="prompt")
    assert "<|im_start|>user\n你好<|im_end|>\n" not in "".join(trained_spans(flagged, tiny_tokenizer))
    assert flagged.num_trained == sample.num_trained - len(tiny_tokenizer("<|im_start|>user\n你好<|im_end|>\n")["input_ids"])


@pytest.mark.parametrize("mask", ["all", "last", "prompt"])
@pytest.mark.parametrize("record", [TOOL_SAMPLE, MULTI_TURN], ids=["tools", "multi-turn"])
def test_markers_and_prefix_rendering_agree(tiny_tokenizer, plain_tokenizer, record, mask):
    a = render_record(record, tiny_tokenizer, mask=mask, use_generation_markers=True)
    b = render_record(record, plain_tokenizer, mask=mask, use_generation_markers=False)
    assert a.input_ids == b.input_ids and a.labels == b.labels


def test_tokens_match_the_templates_own_tokenization(tiny_tokenizer):
    sample = render_record(TOOL_SAMPLE, tiny_tokenizer)
    assert sample.input_ids == tiny_tokenizer.apply_chat_template(TOOL_SAMPLE["messages"], tools=TOOLS, tokenize=True,
                                                                  return_dict=True)["input_ids"]


def test_nothing_trained_is_an_error_naming_the_sample(tiny_tokenizer):
    record = with_flags(MULTI_TURN, {1: False, 3: False, 5: False})
    with pytest.raises(RenderError, match=r"^data.jsonl:7: no token is trained under mask 'all'$"):
        render_record(record, tiny_tokenizer, sample_id="data.jsonl:7")


def test_untrained_end_of_turn_is_an_error(tiny_tokenizer):
    # A template whose assistant turns end without the end-of-turn token.
    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = tok.chat_template.replace("{{- '<|im_end|>' }}\n{%- endgeneration %}", "{%- endgeneration %}{{- '<|im_end|>' }}")
    with pytest.raises(RenderError, match=r"x.jsonl:1: messages\[1\] is trained but its end-of-turn token '<\|im_end\|>' is not"):
        render_record(MULTI_TURN, tok, sample_id="x.jsonl:1")


def test_mark_trained_shows_spans(tiny_tokenizer):
    sample = render_record(MULTI_TURN, tiny_tokenizer, mask="last")
    assert mark_trained(sample, tiny_tokenizer).endswith("<|im_start|>assistant\n[[Goodbye!<|im_end|>]]\n")


def test_first_message_span_with_a_template_that_forbids_repeated_roles(plain_tokenizer):
    tok = copy.deepcopy(plain_tokenizer)
    tok.chat_template = ALTERNATING + tok.chat_template
    assert trained_spans(render_record(with_flags(NO_SYSTEM, {0: True}), tok, use_generation_markers=False), tok) == [
        USER_1, CALL_TEXT, "2 + 3 = 5.<|im_end|>", "10.<|im_end|>"]


def test_first_message_that_cannot_be_located_is_an_error(plain_tokenizer):
    # Turn headers carry the turn's index, so messages[0] repeated never renders as it did first.
    tok = copy.deepcopy(plain_tokenizer)
    tok.chat_template = tok.chat_template.replace("'<|im_start|>' + message.role + '\\n'",
                                                  "'<|im_start|>' + message.role + loop.index0|string + '\\n'")
    assert tok.chat_template != plain_tokenizer.chat_template
    with pytest.raises(RenderError) as err:
        render_record(with_flags(NO_SYSTEM, {0: True}), tok, sample_id="x.jsonl:3", use_generation_markers=False)
    assert str(err.value) == ('x.jsonl:3: cannot tell where messages[0] starts in the rendering (the template '
                              'renders it differently when repeated), so its "train" flag cannot be applied')
    assert err.value.reason == "first_message_start"


def test_render_error_survives_pickling():  # dataset.map worker processes send it back pickled
    err = pickle.loads(pickle.dumps(RenderError("x.jsonl:3: no token is trained under mask 'all'", "nothing_trained")))
    assert (str(err), err.reason) == ("x.jsonl:3: no token is trained under mask 'all'", "nothing_trained")
