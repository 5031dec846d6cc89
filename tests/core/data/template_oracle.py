"""An independent check of trained spans (it never calls core.data.chat nor core's renderer): each trained
run of tokens must be exactly one assistant turn as the template itself serves it (raw transformers
apply_chat_template: what messages[:i+1] adds to the served prompt messages[:i] + generation prompt, through
the model's end-of-turn text), compared character by character, and must start at the turn's first token.

Token rule: a token belongs to a turn when it starts inside the turn's text. A token that straddles the
turn's start (BPE merging the header's newline with an answer's leading newlines) stays untrained."""

from __future__ import annotations

IGNORE_INDEX = -100  # the label of an untrained token (transformers' convention)

# file stem -> the end-of-turn text its model stops on (model cards' generation_config); GLM-4 has none in
# its template: core appends the eos token.
END_OF_TURN = {
    "Mistral-Small-3.2-24B-Instruct-2506": "</s>", "Qwen-Qwen2.5-7B-Instruct": "<|im_end|>",
    "Qwen-Qwen3-0.6B": "<|im_end|>", "THUDM-glm-4-9b-chat": "<|endoftext|>",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": "<｜end▁of▁sentence｜>",
    "deepseek-ai-DeepSeek-V3.1": "<｜end▁of▁sentence｜>", "google-gemma-2-2b-it": "<end_of_turn>",
    "google-gemma-3-it": "<end_of_turn>", "meta-llama-Llama-3.1-8B-Instruct": "<|eot_id|>",
    "meta-llama-Llama-3.2-3B-Instruct": "<|eot_id|>", "microsoft-Phi-3.5-mini-instruct": "<|end|>",
    "microsoft-phi-4": "<|im_end|>", "mistralai-Mistral-7B-Instruct-v0.3": "</s>",
    "mistralai-Mistral-Nemo-Instruct-2407": "</s>",
}


def _render(tokenizer, messages, tools, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False,
                                         add_generation_prompt=generation_prompt)


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


def turn_text(tokenizer, messages: list[dict], tools, i: int, eot: str) -> str:
    """The exact text assistant turn messages[i] must train: what the model, served the prompt messages[:i] +
    generation prompt, produces as the template renders it, through the first end-of-turn text (a template with
    none in it: the answer, then `eot` appended).

    When the served prompt is not a prefix of messages[:i+1]'s rendering, the turn's own text starts where that
    rendering parts from renderings with other answers ("zq", "Qz": two different first characters, so an answer
    that starts like one of them cannot move it), moved back over template text that follows the served prompt
    (Mistral's ' ' after '[/INST]'): R1 drops its '<think>\n' generation prompt from history (the turn follows
    what history keeps of it); Mistral moves the system message and tools (the turn follows where the served
    prompt's end lines up with the rendering)."""
    prompt, full = _render(tokenizer, messages[:i], tools, True), _render(tokenizer, messages[: i + 1], tools, False)
    if full.startswith(prompt):
        start = len(prompt)
    else:
        start = min(_common(full, _render(tokenizer, [*messages[:i], {"role": "assistant", "content": other}],
                                          tools, False)) for other in ("zq", "Qz"))
        history = _render(tokenizer, messages[:i], tools, False) if i else ""
        if not (full.startswith(history) and prompt.startswith(history)):
            start = max(range(max(0, start - 64), start + 1), key=lambda x: (_common_suffix(full[:x], prompt), x))
            assert _common_suffix(full[:start], prompt) >= min(8, len(prompt)), "the served prompt's end is not found"
    tail = full[start:]
    at = tail.find(eot)
    return tail[: at + len(eot)] if at >= 0 else tail.rstrip() + eot


def trained_runs(input_ids, labels, tokenizer) -> list[tuple[int, int, str]]:
    """(first token, end token, decoded text) of every maximal run of trained tokens."""
    runs, start = [], None
    for j, label in enumerate([*labels, IGNORE_INDEX]):
        if label != IGNORE_INDEX and start is None:
            start = j
        elif label == IGNORE_INDEX and start is not None:
            runs.append((start, j, tokenizer.decode(input_ids[start:j])))
            start = None
    return runs


def check_sample(input_ids, labels, tokenizer, expected: list[str], prompts: list[str] = (),
                 answers: list[list[str]] | None = None) -> str | None:
    """None when the trained runs are exactly the turns `expected` (turn_text of each trained turn, in order);
    else what is wrong. `prompts`: texts of non-assistant messages (never trained); `answers`: for each run, texts
    it must hold (the answer, every call's name), so the oracle's own turn text is checked against the record."""
    runs = trained_runs(input_ids, labels, tokenizer)
    if len(runs) != len(expected):
        return f"{len(runs)} trained runs for {len(expected)} trained turns"
    text = tokenizer.decode(input_ids)  # the sample's characters, with a token -> characters map from re-encoding
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoded["input_ids"]) != list(input_ids):
        return "the sample's ids are not the tokenisation of its own text"
    offsets = encoded["offset_mapping"]
    for k, (start, end, run) in enumerate(runs):
        want, first, stop = expected[k], offsets[start][0], offsets[end - 1][1]
        begin = stop - len(want)  # where the turn starts if the run ends where it does
        if begin < 0 or text[begin:stop] != want:
            same = _common_suffix(text[:stop], want)  # where, counted from the run's end, the two part
            return (f"run {k} is not its turn: ...{text[max(0, stop - same - 30):stop - same + 10]!r} where the turn "
                    f"has ...{want[max(0, len(want) - same - 30):len(want) - same + 10]!r}")
        if first < begin:
            return f"run {k} trains {text[first:begin][-40:]!r} before its turn {want[:40]!r}"
        if start > 0 and offsets[start - 1][0] >= begin:
            return f"run {k} starts late: its turn's {text[begin:first]!r} is not trained"
        if any(p and len(p) >= 6 and p in run for p in prompts):
            return f"run {k} {run[:60]!r} trains prompt text"
        flat = " ".join(run.split())
        for needle in (answers[k] if answers else []):
            if " ".join(needle.split()) not in flat:
                return f"run {k} {run[:60]!r} misses {needle[:40]!r}"
    return None


def perturbed(labels, input_ids) -> dict[str, list[int]]:
    """Negative controls a correct oracle must catch: the mask shifted one token later / earlier (nothing wraps
    around), the whole sample trained (prompt included), every run's last token (its end of turn) untrained."""
    trained = [label != IGNORE_INDEX for label in labels]

    def shifted(by):
        return [t if 0 <= j - by < len(trained) and trained[j - by] else IGNORE_INDEX for j, t in enumerate(input_ids)]

    last = {j for j, on in enumerate(trained) if on and (j + 1 == len(trained) or not trained[j + 1])}
    return {"shift+1": shifted(1), "shift-1": shifted(-1), "prompt_trained": list(input_ids),
            "no_end_of_turn": [IGNORE_INDEX if j in last else label for j, label in enumerate(labels)]}
