"""One place that renders a conversation through a tokenizer's chat template, the way
`tokenizer.apply_chat_template(..., tokenize=False)` does (None values dropped, the special tokens passed
to the template), optionally with the character spans of its `{% generation %}` blocks. Every exception
the template raises becomes a TemplateError carrying the template's own message."""

from __future__ import annotations

from transformers.utils.chat_template_utils import _normalize_chat_messages, render_jinja_template


def _drop_none(messages: list) -> list:
    """What `_normalize_chat_messages` does to JSON records (top-level None values dropped), without its deep
    walk for message objects; anything that is not a plain dict takes transformers' own path."""
    if all(type(m) is dict for m in messages):
        return [{k: v for k, v in m.items() if v is not None} for m in messages]
    return _normalize_chat_messages(messages)


class TemplateError(Exception):
    """The chat template raised (raise_exception, an undefined value, a type error in the template)."""


def template_kwargs(tokenizer) -> dict:
    return dict(tokenizer.special_tokens_map)


def render(tokenizer, messages: list[dict], tools, generation_prompt: bool, kw: dict | None = None,
           generation_spans: bool = False):
    """The rendered text (and, with generation_spans, the [(start, stop)] of its generation blocks)."""
    if not tokenizer.chat_template:
        raise TemplateError("the tokenizer has no chat template")
    try:
        texts, spans = render_jinja_template(
            conversations=[_drop_none(messages)], tools=tools or None,
            chat_template=tokenizer.chat_template, return_assistant_tokens_mask=generation_spans,
            add_generation_prompt=generation_prompt, **(template_kwargs(tokenizer) if kw is None else kw))
    except Exception as e:  # templates raise anything: TemplateError, TypeError, UndefinedError, KeyError
        raise TemplateError(f"{type(e).__name__}: {e}" if not str(e) else str(e)) from None
    return (texts[0], spans[0]) if generation_spans else texts[0]
