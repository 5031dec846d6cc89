"""What a tokenizer's chat template does with conversations, found by rendering probe conversations through
it (never from a table of model names): whether prefix rendering is stable, the text that closes an
assistant turn, whether tools / calls / results / parallel calls / a system message survive (their marker
strings appear in the text), and which argument form, tool-call id form and null-content form it needs.

Computed once per template + special tokens (cached) and stored in the run's config."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from core.data.template_render import TemplateError, render, template_kwargs

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")
_CACHE: dict[str, TemplateProbe] = {}


def has_generation_markers(tokenizer) -> bool:
    return bool(tokenizer.chat_template and _GENERATION_TAG.search(tokenizer.chat_template))


@dataclass(frozen=True)
class TemplateProbe:
    markers: bool = False  # {% generation %} blocks
    prefix_stable: bool = True  # rendering messages[:k] is a prefix of rendering messages
    generation_prompt_in_history: bool = True  # messages[:k] + generation prompt is a prefix too
    reasoning_in_history: bool = True  # an earlier turn's <think> part is kept
    end_of_turn: str = ""  # the text that closes an assistant turn ("" = the next role header does)
    system: bool = True  # a system message is accepted and its text appears
    tools: bool = True  # tool declarations appear
    tool_calls: bool = True
    tool_results: bool = True
    parallel_calls: bool = True  # every call of a multi-call turn (and every result) appears
    arguments: str = "object"  # "object" or "string" (JSON text) the template needs
    call_ids: str = "any"  # "any" or "alnum9" (9 alphanumeric characters, e.g. Mistral)
    null_content: str = "as_is"  # "as_is" or "empty" (a call turn's missing content must be "")
    errors: dict[str, str] = field(default_factory=dict)  # probe -> the template's own message

    @property
    def tool_support(self) -> bool:
        return self.tools and self.tool_calls and self.tool_results

    def default_strategy(self) -> str:
        if self.markers:
            return "markers"
        return "prefix" if self.prefix_stable else "per_turn"  # a generation prompt history drops is handled by prefix

    def to_dict(self) -> dict:
        return {**asdict(self), "strategy": self.default_strategy()}

    def summary(self) -> str:
        eot = self.end_of_turn or "none (the eos token is appended)"
        return (f"strategy {self.default_strategy()}; end of turn {eot!r}; prefix-stable {self.prefix_stable}; "
                f"system {self.system}; tools {self.tool_support}; parallel calls {self.parallel_calls}; "
                f"arguments {self.arguments}; call ids {self.call_ids}; null content {self.null_content}")


def _u(text):
    return {"role": "user", "content": text}


def _a(text):
    return {"role": "assistant", "content": text}


TOOL = {"type": "function", "function": {"name": "zqtool", "description": "zqdesc", "parameters": {
    "type": "object", "properties": {"zqkey": {"type": "string"}}, "required": ["zqkey"]}}}
PROBE_IDS = ("a1b2c3d4e", "f5g6h7i8j")


def _call_turn(n: int, arguments: str, ids: bool, content) -> list[dict]:
    calls = []
    for k in range(n):
        args = {"zqkey": f"zqval{k}"}
        call = {"type": "function", "function": {"name": "zqtool", "arguments": json.dumps(args) if arguments == "string"
                                                 else args}}
        if ids:
            call["id"] = PROBE_IDS[k]
        calls.append(call)
    turn = {"role": "assistant", "tool_calls": calls}
    if content is not None:
        turn["content"] = content
    results = [{"role": "tool", "name": "zqtool", "content": f"zqres{k}", **({"tool_call_id": PROBE_IDS[k]} if ids else {})}
               for k in range(n)]
    return [_u("zqask"), turn, *results, _a("zqfinal")]


def _common_prefix(a: list, b: list) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _end_of_turn(tokenizer, kw) -> tuple[str, dict]:
    """The tokens that follow an assistant turn both before the next user turn and at the end of the
    conversation (their common token prefix), without surrounding whitespace."""
    errors = {}
    try:
        two = render(tokenizer, [_u("zqu1"), _a("zqa1")], None, False, kw)
        three = render(tokenizer, [_u("zqu1"), _a("zqa1"), _u("zqu2")], None, False, kw)
    except TemplateError as e:
        return "", {"end_of_turn": str(e)}
    if "zqa1" not in two or "zqa1" not in three or "zqu2" not in three:
        return "", {"end_of_turn": "the template drops an assistant or user message's text"}
    at_end = two[two.index("zqa1") + 4:]
    before_user = three[three.index("zqa1") + 4: three.index("zqu2")]
    a = tokenizer(at_end, add_special_tokens=False)["input_ids"]
    b = tokenizer(before_user, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(a[:_common_prefix(a, b)]).strip(), errors


def _is_prefix(tokenizer, messages, kw, generation_prompt: bool) -> bool:
    full = render(tokenizer, messages, None, False, kw)
    for k in range(1, len(messages)):
        if generation_prompt and messages[k]["role"] != "assistant":
            continue
        if not full.startswith(render(tokenizer, messages[:k], None, generation_prompt, kw)):
            return False
    return True


def _tool_probe(tokenizer, kw, n_calls: int, errors: dict):
    """The first (arguments, ids, null content) form whose rendering shows every marker (else the first that
    renders at all), and its text; (None, "") if the template raises on every form."""
    first, last_error = None, ""
    for arguments in ("object", "string"):
        for ids in (False, True):
            for content in (None, ""):
                try:
                    text = render(tokenizer, _call_turn(n_calls, arguments, ids, content), [TOOL], False, kw)
                except TemplateError as e:
                    last_error = str(e)
                    continue
                if all(f"zqval{k}" in text and f"zqres{k}" in text for k in range(n_calls)):
                    return (arguments, ids, content), text
                first = first or ((arguments, ids, content), text)
    if first is None:
        errors[f"tools_{n_calls}"] = last_error
        return None, ""
    return first


def probe_template(tokenizer) -> TemplateProbe:
    template = tokenizer.chat_template or ""
    key = hashlib.sha256(json.dumps([template, tokenizer.special_tokens_map], sort_keys=True).encode()).hexdigest()
    if key in _CACHE:
        return _CACHE[key]
    kw = template_kwargs(tokenizer)
    errors: dict[str, str] = {}
    end_of_turn, errors_eot = _end_of_turn(tokenizer, kw)
    errors.update(errors_eot)
    try:
        system = "zqsys" in render(tokenizer, [{"role": "system", "content": "zqsys"}, _u("zqu1")], None, True, kw)
    except TemplateError as e:
        errors["system"] = str(e)
        system = False
    reasoned = [_u("zqu1"), _a("<think>\nzqr1\n</think>\n\nzqa1"), _u("zqu2"), _a("<think>\nzqr2\n</think>\n\nzqa2"),
                _u("zqu3"), _a("zqa3")]
    if system:  # templates that move the system message (e.g. to the last user turn) are not prefix-stable
        reasoned.insert(0, {"role": "system", "content": "zqsys"})
    try:
        prefix_stable = _is_prefix(tokenizer, reasoned, kw, False)
        prompt_in_history = _is_prefix(tokenizer, reasoned, kw, True)
        reasoning_in_history = "zqr1" in render(tokenizer, reasoned, None, False, kw)
    except TemplateError as e:
        errors["prefix"] = str(e)
        prefix_stable = prompt_in_history = reasoning_in_history = False
    form, text = _tool_probe(tokenizer, kw, 1, errors)
    arguments, ids, content = form or ("object", False, None)
    parallel_form, parallel_text = _tool_probe(tokenizer, kw, 2, errors)
    probe = TemplateProbe(
        markers=has_generation_markers(tokenizer), prefix_stable=prefix_stable,
        generation_prompt_in_history=prompt_in_history, reasoning_in_history=reasoning_in_history,
        end_of_turn=end_of_turn, system=system, tools="zqdesc" in text, tool_calls="zqval0" in text,
        tool_results="zqres0" in text and "zqfinal" in text,
        parallel_calls=parallel_form is not None and all(m in parallel_text for m in ("zqval0", "zqval1", "zqres1")),
        arguments=arguments, call_ids="alnum9" if ids else "any", null_content="empty" if content == "" else "as_is",
        errors=errors,
    )
    _CACHE[key] = probe
    return probe
