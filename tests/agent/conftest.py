import os

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
# A ChatML template with no tool support: tools, tool_calls and tool names are ignored.
NO_TOOLS_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                     "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="session")
def no_tools_tokenizer(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = NO_TOOLS_TEMPLATE
    return tok


@pytest.fixture(scope="session")
def mixed_records():
    """3,000 samples of the default mix, English and Chinese, built-in toolbox."""
    from suites.agent.generate import generate

    return generate(3000, 11, "mix")


@pytest.fixture(scope="session")
def eval_records():
    from suites.agent.generate import generate

    return generate(400, 12, "mix", eval_records=True)


def assistant_text(tokenizer, record: dict, turn: int) -> str:
    """What the model would generate for messages[turn]: the template's rendering of that assistant turn after
    the generation prompt, up to (not including) the end-of-turn token."""
    tools = record.get("tools") or None
    prompt = tokenizer.apply_chat_template(record["messages"][:turn], tools=tools, tokenize=False,
                                           add_generation_prompt=True)
    full = tokenizer.apply_chat_template(record["messages"][: turn + 1], tools=tools, tokenize=False)
    assert full.startswith(prompt)
    return full[len(prompt):].split(tokenizer.eos_token)[0]
