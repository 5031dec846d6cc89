"""sft-suites' trainer against every mode a user of the peers would pick, side by side: same tiny model, same
records, same trained tokens (counted inside each run and checked), one epoch each, same optimizer and
schedule (AdamW 0.9/0.999, no weight decay, linear decay from lr to 0, clip 1.0):

  hf-padded   transformers.Trainer, DataCollatorForSeq2Seq (pads every batch to its longest sample)
  hf-flat     transformers.Trainer, DataCollatorWithFlattening (padding-free: one flat row per batch)
  trl         TRL SFTTrainer, packing=True, packing_strategy="bfd", padding_free=True, assistant_only_loss=True
              (bf16 and gradient checkpointing, its defaults, turned off to match the others on CPU)
  ours        sft-suites core.train (packed rows, packed varlen attention, loss over trained positions)

Reported per mode: tokens/s of the training loop (model loading and tokenisation excluded on every side),
peak memory (process peak RSS on CPU, torch.cuda.max_memory_allocated on CUDA), the held-out loss after the
epoch (one evaluation function for every mode, on records none of them trained on), and the attention kernel.
Each run is a fresh process (a process group left by one side would make transformers wrap the next model in
DDP); the modes alternate, repeated, and the median of each is reported, so none gains from running first.
On CUDA every mode runs bf16, and HF/TRL use flash_attention_2 when flash-attn is installed (sdpa otherwise).

    python bench/bench_trainer.py [--samples 192] [--batch 16] [--max-len 1024] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pydoc_data.topics import topics

import torch

from core.data.records import write_records

MODES = ("hf-padded", "hf-flat", "trl", "ours")
TITLES = {"hf-padded": "transformers.Trainer, padding collator", "hf-flat": "transformers.Trainer + DataCollatorWithFlattening",
          "trl": "TRL SFTTrainer bfd packing, padding-free", "ours": "sft-suites core.train"}
LR = 1e-3


def long_tailed_records(n: int, seed: int = 0) -> list[dict]:
    """Chat records whose lengths follow a long tail (many short, few long answers), like real SFT mixes."""
    rng = random.Random(seed)
    words = " ".join(topics[k] for k in sorted(topics)).split()
    records = []
    for _ in range(n):
        q_len = max(3, int(rng.lognormvariate(3.0, 0.8)))
        a_len = min(600, max(1, int(rng.lognormvariate(4.0, 1.1))))
        start = rng.randrange(len(words) - 700)
        records.append({"messages": [{"role": "user", "content": " ".join(words[start : start + q_len])},
                                     {"role": "assistant", "content": " ".join(words[start + q_len : start + q_len + a_len])}],
                        "task_type": f"bench/{['short', 'long'][a_len > 60]}"})
    return records


def fitting_records(n: int, max_len: int, tokenizer, seed: int) -> list[dict]:
    """n records that render within max_len tokens (so no side truncates and every side trains the same tokens)."""
    from core.data.chat import render_record

    out, k = [], 0
    while len(out) < n:
        batch = long_tailed_records(n, seed + 1000 * k)
        out += [r for r in batch if len(render_record(r, tokenizer)) <= max_len][: n - len(out)]
        k += 1
    return out


def cuda() -> bool:
    return torch.cuda.is_available()


def hf_attention() -> str:
    if cuda():
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def kernel_of(mode: str) -> str:
    if mode == "ours":
        from core.model.kernels import flash_attn_varlen_func

        return ("packed varlen: flash-attn varlen" if cuda() and flash_attn_varlen_func is not None
                else "packed varlen: sdpa per segment")
    attn = hf_attention()
    if mode == "hf-padded":
        return f"{attn}, padded batch with attention mask"
    if attn == "flash_attention_2":
        return "flash_attention_2 varlen over the flat row"
    return "sdpa over the whole flat row (block-causal mask from position_ids)"


def peak_memory() -> int:
    if cuda():
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def held_out_loss(model, records: list[dict]) -> float:
    """Token-mean loss of `records` under one evaluation path for every mode (packed attention, no grad)."""
    from core.data.chat import render_record
    from core.model.attention import enable_packed_attention
    from core.model.loading import load_tokenizer
    from core.train.batching import build_micro_batch, forward_token_losses, plan_step

    tokenizer = load_tokenizer("tiny")
    samples = [render_record(r, tokenizer, sample_id=str(i)) for i, r in enumerate(records)]
    enable_packed_attention(model)
    model.eval()
    device = next(model.parameters()).device
    plan = plan_step(samples, 4096, True, "truncate", 1, 1)
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
        for rows in plan.slots[0][0]:
            batch = build_micro_batch([rows], plan, {t: 0 for t in {s.task_type for s in samples}}, "token",
                                      tokenizer.pad_token_id, device=device)
            losses = forward_token_losses(model, batch, 2048)
            total += float(losses.double().sum())
            count += int(batch.trained.sum())
    return total / max(count, 1)


def count_trained_tokens(model) -> list[int]:
    """Counts the trained targets of every training forward (labels shifted by one, as the model does)."""
    seen = [0]

    def hook(module, args, kwargs):
        labels = kwargs.get("labels")
        if module.training and labels is not None:
            seen[0] += int((labels[..., 1:] != -100).sum())
        return args, kwargs

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def run_hf(mode: str, records: list[dict], out: str, args) -> dict:
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening, Trainer, TrainingArguments

    from core.data.chat import render_record
    from core.model.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer("tiny")
    rendered = [render_record(r, tokenizer) for r in records]
    dataset = Dataset.from_dict({"input_ids": [s.input_ids for s in rendered], "labels": [s.labels for s in rendered]})
    model = load_model("tiny", attn_implementation=hf_attention())
    model.config.use_cache = False
    seen = count_trained_tokens(model)
    collator = (DataCollatorForSeq2Seq(tokenizer, padding=True) if mode == "hf-padded" else
                DataCollatorWithFlattening(return_flash_attn_kwargs=hf_attention() == "flash_attention_2"))
    targs = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch, num_train_epochs=1,
                              learning_rate=LR, lr_scheduler_type="linear", report_to=[], use_cpu=not cuda(),
                              bf16=cuda(), save_strategy="no", logging_steps=10**9, disable_tqdm=True,
                              dataloader_num_workers=0, seed=args.seed)
    trainer = Trainer(model=model, args=targs, train_dataset=dataset, data_collator=collator)
    return timed_train(trainer, seen)


def run_trl(records: list[dict], out: str, args) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from core.model.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer("tiny")
    dataset = Dataset.from_dict({"messages": [r["messages"] for r in records]})
    model = load_model("tiny", attn_implementation=hf_attention())
    model.config.use_cache = False
    seen = count_trained_tokens(model)
    config = SFTConfig(output_dir=out, per_device_train_batch_size=args.trl_rows, num_train_epochs=1,
                       learning_rate=LR, lr_scheduler_type="linear", report_to=[], use_cpu=not cuda(),
                       bf16=cuda(), gradient_checkpointing=False, save_strategy="no", logging_steps=10**9,
                       disable_tqdm=True, dataloader_num_workers=0, seed=args.seed, max_length=args.max_len,
                       packing=True, packing_strategy="bfd", padding_free=True, assistant_only_loss=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    return timed_train(trainer, seen)


def timed_train(trainer, seen: list[int]) -> dict:
    base = rss_now()
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    return {"seconds": seconds, "peak": peak_memory(), "rss_before": base, "trained": seen[0],
            "steps": trainer.state.global_step, "model": trainer.model}


def run_ours(data: str, out: str, args) -> dict:
    import core.train.loop as loop
    from core.train.config import TrainConfig

    trained = [0]
    original = loop.plan_step

    def counting_plan_step(*a, **k):  # observe the trained targets of every step (changes nothing)
        plan = original(*a, **k)
        trained[0] += plan.global_tokens
        return plan

    loop.plan_step = counting_plan_step
    cfg = TrainConfig(out=out, epochs=1, micro_batch_size=args.batch, progress=False, log_every=10**9, seed=args.seed)
    cfg.data.paths = [data]
    cfg.data.max_len = args.max_len
    cfg.data.cache_dir = os.path.join(out, "cache")
    cfg.model.dtype = "bf16" if cuda() else "fp32"
    cfg.optim.lr, cfg.optim.beta2, cfg.optim.scheduler, cfg.optim.min_lr_ratio = LR, 0.999, "linear", 0.0
    base = rss_now()
    result = loop.fit(cfg)
    return {"seconds": result.train_seconds, "peak": peak_memory(), "rss_before": base, "trained": trained[0],
            "steps": result.steps, "model": result.engine.module}


def child(args) -> None:
    from core.data.records import read_records

    torch.set_num_threads(os.cpu_count() or 1)
    base = os.path.dirname(args.out)
    records = read_records(os.path.join(base, "data.jsonl"))
    if args.only == "ours":
        result = run_ours(os.path.join(base, "data.jsonl"), args.out, args)
    elif args.only == "trl":
        result = run_trl(records, args.out, args)
    else:
        result = run_hf(args.only, records, args.out, args)
    model = result.pop("model")
    result["loss"] = held_out_loss(model, read_records(os.path.join(base, "held_out.jsonl")))
    result["kernel"] = kernel_of(args.only)
    print("RESULT " + json.dumps(result), flush=True)


def trl_rows_per_step(samples, max_len: int, steps: int) -> int:
    """TRL's batch counts packed rows, not samples: choose rows per step so its epoch takes about as many
    optimizer steps (and tokens per step) as the 16-sample batches of the other modes."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    packed = pack_dataset(Dataset.from_dict({"input_ids": [s.input_ids for s in samples]}), max_len, "bfd")
    return max(1, round(len(packed) / steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=192)
    parser.add_argument("--batch", type=int, default=16, help="samples per optimizer step (hf, ours)")
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--quick", action="store_true", help="smoke run: 48 samples, max_len 512, one repeat")
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", choices=MODES, help=argparse.SUPPRESS)  # one run in this process
    parser.add_argument("--trl-rows", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        child(args)
        return
    if args.quick:
        args.samples, args.max_len, args.repeats, args.held_out = 48, 512, 1, 16
    out = args.out or tempfile.mkdtemp(prefix="bench-trainer-")
    os.makedirs(out, exist_ok=True)

    from core.data.chat import render_record
    from core.model.loading import load_tokenizer

    tok = load_tokenizer("tiny")
    records = fitting_records(args.samples, args.max_len, tok, args.seed)
    write_records(os.path.join(out, "data.jsonl"), records)
    write_records(os.path.join(out, "held_out.jsonl"), fitting_records(args.held_out, args.max_len, tok, args.seed + 7))
    samples = [render_record(r, tok) for r in records]
    tokens = sum(len(s) for s in samples)
    expected = sum(sum(t != -100 for t in s.labels[1:]) for s in samples)
    steps = -(-args.samples // args.batch)
    args.trl_rows = trl_rows_per_step(samples, args.max_len, steps)

    def run(mode: str, k: int) -> dict:
        cmd = [sys.executable, __file__, "--only", mode, "--out", os.path.join(out, f"{mode}{k}"),
               "--batch", str(args.batch), "--max-len", str(args.max_len), "--seed", str(args.seed),
               "--trl-rows", str(args.trl_rows)]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        if done.returncode:
            raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line[len("RESULT "):])

    results: dict[str, list[dict]] = {m: [] for m in args.modes}
    for k in range(args.repeats):
        for mode in args.modes:
            results[mode].append(run(mode, k))
        print(f"repeat {k + 1}: " + ", ".join(f"{m} {results[m][-1]['seconds']:.1f} s" for m in args.modes), flush=True)

    device = torch.cuda.get_device_name() if cuda() else f"CPU, {os.cpu_count()} threads, fp32"
    print(f"\n{args.samples} records ({tokens:,} tokens, {expected:,} trained), max_len {args.max_len}, one epoch, "
          f"{device}, median of {args.repeats} alternating runs; held-out loss over {args.held_out} records")
    ours = statistics.median(r["seconds"] for r in results["ours"]) if "ours" in results else None
    print(f"{'mode':<50} {'tokens/s':>9} {'time/ours':>9} {'peak mem':>9} {'steps':>5} {'trained':>8} {'loss':>7}  attention")
    agree = True
    for mode in args.modes:
        runs = results[mode]
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak"] for r in runs)
        trained = {r["trained"] for r in runs}
        agree &= trained == {expected}
        ratio = f"{seconds / ours:8.2f}x" if ours else "    -    "
        print(f"{TITLES[mode]:<50} {tokens / seconds:>9,.0f} {ratio:>9} {peak / 2**20:>6,.0f} MB {runs[0]['steps']:>5} "
              f"{'/'.join(map(str, sorted(trained))):>8} {statistics.median(r['loss'] for r in runs):>7.4f}  {runs[0]['kernel']}")
    print(f"trained tokens agree across modes ({expected:,} expected): {'yes' if agree else 'NO'}")
    if not agree:
        raise SystemExit("trained-token counts differ between modes: the comparison is not like for like")


if __name__ == "__main__":
    main()
