"""Loss compute against trained tokens: a model with Qwen's vocabulary (151,936) and a tiny hidden size, one
packed row of long-prompt / short-answer samples (RAG and long-context SFT: prompts of thousands of tokens,
answers of tens), one training step (forward + backward) timed and its peak memory measured, three ways:

  hf        the model's own loss, model(labels=...): full-vocabulary logits for every position, then CE
  all       sft-suites before: chunked, checkpointed CE over every position (token_losses(only_trained=False))
  trained   sft-suites now: only positions with a label reach the output projection and CE

Each (way, length) runs in a fresh process (peak RSS is the process's; torch.cuda.max_memory_allocated on
CUDA) under an address-space cap, so a way that needs more memory than the cap reports "out of memory"
instead of taking the machine down.

    python bench/bench_loss.py [--lengths 4096 16384] [--answer 32] [--prompt 2016] [--steps 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

VOCAB = 151_936
WAYS = ("hf", "all", "trained")
LABELS = {"hf": "HF default loss (model(labels=...))", "all": "sft-suites before (chunked CE, every position)",
          "trained": "sft-suites now (trained positions only)"}


def build_model(device: str, hidden: int):
    from core.model.attention import enable_packed_attention
    from core.model.loading import load_model

    model = load_model("tiny", seed=0, vocab_size=VOCAB, hidden_size=hidden, intermediate_size=4 * hidden,
                       num_attention_heads=4, num_key_value_heads=4, num_hidden_layers=2)
    enable_packed_attention(model)
    return model.to(device).train()


def packed_row(length: int, prompt: int, answer: int, seed: int = 0):
    """input_ids, unshifted labels, shifted targets, position ids and seq_lens of one packed row of samples of
    `prompt + answer` tokens (the last one cut to fit); only answers are trained."""
    g = torch.Generator().manual_seed(seed)
    ids, labels, positions, seq_lens = [], [], [], []
    while len(ids) < length:
        n = min(prompt + answer, length - len(ids))
        sample = torch.randint(10, VOCAB, (n,), generator=g).tolist()
        keep = max(1, n - answer)
        ids += sample
        labels += [-100] * keep + sample[keep:]
        positions += list(range(n))
        seq_lens.append(n)
    targets, off = [], 0
    for n in seq_lens:  # shift within each sample: the last token of a sample predicts nothing
        targets += labels[off + 1 : off + n] + [-100]
        off += n
    return ids, labels, targets, positions, seq_lens


def one_way(way: str, length: int, args) -> dict:
    from core.model.attention import packing_kwargs
    from core.train.loss import token_losses

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = build_model(device, args.hidden)
    ids, labels, targets, positions, seq_lens = packed_row(length, args.prompt, args.answer)
    input_ids = torch.tensor([ids], device=device)
    position_ids = torch.tensor([positions], device=device)
    kwargs = packing_kwargs(seq_lens, device)
    target_t = torch.tensor(targets, device=device)
    trained = int((target_t != -100).sum())

    def step() -> float:
        if way == "hf":
            # HF shifts labels over the whole flat row; -100 at every sample's first token keeps it per sample.
            flat = list(labels)
            for start in torch.tensor(seq_lens).cumsum(0)[:-1].tolist():
                flat[start] = -100
            loss = model(input_ids=input_ids, position_ids=position_ids, labels=torch.tensor([flat], device=device),
                         use_cache=False, **kwargs).loss
        else:
            hidden = model.get_decoder()(input_ids=input_ids, position_ids=position_ids, use_cache=False,
                                         **kwargs).last_hidden_state
            losses = token_losses(hidden[0], target_t, model.get_output_embeddings(), args.chunk,
                                  only_trained=way == "trained")
            loss = losses.sum() / max(trained, 1)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss)

    if device == "cuda":
        torch.cuda.synchronize()
    loss = step()  # warm-up (allocates gradients)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"seconds": statistics.median(times), "peak_bytes": peak, "loss": loss, "trained": trained,
            "device": device}


def run_child(way: str, length: int, args) -> dict:
    cmd = [sys.executable, __file__, "--only", way, "--lengths", str(length), "--prompt", str(args.prompt),
           "--answer", str(args.answer), "--steps", str(args.steps), "--hidden", str(args.hidden),
           "--chunk", str(args.chunk), "--cap-gb", str(args.cap_gb)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        oom = "memory" in done.stderr.lower() or done.returncode in (-9, 137)
        if oom:
            return {"error": f"out of memory (cap {args.cap_gb:g} GB)"}
        raise SystemExit(f"{way} at {length} failed:\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--prompt", type=int, default=2016, help="prompt tokens per sample")
    parser.add_argument("--answer", type=int, default=32, help="answer (trained) tokens per sample")
    parser.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up (median)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=2048, help="loss chunk size (core.train loss_chunk_size)")
    parser.add_argument("--cap-gb", type=float, default=14.0, help="address-space cap per run (CPU)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1024 tokens, one timed step")
    parser.add_argument("--only", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.steps, args.prompt, args.answer = [1024], 1, 480, 32
    if args.only:
        if not torch.cuda.is_available():
            cap = int(args.cap_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print("RESULT " + json.dumps(one_way(args.only, args.lengths[0], args)), flush=True)
        return
    print(f"vocab {VOCAB}, hidden {args.hidden}, 2 layers; samples of {args.prompt} prompt + {args.answer} answer "
          f"tokens packed into one row; {torch.get_num_threads()} threads; median of {args.steps} steps after a warm-up")
    rows = []
    for length in args.lengths:
        results = {way: run_child(way, length, args) for way in WAYS}
        base = results["trained"]
        for way in WAYS:
            r = results[way]
            if "error" in r:
                rows.append(f"{length:>6}  {LABELS[way]:<48} {r['error']}")
                continue
            ratio = r["seconds"] / base["seconds"]
            rows.append(f"{length:>6}  {LABELS[way]:<48} {r['seconds']:8.2f} s  {r['peak_bytes'] / 2**30:6.2f} GB"
                        f"  {ratio:5.1f}x time  loss {r['loss']:.4f}  ({r['trained']} trained tokens)")
        print("\n".join(rows[-len(WAYS):]), flush=True)
    print("\ntokens  way" + " " * 45 + "step time    peak     vs now")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
