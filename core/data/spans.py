"""Rendering strategies: each renders a record through the template and returns the text plus the character
spans to train, so that one encode with offsets gives the labels (no second tokenisation).

  markers   the template's {% generation %} blocks, from one rendering
  prefix    assistant turn i spans what messages[:i+1] adds to messages[:i] + generation prompt (one sample)
  per_turn  for templates that rewrite history (Qwen3 drops earlier reasoning, Phi-3.5 appends eos when not
            generating): one sample per trained turn, the conversation so far rendered with the generation
            prompt, then the template's rendering of that turn as the served model produces it
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.data.adapt import RenderError
from core.data.template_render import TemplateError, render, template_kwargs


@dataclass
class Layout:
    text: str
    spans: list[tuple[int, int]]  # trained character spans (assistant turns, flagged messages)
    overlap: bool = False  # a token is trained when it overlaps a span (markers) / when it starts in one
    strategy: str = "prefix"
    turns: dict[int, tuple[int, int]] = field(default_factory=dict)  # assistant message -> its span
    inserts: list[tuple[int, int]] = field(default_factory=list)  # (position in the rendering, length) appended

    def moved(self, pos: int) -> int:
        """A position of the template's rendering in this layout's text (after the appended texts)."""
        return pos + sum(n for at, n in self.inserts if at <= pos)


class Renderer:
    """Renders prefixes of one record, each once, and turns template exceptions into RenderErrors naming the
    message the template failed on."""

    def __init__(self, tokenizer, messages, tools, sample_id: str, kw: dict | None = None):
        self.tokenizer, self.messages, self.tools, self.sample_id = tokenizer, messages, tools, sample_id
        self.kw = template_kwargs(tokenizer) if kw is None else kw
        self._cache: dict[tuple[int, bool], str] = {}

    def render(self, messages: list[dict], generation_prompt: bool = False, generation_spans: bool = False):
        return render(self.tokenizer, messages, self.tools, generation_prompt, self.kw, generation_spans)

    def text(self, n: int, generation_prompt: bool = False) -> str:
        if n == 0 and not generation_prompt:
            return ""
        key = (n, generation_prompt)
        if key not in self._cache:
            try:
                self._cache[key] = self.render(self.messages[:n], generation_prompt)
            except TemplateError as e:
                raise self.error(e) from None
        return self._cache[key]

    def error(self, e: TemplateError) -> RenderError:
        bad = len(self.messages) - 1
        for k in range(1, len(self.messages) + 1):
            try:
                self.render(self.messages[:k])
            except TemplateError:
                bad = k - 1
                break
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        return RenderError(f"{self.sample_id}: messages[{bad}]: the chat template raised: {message}", "template_error")

    def not_stable(self, n: int) -> RenderError:
        return RenderError(
            f"{self.sample_id}: the chat template is not prefix-stable at messages[{n}] (rendering a prefix of "
            "the conversation is not a prefix of the full rendering); use --data.template_strategy per_turn or "
            "add {% generation %} markers to the template", "not_prefix_stable")

    def end(self, n: int, generation_prompt: bool = False) -> int:
        prefix, full = self.text(n, generation_prompt), self.text(len(self.messages))
        if not full.startswith(prefix):
            raise self.not_stable(n)
        return len(prefix)

    def first_message_start(self) -> int:
        """Where messages[0]'s own text starts: after what the template emits before it (a tools block, a
        default system prompt, a BOS). Renders messages[0] repeated (after an assistant turn, for templates
        that insist on alternating roles): the repeat's text R is what messages[0] renders to."""
        first, full = self.messages[0], self.text(len(self.messages))
        one = self.end(1)
        for probe in ([first, first], [first, {"role": "assistant", "content": "ok"}, first]):
            try:
                whole = self.render(probe)
                before = self.render(probe[:-1])
            except TemplateError:  # the template rejects the probe (e.g. a role order it forbids)
                continue
            own = whole[len(before):] if whole.startswith(before) else None
            if own and before.startswith(full[:one]) and full[:one].endswith(own):
                return one - len(own)
        if first["role"] == "system":
            return 0  # merged with what surrounds it (e.g. inside the tools block): the whole block is its text
        raise RenderError(
            f"{self.sample_id}: cannot tell where messages[0] starts in the rendering (the template renders it "
            'differently when repeated), so its "train" flag cannot be applied', "first_message_start")

    def message_span(self, i: int) -> tuple[int, int]:
        return (self.end(i) if i else self.first_message_start()), self.end(i + 1)

    def turn_start(self, i: int, full: str) -> int:
        """Where assistant turn i starts in `full`: after the generation prompt, or (a template whose generation
        prompt is not in its history, e.g. R1 distills' '<think>\\n') where the two part."""
        prompt = self.text(i, generation_prompt=True)
        if full.startswith(prompt):
            return len(prompt)
        history = self.end(i)  # the conversation so far must render as a prefix without the generation prompt
        n = _boundary(self.tokenizer, prompt, _common(prompt, full))
        if n < history:
            raise self.not_stable(i)
        return n


def close_turn(text: str, start: int, stop: int, eot: str, may_append: bool, where: str) -> tuple[int, str]:
    """The span's end after its end-of-turn text, and the text to insert there ("" if none): the span is cut
    after the last end-of-turn text in it (what follows, e.g. an eos appended when not generating, is not
    part of the turn); else it takes the end-of-turn text that follows it; else that text is appended; else
    (nothing to append) the turn, named by `where`, cannot be trained: RenderError."""
    stop = start + len(text[start:stop].rstrip())
    at = text.rfind(eot, start, stop) if eot else -1
    if at >= 0:
        return at + len(eot), ""
    if eot and text.startswith(eot, stop):
        return stop + len(eot), ""
    if may_append and eot:
        return stop, eot
    raise RenderError(f"{where} is trained but its end-of-turn text {eot!r} is not in its rendering; pass it with "
                      "--data.end_of_turn", "untrained_end_of_turn")


def prefix_layout(r: Renderer, trained: list[int], eot: str, may_append: bool, all_turns: list[int]) -> Layout:
    full = r.text(len(r.messages))
    spans, inserts = {}, {}
    for i in (all_turns if may_append else trained):
        start = r.turn_start(i, full)
        stop, insert = close_turn(full, start, r.end(i + 1), eot, may_append, f"{r.sample_id}: messages[{i}]")
        spans[i], inserts[i] = (start, stop), insert
    return _with_inserts(full, spans, inserts, trained, "prefix")


def per_turn_layouts(r: Renderer, trained: list[int], eot: str, may_append: bool) -> list[Layout]:
    out = []
    for i in trained:
        text, start = _served(r, i)
        stop, insert = close_turn(text, start, len(text), eot, may_append, f"{r.sample_id}: messages[{i}]")
        out.append(_with_inserts(text, {i: (start, stop)}, {i: insert}, [i], "per_turn"))
    return out


def _common(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _boundary(tokenizer, prompt: str, n: int) -> int:
    """n moved back to the start of the prompt's token it falls in ('<think>' and '<|call|>' share a '<')."""
    starts = [s for s, _ in tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    return max([s for s in starts if s <= n], default=n)


def _served(r: Renderer, i: int) -> tuple[str, int]:
    """Sample text for turn i and where the turn starts in it. messages[:i+1] rendered, when the served prompt
    (messages[:i] + generation prompt) is its prefix, or where the two part (a generation prompt not kept in
    history, e.g. R1 distills' '<think>\n'). A template that renders the conversation before the turn
    differently once the turn follows (Mistral moves the system message and tools to the last user turn):
    the served prompt + the turn as the template renders it."""
    text, prompt = r.text(i + 1), r.text(i, generation_prompt=True)
    if text.startswith(prompt):
        return text, len(prompt)
    n = _boundary(r.tokenizer, prompt, _common(prompt, text))
    try:
        other = r.render([*r.messages[:i], {"role": "assistant", "content": "zq"}])
    except TemplateError:
        return text, n
    turn = _boundary(r.tokenizer, text, _common(text, other))
    if n >= turn:
        return text, n
    # back to where the served prompt's end lines up in the rendering: template text between the last message
    # and the answer (Mistral's ' ' after '[/INST]', its own token before a digit or CJK) is the turn's
    turn = max(range(max(0, turn - 64), turn + 1), key=lambda x: (_common_suffix(text[:x], prompt), x))
    return prompt + text[turn:], len(prompt)


def _with_inserts(text: str, spans: dict, inserts: dict, trained: list[int], strategy: str) -> Layout:
    """Insert appended end-of-turn texts (templates with none) and shift the spans after them."""
    pieces, shift, pos, shifted = [], 0, 0, {}
    for i in sorted(spans, key=lambda k: spans[k][1]):
        start, stop = spans[i]
        pieces.append(text[pos:stop] + inserts[i])
        shifted[i] = (start + shift, stop + shift + len(inserts[i]))
        shift += len(inserts[i])
        pos = stop
    pieces.append(text[pos:])
    return Layout("".join(pieces), [shifted[i] for i in trained], strategy=strategy,
                  turns={i: shifted[i] for i in trained},
                  inserts=[(spans[i][1], len(inserts[i])) for i in spans if inserts[i]])


def markers_layout(r: Renderer, assistant: list[int], trained: list[int]) -> Layout:
    try:
        text, generation = r.render(r.messages, generation_spans=True)
    except TemplateError as e:
        raise r.error(e) from None
    r._cache[(len(r.messages), False)] = text
    if len(generation) != len(assistant):
        raise RenderError(f"{r.sample_id}: the template's generation markers give {len(generation)} assistant spans "
                          f"for {len(assistant)} assistant messages", "marker_mismatch")
    turns = dict(zip(assistant, generation))
    return Layout(text, [turns[i] for i in trained], overlap=True, strategy="markers",
                  turns={i: turns[i] for i in trained})
