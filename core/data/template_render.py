"""One place that renders a conversation through a tokenizer's chat template, the way
`tokenizer.apply_chat_template(..., tokenize=False)` does (None values dropped, reasoning fields aliased, the
special tokens passed to the template), optionally with the character spans of its `{% generation %}` blocks.
Every exception the template raises becomes a TemplateError carrying the template's own message.

Plain JSON conversations (what every reader yields) take a fast path; anything else takes transformers' own
render_jinja_template. The fast path renders in an overlay of transformers' own sandboxed environment (its
filters, globals, extensions and settings) that differs in three ways, each invisible in the output:
  - transformers rebuilds every value it is given (a safeguard for rich objects such as images and arrays,
    which JSON never holds): skipped for values that are exact JSON types;
  - `message.role` on a plain dict is looked up as an item at once when dict has no attribute of that name
    (the sandbox tries the attribute first and catches the AttributeError);
  - a `{% generation %}` block is its body between two marks, in a scope of its own, instead of a macro call
    whose output a context-variable tracker measures; the marks (Unicode noncharacters, refused in inputs)
    are cut out after rendering and give the spans.
tests/core/data/test_template_render.py holds the two paths to the same bytes and spans on every real
template, transformers' own and TRL's training templates with generation blocks."""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.runtime import new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from transformers.utils.chat_template_utils import _normalize_chat_messages, render_jinja_template

try:  # transformers' compiled-template cache and its reasoning-field aliasing (5.x)
    from transformers.utils.chat_template_utils import _alias_reasoning_fields, _compile_jinja_template
except ImportError:  # another transformers: its public path only
    _compile_jinja_template = None

_OPEN, _CLOSE = "\ufdd0", "\ufdd1"  # Unicode noncharacters: never meant to be in text
_MARKS = re.compile(f"[{_OPEN}{_CLOSE}]")
_SCALARS = (str, int, float, bool, type(None))
_DICT_ATTRIBUTES = frozenset(dir(dict))


class TemplateError(Exception):
    """The chat template raised (raise_exception, an undefined value, a type error in the template)."""


class _GenerationMarks(Extension):
    tags = {"generation"}
    priority = 1000  # over transformers' tracker, which the overlay inherits: the parser keeps the last one

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return [nodes.Output([nodes.TemplateData(_OPEN)]).set_lineno(lineno), nodes.Scope(body).set_lineno(lineno),
                nodes.Output([nodes.TemplateData(_CLOSE)]).set_lineno(lineno)]


class _JsonSandbox(ImmutableSandboxedEnvironment):
    def getattr(self, obj, attribute):
        if type(obj) is dict and type(attribute) is str and attribute not in _DICT_ATTRIBUTES:
            try:  # what the sandbox returns once getattr has failed, as it must for a name dict lacks
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _unmarked(text: str) -> bool:
    return text.isascii() or (_OPEN not in text and _CLOSE not in text)  # isascii is O(1)


def _plain(value) -> bool:
    """Whether a value is built of exact JSON types only (what json.loads returns), with no mark in its text."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _unmarked(key):
                return False
            if not (_unmarked(item) if type(item) is str else _plain(item)):
                return False
        return True
    if kind is list:
        for item in value:
            if not (_unmarked(item) if type(item) is str else _plain(item)):
                return False
        return True
    if kind is str:
        return _unmarked(value)
    return kind in _SCALARS


@lru_cache(maxsize=32)
def _compiled(chat_template: str):
    """(template, its globals as one dict) in the fast environment, or None where it does not apply. Jinja
    copies a ChainMap of the globals on every render otherwise."""
    if _compile_jinja_template is None or not _plain(chat_template):
        return None
    environment = _compile_jinja_template(chat_template).environment
    if type(environment) is not ImmutableSandboxedEnvironment:
        return None
    fast = environment.overlay(extensions=[_GenerationMarks])
    fast.__class__ = _JsonSandbox  # the same environment, one method overridden (overlay keeps the class)
    template = fast.from_string(chat_template)
    return template, dict(template.globals)


def _cut_marks(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without its generation marks, and the (start, stop) of each block, in the order they close."""
    pieces, marks = _MARKS.split(text), _MARKS.findall(text)
    spans, opened, length = [], [], 0
    for piece, mark in zip(pieces, marks):
        length += len(piece)
        if mark == _OPEN:
            opened.append(length)
        else:
            spans.append((opened.pop(), length))
    return "".join(pieces), spans


def _render_fast(compiled, messages: list, tools, generation_prompt: bool, kw: dict, generation_spans: bool):
    """What Template.render does, given the template's globals as a plain dict."""
    template, template_globals = compiled
    variables = {**template_globals, "messages": _alias_reasoning_fields(messages), "tools": tools,
                 "documents": None, "add_generation_prompt": generation_prompt, **kw}
    context = new_context(template.environment, template.name, template.blocks, variables, shared=True,
                          globals=template_globals)
    text = "".join(template.root_render_func(context))
    if _OPEN not in text:
        return (text, []) if generation_spans else text
    return _cut_marks(text) if generation_spans else _MARKS.sub("", text)


def template_kwargs(tokenizer) -> dict:
    return dict(tokenizer.special_tokens_map)


def render(tokenizer, messages: list[dict], tools, generation_prompt: bool, kw: dict | None = None,
           generation_spans: bool = False):
    """The rendered text (and, with generation_spans, the [(start, stop)] of its generation blocks)."""
    if not tokenizer.chat_template:
        raise TemplateError("the tokenizer has no chat template")
    kw = template_kwargs(tokenizer) if kw is None else kw
    tools = tools or None
    dicts = all(type(m) is dict for m in messages)
    # top-level None values dropped, as transformers' _normalize_chat_messages does (without its deep walk)
    messages = [{k: v for k, v in m.items() if v is not None} for m in messages] if dicts \
        else _normalize_chat_messages(messages)
    compiled = _compiled(tokenizer.chat_template)
    try:
        if compiled is not None and dicts and _plain(messages) and _plain(tools) and _plain(kw):
            return _render_fast(compiled, messages, tools, generation_prompt, kw, generation_spans)
        texts, spans = render_jinja_template(
            conversations=[messages], tools=tools, chat_template=tokenizer.chat_template,
            return_assistant_tokens_mask=generation_spans, add_generation_prompt=generation_prompt, **kw)
    except Exception as e:  # templates raise anything: TemplateError, TypeError, UndefinedError, KeyError
        raise TemplateError(f"{type(e).__name__}: {e}" if not str(e) else str(e)) from None
    return (texts[0], spans[0]) if generation_spans else texts[0]
