"""The GPU check (run by bench/gpu_check.sh): on one CUDA device, in a few minutes,

  1. packed attention (flash-attn varlen when installed, else torch sdpa per segment) against the per-segment
     fp32 reference: max abs difference, forward and gradient;
  2. a training step (forward, backward, AdamW) of a 1.5B-shape model (the Qwen2.5-1.5B config, random init,
     bf16) on packed rows of 4K and 16K tokens through the trainer's own forward/loss path: tokens/s, MFU,
     peak memory;
  3. the longest packed row one step fits in memory, without and with gradient checkpointing;

and prints one table. `--dry-run` runs the same code on the CPU with tiny shapes (fp32), so a test keeps it
working on machines without a GPU.

    python bench/gpu_check.py [--dry-run] [--lengths 4096 16384] [--budget-s 300]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Qwen2.5-1.5B (config.json of Qwen/Qwen2.5-1.5B), built from this dict: nothing is downloaded.
QWEN25_15B = {"vocab_size": 151936, "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
              "num_attention_heads": 12, "num_key_value_heads": 2, "max_position_embeddings": 131072,
              "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "hidden_act": "silu",
              "attention_dropout": 0.0, "use_cache": False}
# The same architecture at toy size, for --dry-run.
DRY = {**QWEN25_15B, "vocab_size": 1024, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2}
# Dense bf16 peak of the chip (spec sheet), for MFU.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "A800": 312.0, "L40S": 362.0,
               "B200": 2250.0}
SEGMENT = 4096  # sample length inside packed rows (a row of 16K holds four samples)


@dataclass
class Row:
    name: str
    value: str
    note: str = ""


def build_model(config: dict, device: str, dtype: torch.dtype, checkpointing: bool):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from core.model.attention import enable_packed_attention

    cfg = Qwen2Config(**{k: v for k, v in config.items() if k != "rope_theta"})
    cfg.rope_parameters = {"rope_type": "default", "rope_theta": config["rope_theta"]}
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg).to(dtype)
    enable_packed_attention(model)
    if checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.train()


def micro_batch(length: int, vocab: int, device: str, segment: int = SEGMENT, seed: int = 0):
    """One packed row of `length` tokens: samples of `segment` tokens (the last one shorter), every next token
    trained (the usual MFU convention), through the trainer's MicroBatch."""
    from core.model.attention import packing_kwargs
    from core.train.batching import MicroBatch

    g = torch.Generator().manual_seed(seed)
    seq_lens = [segment] * (length // segment) + ([length % segment] if length % segment else [])
    ids = torch.randint(0, vocab, (length,), generator=g)
    targets = torch.cat([torch.cat([ids[s + 1 : s + n], torch.tensor([-100])])
                         for s, n in zip([0, *torch.tensor(seq_lens).cumsum(0)[:-1].tolist()], seq_lens)])
    positions = torch.cat([torch.arange(n) for n in seq_lens])
    trained = targets != -100
    return MicroBatch(input_ids=ids[None].to(device), position_ids=positions[None].to(device),
                      targets=targets.to(device), weights=(trained.float() / trained.sum()).to(device),
                      channels=torch.zeros(length, dtype=torch.long, device=device), trained=trained.to(device),
                      attention_kwargs=packing_kwargs(seq_lens, device), sample_ids=[], tokens=length), seq_lens


def step_flops(config: dict, n_params_non_embedding: int, seq_lens: list[int], trained: int) -> float:
    """Model FLOPs of one training step: 6 N per token (non-embedding weights), 6 V H per trained token (the
    output projection), causal attention per segment (QK^T and PV: 2 x 2 H s^2 / 2 per layer forward, x3)."""
    tokens = sum(seq_lens)
    attention = 6 * config["num_hidden_layers"] * config["hidden_size"] * sum(s * s for s in seq_lens)
    return 6 * n_params_non_embedding * tokens + 6 * config["vocab_size"] * config["hidden_size"] * trained + attention


def check_attention(device: str, dtype: torch.dtype, dry: bool) -> tuple[list[Row], str]:
    """Packed attention over several segments against per-segment sdpa in fp32 (forward and dq)."""
    from core.model.attention import packed_attention_forward
    from core.model.kernels import flash_attn_varlen_func, flash_kernel_applies

    g = torch.Generator(device="cpu").manual_seed(0)
    heads, kv, dim = (4, 2, 16) if dry else (12, 2, 128)
    seq_lens = [37, 300, 5, 170] if dry else [1000, 3000, 17, 4096, 77]
    total = sum(seq_lens)
    q, k, v = (torch.randn(1, h, total, dim, generator=g).to(device, dtype) for h in (heads, kv, kv))
    q.requires_grad_(True)
    from core.model.attention import packing_kwargs

    kwargs = packing_kwargs(seq_lens, device)
    out, _ = packed_attention_forward(None, q, k, v, None, scaling=dim**-0.5, **kwargs)
    out.float().square().sum().backward()
    ref_q = q.detach().float().requires_grad_(True)
    pieces, start = [], 0
    for n in seq_lens:
        sl = slice(start, start + n)
        pieces.append(F.scaled_dot_product_attention(ref_q[:, :, sl], k.float()[:, :, sl], v.float()[:, :, sl],
                                                     is_causal=True, scale=dim**-0.5, enable_gqa=True))
        start += n
    ref = torch.cat(pieces, 2).transpose(1, 2)
    ref.square().sum().backward()
    kernel = ("flash-attn varlen" if flash_kernel_applies(q, flash_attn_varlen_func is not None)
              else "torch sdpa per segment")
    if kernel.startswith("torch") and device == "cuda":
        enabled = [name for name, on in (("flash", torch.backends.cuda.flash_sdp_enabled()),
                                         ("cuDNN", torch.backends.cuda.cudnn_sdp_enabled()),
                                         ("mem-efficient", torch.backends.cuda.mem_efficient_sdp_enabled())) if on]
        kernel += f" (torch picks among {'/'.join(enabled)})"
    fwd = (out.float() - ref).abs().max().item()
    grad = (q.grad.float() - ref_q.grad).abs().max().item()
    scale = ref_q.grad.abs().max().item()
    rows = [Row("attention kernel", kernel),
            Row("packed vs per-segment fp32: max |out diff|", f"{fwd:.2e}", f"{len(seq_lens)} segments, {total} tokens, {dtype}"),
            Row("packed vs per-segment fp32: max |dq diff|", f"{grad:.2e}", f"max |dq| {scale:.2e}")]
    return rows, kernel


def train_steps(model, optimizer, batch, steps: int, device: str) -> tuple[float, int, float]:
    """Warm-up step, then `steps` timed ones: (seconds per step, peak bytes, last loss)."""
    from core.train.batching import forward_token_losses
    from core.train.loss import weighted_loss

    def one() -> float:
        loss = weighted_loss(forward_token_losses(model, batch, 2048), batch.weights)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    loss = one()
    sync(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        loss = one()
    sync(device)
    seconds = (time.perf_counter() - start) / max(steps, 1)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else peak_rss()
    return seconds, peak, loss


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def search_longest(fits, start: int, limit: int, deadline: float, step: int, refine: int = 3) -> tuple[int, str]:
    """Longest length `fits(length)` accepts: double from `start` up to `limit`, then bisect (`refine` times, in
    multiples of `step`) between the last length that fitted and the first that did not. Returns (length, why
    the search stopped); 0 when even `start` did not fit."""
    best, failed, length, why = 0, None, start, f"reached the search limit {limit:,}"
    while length <= limit:
        if time.time() > deadline:
            return best, "time budget spent"
        if not fits(length):
            failed, why = length, f"{length:,} ran out of memory"
            break
        best, length = length, length * 2
    for _ in range(refine if failed and best else 0):
        mid = (best + failed) // 2 // step * step
        if mid in (best, failed) or time.time() > deadline:
            break
        if fits(mid):
            best = mid
        else:
            failed = mid
    if failed and best:
        why = f"{failed:,} ran out of memory"
    return best, why


def longest_row(config: dict, device: str, dtype: torch.dtype, checkpointing: bool, start: int, limit: int,
                deadline: float) -> tuple[int, str]:
    """The longest packed row one training step fits in memory (see search_longest)."""
    model = build_model(config, device, dtype, checkpointing)
    held = {"model": model, "optimizer": torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=True)}
    del model

    def fits(length: int) -> bool:
        batch, _ = micro_batch(length, config["vocab_size"], device)
        try:
            train_steps(held["model"], held["optimizer"], batch, 0, device)
            return True
        except (RuntimeError, MemoryError) as error:
            if not is_oom(error):
                raise
            return False
        finally:
            del batch
            held["optimizer"].zero_grad(set_to_none=True)
            if device == "cuda":
                torch.cuda.empty_cache()

    result = search_longest(fits, start, limit, deadline, step=SEGMENT if device == "cuda" else 128)
    held.clear()
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, fp32: the same code paths")
    parser.add_argument("--lengths", type=int, nargs="+", default=None, help="packed row lengths to time")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per length")
    parser.add_argument("--budget-s", type=float, default=300.0, help="stop the longest-row search after this")
    parser.add_argument("--limit", type=int, default=None, help="longest row the search tries (default 1M; dry 1024)")
    args = parser.parse_args(argv)
    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run for the CPU check")
    device, dtype = ("cpu", torch.float32) if dry else ("cuda", torch.bfloat16)
    config = DRY if dry else QWEN25_15B
    lengths = args.lengths or ([256, 512] if dry else [4096, 16384])
    steps = args.steps or (1 if dry else 3)
    started = time.time()
    rows = [Row("device", torch.cuda.get_device_name() if device == "cuda" else "cpu (dry run, tiny shapes, fp32)"),
            Row("torch", torch.__version__, f"CUDA {torch.version.cuda}" if device == "cuda" else "")]
    try:
        import flash_attn

        rows.append(Row("flash-attn", flash_attn.__version__))
    except ImportError:
        rows.append(Row("flash-attn", "not installed", "torch's own sdpa kernels serve packed attention"))
    attention_rows, _ = check_attention(device, dtype, dry)
    rows += attention_rows

    name = torch.cuda.get_device_name() if device == "cuda" else ""
    peak_tflops = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    model = build_model(config, device, dtype, checkpointing=False)
    embedding = config["vocab_size"] * config["hidden_size"]
    n_params = sum(p.numel() for p in model.parameters())
    rows.append(Row("model", f"Qwen2.5-1.5B shape, {n_params / 1e9:.3f}B params" if not dry else
                    f"Qwen2 toy shape, {n_params / 1e6:.2f}M params", f"random init, {dtype}, packed attention"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=True)
    for length in lengths:
        batch, seq_lens = micro_batch(length, config["vocab_size"], device)
        seconds, peak, loss = train_steps(model, optimizer, batch, steps, device)
        flops = step_flops(config, n_params - embedding, seq_lens, int(batch.trained.sum()))
        mfu = f"MFU {100 * flops / seconds / (peak_tflops * 1e12):.1f}% of {peak_tflops:g} TFLOP/s" if peak_tflops \
            else f"{flops / seconds / 1e12:.2f} TFLOP/s achieved"
        rows.append(Row(f"train step, packed row of {length}", f"{length / seconds:,.0f} tokens/s",
                        f"{seconds * 1e3:.0f} ms/step, {mfu}, peak {peak / 2**30:.2f} GiB, loss {loss:.3f}"))
        if not math.isfinite(loss):
            raise SystemExit(f"non-finite loss at {length} tokens")
        del batch
    del model, optimizer
    if device == "cuda":
        torch.cuda.empty_cache()
    deadline = started + args.budget_s
    limit = args.limit or (1024 if dry else 1 << 20)
    for checkpointing in (False, True):
        first = max(lengths) * (1 if not checkpointing else 2)
        best, why = longest_row(config, device, dtype, checkpointing, first, limit, deadline)
        label = "with" if checkpointing else "without"
        rows.append(Row(f"longest row that trains, {label} grad checkpointing",
                        f"{best:,} tokens" if best else f"< {first:,} tokens", f"from {first:,}: {why}"))
    rows.append(Row("check took", f"{time.time() - started:.0f} s"))
    width = max(len(r.name) for r in rows)
    value_width = max(len(r.value) for r in rows)
    print("\n" + "\n".join(f"{r.name:<{width}}  {r.value:<{value_width}}  {r.note}".rstrip() for r in rows), flush=True)
    return rows


if __name__ == "__main__":
    main()
