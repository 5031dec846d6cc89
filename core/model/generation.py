"""Batched reply generation for evaluation: prompts are records whose messages stop before the reply."""

from __future__ import annotations

import contextlib

import torch
from tqdm import tqdm

PACKED_ATTENTION = "sft_packed"


@contextlib.contextmanager
def inference_attention(model):
    """Generation runs on sdpa with a KV cache; the packed training attention is restored afterwards."""
    current = model.config._attn_implementation
    if current.startswith(PACKED_ATTENTION):
        model.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        if current != model.config._attn_implementation:
            model.set_attn_implementation(current)


def prompt_ids(tokenizer, prompt: dict) -> list[int]:
    text = tokenizer.apply_chat_template(
        prompt["messages"], tools=prompt.get("tools") or None, tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def decode_reply(tokenizer, ids: list[int]) -> str:
    """Decode up to (not including) the first end-of-turn token; special tokens such as <tool_call> stay."""
    stop = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    cut = next((j for j, t in enumerate(ids) if t in stop), len(ids))
    return tokenizer.decode(ids[:cut], skip_special_tokens=False)


@torch.no_grad()
def generate_replies(
    model,
    tokenizer,
    prompts: list[dict],
    max_new_tokens: int = 128,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_samples: int = 1,
    batch_size: int = 8,
    seed: int = 0,
    progress: bool = True,
) -> list[list[str]]:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    # Longest first keeps padding low; results are put back in the caller's order.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    replies: list[list[str]] = [[] for _ in prompts]
    pad = tokenizer.pad_token_id
    with inference_attention(model), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for b in tqdm(range(0, len(order), batch_size), desc="generate", disable=not progress, leave=False):
            idx = order[b : b + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):  # left padding
                ids[r, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                mask[r, width - len(encoded[i]) :] = 1
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                temperature=temperature if do_sample else None,
                top_p=top_p if do_sample else None,
                top_k=None,
                num_return_sequences=num_samples,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=pad,
                use_cache=True,
            )
            new = out[:, width:].tolist()
            for r, i in enumerate(idx):
                for s in range(num_samples):
                    replies[i].append(decode_reply(tokenizer, new[r * num_samples + s]))
    model.train(was_training)
    return replies
