"""core.data.template_render renders plain JSON conversations through transformers' compiled template directly;
it must give the very bytes and generation spans of transformers' own render_jinja_template, on every real
template, every suite record and prefix of it, with and without the generation prompt."""

import glob
import os

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from core.data import template_render
from core.data.template_probe import has_generation_markers
from core.data.template_render import TemplateError, render, template_kwargs
from tests.core.data.template_fixtures import template_names, template_tokenizer
from tests.core.data.test_templates import RECORDS

# transformers aliases reasoning fields (reasoning -> reasoning_content, thinking) before rendering
REASONING = [{"task_type": "extra/reasoning_field", "messages": [
    {"role": "user", "content": "What is 2+2 exactly?"},
    {"role": "assistant", "content": "It is 4.", "reasoning": "Two plus two."},
    {"role": "user", "content": "And 3+3?"},
    {"role": "assistant", "content": "It is 6.", "reasoning_content": "Three plus three."}]}]


def _reference(tok, messages, tools, generation_prompt, spans):
    texts, generation = render_jinja_template(
        conversations=[[{k: v for k, v in m.items() if v is not None} for m in messages]], tools=tools or None,
        chat_template=tok.chat_template, return_assistant_tokens_mask=spans, add_generation_prompt=generation_prompt,
        **template_kwargs(tok))
    return (texts[0], generation[0]) if spans else texts[0]


def _outcome(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except Exception as e:  # noqa: BLE001  (both paths must fail alike: compared by message)
        return ("raised", str(e).splitlines()[0] if str(e) else type(e).__name__)


def _trl_training_templates() -> list[str]:
    """TRL's training templates: real templates with {% generation %} blocks (trl is a dev extra)."""
    try:
        import trl
    except ImportError:
        return []
    return sorted(glob.glob(os.path.join(os.path.dirname(trl.__file__), "chat_templates", "*_training.jinja")))


@pytest.mark.parametrize("name", ["tiny", *template_names(), *_trl_training_templates()],
                         ids=lambda name: os.path.basename(name))
def test_direct_render_is_transformers_render(tiny_tokenizer, name):
    if name.endswith(".jinja"):  # a TRL training template, with the tiny vocabulary
        with open(name, encoding="utf-8") as f:
            tok = template_tokenizer(tiny_tokenizer, os.path.basename(name)[:-6], f.read())
    else:
        tok = tiny_tokenizer if name == "tiny" else template_tokenizer(tiny_tokenizer, name)
    spans = has_generation_markers(tok)
    compared = raised = 0
    for record in RECORDS + REASONING:
        messages, tools = record["messages"], record.get("tools")
        for n in range(1, len(messages) + 1):
            for prompt in (False, True):
                for with_spans in ((False, True) if spans else (False,)):
                    want = _outcome(_reference, tok, messages[:n], tools, prompt, with_spans)
                    got = _outcome(render, tok, messages[:n], tools, prompt, generation_spans=with_spans)
                    if isinstance(want, tuple) and want[0] == "raised":
                        assert isinstance(got, tuple) and got[0] == "raised", (record["task_type"], n, prompt)
                        raised += 1
                        continue
                    assert got == want, (record["task_type"], n, prompt, with_spans)
                    compared += 1
    assert compared >= 100 and compared + raised > 300


def test_non_json_values_take_transformers_path(tiny_tokenizer, monkeypatch):
    """A tuple (not a JSON type) is rebuilt by transformers' walk: the direct path must not see it."""
    calls = []
    real = template_render._render_fast
    monkeypatch.setattr(template_render, "_render_fast", lambda *a: calls.append(a) or real(*a))
    plain = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"}]
    text = render(tiny_tokenizer, plain, None, False)
    assert len(calls) == 1
    odd = [{"role": "user", "content": "hello there", "meta": (1, 2)}, {"role": "assistant", "content": "hi"}]
    assert render(tiny_tokenizer, odd, None, False) == text
    assert len(calls) == 1  # the tuple went through render_jinja_template
    marked = [{"role": "user", "content": "hello \ufdd0 there"}, {"role": "assistant", "content": "hi \ufdd1"}]
    text, spans = render(tiny_tokenizer, marked, None, False, generation_spans=True)
    assert len(calls) == 1 and (text, spans) == _reference(tiny_tokenizer, marked, None, False, True)
    assert text[slice(*spans[0])] == "hi \ufdd1<|im_end|>"


def test_template_errors_keep_the_template_message(tiny_tokenizer):
    tok = template_tokenizer(tiny_tokenizer, "google-gemma-2-2b-it")
    with pytest.raises(TemplateError, match="System role not supported"):
        render(tok, [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], None, False)


def test_a_generation_block_keeps_its_own_scope(tiny_tokenizer):
    """transformers renders the block as a macro call: a variable set inside it does not leak out."""
    tok = template_tokenizer(tiny_tokenizer, "scoped", "{% set x = 'outer' %}{% for m in messages %}{% generation %}"
                             "{% set x = m.content %}[{{ x }}]{% endgeneration %}{{ x }}|{% endfor %}{{ x }}")
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    want = _reference(tok, messages, None, False, True)
    assert want == ("[q]outer|[a]outer|outer", [(0, 3), (9, 12)])
    assert render(tok, messages, None, False, generation_spans=True) == want
