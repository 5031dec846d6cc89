"""An independent check of trained spans (it never calls core.data.chat): each trained run of tokens must be
one assistant turn as the template itself renders it (raw transformers apply_chat_template), end with that
model's end-of-turn text, contain no prompt text, and start right after the turn's header."""

from __future__ import annotations

from core.data.chat import IGNORE_INDEX

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


def check_sample(input_ids, labels, tokenizer, eot: str, prompts: list[str], answers: list[list[str]],
                 leading_space: list[bool] | None = None) -> str | None:
    """None when every trained run is an exact assistant turn; else what is wrong. `prompts`: texts of
    non-assistant messages (never trained); `answers`: for each trained run in order, a text it must hold."""
    specials = set(tokenizer.all_special_tokens) | set(tokenizer.added_tokens_encoder)
    runs = trained_runs(input_ids, labels, tokenizer)
    if len(runs) != len(answers):
        return f"{len(runs)} trained runs for {len(answers)} trained turns"
    for k, ((start, _, text), answer) in enumerate(zip(runs, answers)):
        if not text.endswith(eot):
            return f"run {text[-40:]!r} does not end with the end of turn {eot!r}"
        if any(p and len(p) >= 6 and p in text for p in prompts):
            return f"run {text[:60]!r} trains prompt text"
        flat = " ".join(text.split())
        for needle in answer:
            if " ".join(needle.split()) not in flat:
                return f"run {text[:60]!r} misses {needle[:40]!r}"
        before = tokenizer.decode(input_ids[:start])
        first = tokenizer.convert_ids_to_tokens(input_ids[start])
        if first in specials and first not in ("<think>", "[TOOL_CALLS]", "<tool_call>", "<｜tool▁calls▁begin｜>",
                                               "<|python_tag|>", "</think>"):
            return f"run starts with the header token {first!r}"
        header_end = any(before.endswith(s) for s in specials)
        if (text[:1].isspace() and not (text[:1] == " " and not text[1:2].isspace())  # "[/INST] answer"
                and not header_end and not (leading_space and leading_space[k])):
            return f"run starts with whitespace: {text[:20]!r}"
        if before and not (before[-1].isspace() or any(before.endswith(s) for s in specials) or before.endswith(":")):
            return f"run starts inside text: ...{before[-20:]!r} | {text[:20]!r}"
    return None
