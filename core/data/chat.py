"""Record -> token ids + labels through the tokenizer's own chat template.

Which tokens are trained is decided per message:
  mask="all"    every assistant message
  mask="last"   only the last assistant message
  mask="prompt" every token, prompts and template included (pretraining-style)
and a message's own ``"train": true|false`` overrides the mode for that message.

Assistant spans come from the template's ``{% generation %}`` markers when it has them, and otherwise
from rendering prefixes: the assistant span of message i is what ``messages[:i+1]`` adds to
``messages[:i]`` rendered with the generation prompt, without trailing whitespace. No token patterns
are guessed. A flagged non-assistant message (and, in "prompt" mode, a message flagged false) covers what
``messages[:i+1]`` adds to ``messages[:i]``; for messages[0], only its own text, not what the template
emits before it (a tools block, a default system prompt). The end-of-turn token of every trained assistant
message must be trained.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

IGNORE_INDEX = -100
MASK_MODES = ("all", "last", "prompt")
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


class RenderError(ValueError):
    """A record the chat template cannot render into a trainable sample; the message names the sample.
    `reason` is a short stable key for counting failures by kind."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # raised in dataset.map worker processes, so it must survive pickling
        return type(self), (str(self), self.reason)


@dataclass
class RenderedSample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where not trained; not shifted
    task_type: str
    sample_id: str = ""

    @property
    def num_trained(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)

    def __len__(self) -> int:
        return len(self.input_ids)


def has_generation_markers(tokenizer) -> bool:
    return bool(tokenizer.chat_template and _GENERATION_TAG.search(tokenizer.chat_template))


class _Renderer:
    """Renders prefixes of one record and checks that each is a prefix of the whole rendering."""

    def __init__(self, tokenizer, messages: list[dict], tools, sample_id: str):
        self.tokenizer, self.messages, self.tools, self.sample_id = tokenizer, messages, tools, sample_id
        self.full = self.text(len(messages))

    def text(self, n: int, generation_prompt: bool = False) -> str:
        if n == 0 and not generation_prompt:
            return ""
        return self.tokenizer.apply_chat_template(
            self.messages[:n], tools=self.tools, tokenize=False, add_generation_prompt=generation_prompt
        )

    def end(self, n: int, generation_prompt: bool = False) -> int:
        prefix = self.text(n, generation_prompt)
        if not self.full.startswith(prefix):
            raise RenderError(
                f"{self.sample_id}: the chat template is not prefix-stable at messages[{n}] "
                "(rendering a prefix of the conversation is not a prefix of the full rendering); "
                "add {% generation %} markers to the template",
                "not_prefix_stable",
            )
        return len(prefix)

    def message_span(self, i: int) -> tuple[int, int]:
        return (self.end(i) if i else self.first_message_start()), self.end(i + 1)

    def first_message_start(self) -> int:
        """Where messages[0]'s own text starts: after what the template emits before it (a tools block, a
        default system prompt, a BOS). transformers refuses to render an empty conversation, so this
        renders messages[0] repeated (after an assistant turn, for templates that insist on alternating
        roles): the repeat's text R is what messages[0] renders to, and the single rendering must end in R."""
        first = self.messages[0]
        one = self.end(1)
        for probe in ([first, first], [first, {"role": "assistant", "content": "ok"}, first]):
            try:
                whole = self._render(probe)
                before = self._render(probe[:-1])
            except Exception:  # the template rejects the probe (e.g. a role order it forbids)
                continue
            own = whole[len(before):] if whole.startswith(before) else None
            if own and before.startswith(self.full[:one]) and self.full[:one].endswith(own):
                return one - len(own)
        if first["role"] == "system":
            # The template merges the system message with what surrounds it (e.g. its content inside the
            # tools block), so the whole block is its text.
            return 0
        raise RenderError(
            f"{self.sample_id}: cannot tell where messages[0] starts in the rendering (the template renders it "
            'differently when repeated), so its "train" flag cannot be applied',
            "first_message_start",
        )

    def _render(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tools=self.tools, tokenize=False)

    def assistant_span(self, i: int) -> tuple[int, int]:
        start, stop = self.end(i, generation_prompt=True), self.end(i + 1)
        stop = start + len(self.full[start:stop].rstrip())
        return start, stop


def _assistant_token_runs(tokenizer, messages, tools, n_assistant: int, sample_id: str) -> list[tuple[int, int]]:
    out = tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    mask = list(out["assistant_masks"])
    runs, start = [], None
    for j, m in enumerate([*mask, 0]):
        if m and start is None:
            start = j
        elif not m and start is not None:
            runs.append((start, j))
            start = None
    if len(runs) != n_assistant:
        raise RenderError(
            f"{sample_id}: the template's generation markers give {len(runs)} assistant spans "
            f"for {n_assistant} assistant messages",
            "marker_mismatch",
        )
    return runs


def render_record(
    record: dict,
    tokenizer,
    mask: str = "all",
    sample_id: str = "",
    end_of_turn_token: str | None = None,
    use_generation_markers: bool | None = None,
) -> RenderedSample:
    if mask not in MASK_MODES:
        raise ValueError(f"mask must be one of {MASK_MODES}, got {mask!r}")
    messages, tools = record["messages"], record.get("tools") or None
    task_type = record.get("task_type", "")
    sample_id = sample_id or f"sample ({task_type})"
    renderer = _Renderer(tokenizer, messages, tools, sample_id)
    encoding = tokenizer(renderer.full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    starts = [s for s, _ in offsets]

    def tokens_in(span: tuple[int, int]) -> range:
        """Tokens whose first character lies in the character span."""
        return range(bisect_left(starts, span[0]), bisect_left(starts, span[1]))

    assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if use_generation_markers is None:
        use_generation_markers = has_generation_markers(tokenizer)
    if use_generation_markers:
        runs = _assistant_token_runs(tokenizer, messages, tools, len(assistant), sample_id)
        assistant_tokens = {i: range(*run) for i, run in zip(assistant, runs)}
    else:
        assistant_tokens = {i: tokens_in(renderer.assistant_span(i)) for i in assistant}

    def default_trained(i: int) -> bool:
        if mask == "prompt":
            return True
        if mask == "last":
            return i == assistant[-1]
        return messages[i]["role"] == "assistant"

    trained = [mask == "prompt"] * len(input_ids)
    for i, message in enumerate(messages):
        flag = message.get("train", default_trained(i))
        if mask == "prompt":
            if not flag:
                for j in tokens_in(renderer.message_span(i)):
                    trained[j] = False
        elif message["role"] == "assistant":
            for j in assistant_tokens[i]:
                trained[j] = flag
        elif flag:
            for j in tokens_in(renderer.message_span(i)):
                trained[j] = True

    labels = [t if keep else IGNORE_INDEX for t, keep in zip(input_ids, trained)]
    sample = RenderedSample(input_ids=list(input_ids), labels=labels, task_type=task_type, sample_id=sample_id)
    if sample.num_trained == 0:
        raise RenderError(f"{sample_id}: no token is trained under mask {mask!r}", "nothing_trained")
    eot = end_of_turn_token or tokenizer.eos_token
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    for i in assistant:
        tokens = assistant_tokens[i]
        if any(trained[j] for j in tokens) and not any(trained[j] and input_ids[j] == eot_id for j in tokens):
            raise RenderError(f"{sample_id}: messages[{i}] is trained but its end-of-turn token {eot!r} is not",
                              "untrained_end_of_turn")
    return sample
