"""Record -> token ids + labels through the tokenizer's own chat template.

Which tokens are trained is decided per message:
  mask="all"    every assistant message
  mask="last"   only the last assistant message
  mask="prompt" every token, prompts and template included (pretraining-style)
and a message's own ``"train": true|false`` overrides the mode for that message.

The template is probed once (core.data.template_probe); the record is adapted to what the template
demands (core.data.adapt, counted by kind); a strategy (core.data.spans: generation markers, prefix
rendering, or one sample per trained turn for templates that rewrite history) gives the text and the
character spans to train (lay_out), and one encode gives the labels (encode_laid_out: one batched call for
many records; token offsets from the tokenizer, or from the byte lengths of a byte-level vocabulary,
core.data.byte_offsets). No token patterns are guessed.
Every trained assistant span ends with the template's end-of-turn text (for a template with none, the
eos token is appended, as LLaMA-Factory does). A flagged non-assistant message (and, in "prompt" mode, a
message flagged false) covers what ``messages[:i+1]`` adds to ``messages[:i]``; for messages[0], only its
own text, not what the template emits before it (a tools block, a default system prompt).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from core.data import byte_offsets
from core.data.adapt import RenderError, RenderPolicy, adapt_record
from core.data.spans import Layout, Renderer, markers_layout, per_turn_layouts, prefix_layout
from core.data.template_probe import TemplateProbe, has_generation_markers, probe_template

__all__ = ["IGNORE_INDEX", "MASK_MODES", "LaidOut", "RenderError", "RenderPolicy", "RenderedSample",
           "encode_laid_out", "has_generation_markers", "lay_out", "render_record", "render_samples"]

IGNORE_INDEX = -100
MASK_MODES = ("all", "last", "prompt")
_THINK_END = "</think>"


@dataclass
class RenderedSample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where not trained; not shifted
    task_type: str
    sample_id: str = ""
    strategy: str = ""  # which rendering strategy produced it
    adaptations: dict[str, int] = field(default_factory=dict)  # record adaptations by kind (core.data.adapt)

    @property
    def num_trained(self) -> int:
        return len(self.labels) - self.labels.count(IGNORE_INDEX)

    def __len__(self) -> int:
        return len(self.input_ids)


def _check_turn(layout: Layout, i: int, message: dict, sample_id: str) -> None:
    """Never train a turn whose call or answer the template dropped."""
    start, stop = layout.turns[i]
    text = layout.text[start:stop]
    for call in message.get("tool_calls") or []:
        name = call["function"]["name"]
        if name not in text:
            raise RenderError(f"{sample_id}: messages[{i}]: the chat template dropped the call to {name!r}; use "
                              "--data.tools fallback", "call_dropped")
    answer = (message.get("content") or "").split(_THINK_END)[-1].strip()
    if answer and answer not in text and " ".join(answer.split()) not in " ".join(text.split()):
        raise RenderError(f"{sample_id}: messages[{i}]: the chat template dropped the turn's text", "content_dropped")


def _offsets_array(offsets) -> np.ndarray:
    flat = np.fromiter(itertools.chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets))
    return flat.reshape(-1, 2)


# Token indices of character positions from a fast tokenizer's Encoding: a few char_to_token / token_to_chars
# calls per span instead of a Python pass over every token's offsets. Offsets are non-decreasing; None where
# the encoding cannot answer (a character no token covers).

def _first_starting_at(encoding, n: int, text_len: int, c: int) -> int | None:
    """The first token whose start is >= c."""
    if c >= text_len:
        return n
    t = encoding.char_to_token(c)
    if t is None:
        return None
    while t < n and encoding.token_to_chars(t)[0] < c:
        t += 1
    while t > 0 and encoding.token_to_chars(t - 1)[0] >= c:
        t -= 1
    return t


def _first_ending_after(encoding, n: int, text_len: int, c: int) -> int | None:
    """The first token whose end is > c."""
    if c >= text_len:
        return n
    t = encoding.char_to_token(c)
    if t is None:
        return None
    while t > 0 and encoding.token_to_chars(t - 1)[1] > c:
        t -= 1
    return t


def _span_labels(ids: list[int], starting_at, ending_after, trained_spans, untrained_spans, overlap_spans,
                 prompt_mode: bool):
    """Labels from token indices of character positions: starting_at(c) is the first token whose start is >= c,
    ending_after(c) the first whose end is > c (None where the encoding cannot tell)."""
    labels = list(ids) if prompt_mode else [IGNORE_INDEX] * len(ids)
    for spans, value in ((trained_spans, True), (untrained_spans, False)):
        for a, b in spans:  # tokens that start inside [a, b)
            j0, j1 = starting_at(a), starting_at(b)
            if j0 is None or j1 is None:
                return None
            labels[j0:j1] = ids[j0:j1] if value else [IGNORE_INDEX] * max(0, j1 - j0)
    for a, b in overlap_spans:  # markers: a token is trained when it overlaps a span
        j0, j1 = ending_after(a), starting_at(b)
        if j0 is None or j1 is None:
            return None
        labels[j0:j1] = ids[j0:j1]
    return ids, labels


def _encodings(texts: list[str], tokenizer, table) -> list:
    """One batched encode of the texts. Fast tokenizers are called through their Rust backend (the transformers
    wrapper costs as much as the encode itself), without offsets where the byte lengths of a byte-level
    vocabulary (`table`, core.data.byte_offsets) give them; others give (ids, offsets) pairs."""
    backend = byte_offsets.fast_backend(tokenizer)
    if backend is not None:
        if table is not None:
            return backend.encode_batch_fast(texts, add_special_tokens=False)
        return backend.encode_batch(texts, add_special_tokens=False)
    out = []
    for text in texts:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        out.append((list(encoding["input_ids"]), _offsets_array(encoding["offset_mapping"])))
    return out


def _labels(encoding, layout: Layout, trained_spans, untrained_spans, prompt_mode: bool, tokenizer, table):
    """Labels from where the spans' characters fall in the one encoding of the layout's text."""
    text = layout.text
    overlap_spans = layout.spans if layout.overlap else []
    where = (trained_spans, untrained_spans, overlap_spans, prompt_mode)
    if table is not None:
        ids = encoding.ids
        ends = byte_offsets.token_byte_ends(table, ids)
        if ends and ends[-1] == byte_offsets.byte_position(text, len(text)):
            return _span_labels(ids, partial(byte_offsets.first_starting_at, ends, text),
                                partial(byte_offsets.first_ending_after, ends, text), *where)
        encoding = byte_offsets.fast_backend(tokenizer).encode(text, add_special_tokens=False)  # with offsets
    if not isinstance(encoding, tuple):
        n = len(encoding)
        fast = _span_labels(encoding.ids, partial(_first_starting_at, encoding, n, len(text)),
                            partial(_first_ending_after, encoding, n, len(text)), *where)
        if fast is not None:
            return fast
        input_ids, offsets = list(encoding.ids), _offsets_array(encoding.offsets)
    else:
        input_ids, offsets = encoding
    starts, ends = offsets[:, 0], offsets[:, 1]
    trained = np.full(len(input_ids), prompt_mode, dtype=bool)
    for spans, value in ((trained_spans, True), (untrained_spans, False)):
        for a, b in spans:  # tokens that start inside [a, b)
            trained[np.searchsorted(starts, a, "left"):np.searchsorted(starts, b, "left")] = value
    for a, b in overlap_spans:
        trained |= (starts < b) & (ends > a)
    labels = np.where(trained, np.fromiter(input_ids, dtype=np.int64, count=len(input_ids)), IGNORE_INDEX).tolist()
    return input_ids, labels


def _strategy(policy: RenderPolicy, probe: TemplateProbe, use_generation_markers: bool | None) -> str:
    if use_generation_markers is not None:
        return "markers" if use_generation_markers else ("auto_no_markers" if policy.strategy in ("auto", "markers")
                                                         else policy.strategy)
    if policy.strategy == "auto":
        return "markers" if probe.markers else "auto_no_markers"
    return policy.strategy


@dataclass
class LaidOut:
    """A record rendered to text and character spans, waiting for its one encode per sample."""
    layouts: list[Layout]
    trained: list[list[tuple[int, int]]]  # per layout: the spans whose starting tokens are trained
    untrained: list[tuple[int, int]]
    mask: str
    task_type: str
    sample_id: str
    kinds: dict[str, int]


def lay_out(
    record: dict,
    tokenizer,
    mask: str = "all",
    sample_id: str = "",
    policy: RenderPolicy | None = None,
    probe: TemplateProbe | None = None,
    use_generation_markers: bool | None = None,
    template_kw: dict | None = None,
) -> LaidOut:
    """Everything of rendering a record but the encode: adaptation, the strategy's texts and spans, the checks
    that no trained turn lost its call, answer or end-of-turn text. `template_kw` (template_kwargs of the
    tokenizer) spares a caller that lays out many records computing it for each."""
    if mask not in MASK_MODES:
        raise ValueError(f"mask must be one of {MASK_MODES}, got {mask!r}")
    policy = policy or RenderPolicy()
    probe = probe or probe_template(tokenizer)
    task_type = record.get("task_type", "")
    sample_id = sample_id or f"sample ({task_type})"
    record, kinds = adapt_record(record, probe, policy, sample_id)
    messages, tools = record["messages"], record.get("tools") or None
    r = Renderer(tokenizer, messages, tools, sample_id, template_kw)
    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if mask == "all":  # a message's own "train" flag, else the mask's default for it
        flags = [m.get("train", m["role"] == "assistant") for m in messages]
    elif mask == "last":
        flags = [m.get("train", i == assistant[-1]) for i, m in enumerate(messages)]
    else:
        flags = [m.get("train", True) for m in messages]
    trained_turns = [i for i in assistant if flags[i]] if mask != "prompt" else []
    flagged = [i for i, m in enumerate(messages) if m["role"] != "assistant" and flags[i]] if mask != "prompt" else []
    eot = policy.end_of_turn or probe.end_of_turn or (tokenizer.eos_token or "")
    may_append = bool(policy.end_of_turn) or not probe.end_of_turn
    strategy = _strategy(policy, probe, use_generation_markers)
    layouts: list[Layout]
    untrained = []
    if mask == "prompt":
        layouts = [Layout(r.text(len(messages)), [], strategy="prompt")]
        untrained = [r.message_span(i) for i, m in enumerate(messages) if not flags[i]]
    elif strategy == "markers":
        layouts = [markers_layout(r, assistant, trained_turns)]
    elif strategy == "per_turn" or (strategy == "auto_no_markers" and not probe.prefix_stable):
        if flagged:
            raise RenderError(f"{sample_id}: messages[{flagged[0]}] is a flagged {messages[flagged[0]]['role']} message, "
                              "which the per_turn strategy cannot train; remove its train flag", "flag_unsupported")
        layouts = per_turn_layouts(r, trained_turns, eot, may_append)
    else:
        try:
            layouts = [prefix_layout(r, trained_turns, eot, may_append, assistant)]
        except RenderError as e:
            if e.reason != "not_prefix_stable" or strategy != "auto_no_markers" or flagged:
                raise
            layouts = per_turn_layouts(r, trained_turns, eot, may_append)
    trained = []
    for layout in layouts:
        for i in layout.turns:
            _check_turn(layout, i, messages[i], sample_id)
            if layout.strategy == "markers" and eot not in layout.text[slice(*layout.turns[i])]:
                raise RenderError(f"{sample_id}: messages[{i}] is trained but its end-of-turn token {eot!r} is not",
                                  "untrained_end_of_turn")
        extra = [tuple(map(layout.moved, r.message_span(i))) for i in flagged] if layout.strategy != "per_turn" else []
        trained.append(([] if layout.overlap else layout.spans) + extra)
    return LaidOut(layouts, trained, untrained, mask, task_type, sample_id, dict(kinds))


def encode_laid_out(laid_out: list[LaidOut], tokenizer) -> list[list[RenderedSample] | RenderError]:
    """The samples of each laid-out record (or the RenderError that nothing of it is trained), from one
    batched encode of all their texts."""
    table = byte_offsets.byte_lengths(tokenizer)
    encodings = iter(_encodings([layout.text for item in laid_out for layout in item.layouts], tokenizer, table))
    out = []
    for item in laid_out:
        samples = []
        for layout, trained in zip(item.layouts, item.trained):
            input_ids, labels = _labels(next(encodings), layout, trained, item.untrained, item.mask == "prompt",
                                        tokenizer, table)
            samples.append(RenderedSample(input_ids, labels, item.task_type, item.sample_id, layout.strategy,
                                          item.kinds))
        if not samples or not any(s.num_trained for s in samples):
            out.append(RenderError(f"{item.sample_id}: no token is trained under mask {item.mask!r}", "nothing_trained"))
        else:
            out.append(samples)
    return out


def render_samples(
    record: dict,
    tokenizer,
    mask: str = "all",
    sample_id: str = "",
    end_of_turn_token: str | None = None,
    use_generation_markers: bool | None = None,
    policy: RenderPolicy | None = None,
    probe: TemplateProbe | None = None,
) -> list[RenderedSample]:
    """The training samples of one record: one, or (strategy per_turn) one per trained assistant turn."""
    policy = policy or RenderPolicy()
    if end_of_turn_token:
        policy = replace(policy, end_of_turn=end_of_turn_token)
    (samples,) = encode_laid_out([lay_out(record, tokenizer, mask, sample_id, policy, probe, use_generation_markers)],
                                 tokenizer)
    if isinstance(samples, RenderError):
        raise samples
    return samples


def render_record(
    record: dict,
    tokenizer,
    mask: str = "all",
    sample_id: str = "",
    end_of_turn_token: str | None = None,
    use_generation_markers: bool | None = None,
    policy: RenderPolicy | None = None,
    probe: TemplateProbe | None = None,
) -> RenderedSample:
    """The one sample of a record; a per_turn record with several trained turns needs render_samples."""
    samples = render_samples(record, tokenizer, mask, sample_id, end_of_turn_token, use_generation_markers, policy,
                             probe)
    if len(samples) > 1:
        raise RenderError(f"{samples[0].sample_id}: the template rewrites history, so this record gives "
                          f"{len(samples)} samples (one per trained turn); use render_samples", "several_samples")
    return samples[0]

