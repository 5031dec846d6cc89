"""Tokens/s of sft-suites' trainer (packed rows, varlen attention, chunked loss, DeepSpeed) against
transformers.Trainer with its padding collator, side by side: same tiny model, same mixed-length data,
same samples per step, same number of steps, on this machine's CPU. Each side's training loop is timed
(model loading and tokenisation excluded on both sides). Each run is a fresh process (a process group left by
one side would make transformers wrap the other's model in DDP); the runs alternate (HF first, then ours,
repeated) and the median of each side is reported, so neither gains from running first on a warm machine.

    python bench/bench_trainer.py [--samples 1024] [--batch 16] [--max-len 1024] [--repeats 3] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pydoc_data.topics import topics

import torch

from core.data.records import write_records
from core.train.config import TrainConfig


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


def run_ours(data: str, out: str, args) -> tuple[float, int]:
    from core.train.loop import fit

    cfg = TrainConfig(out=out, max_steps=args.samples // args.batch, micro_batch_size=args.batch, progress=False,
                      log_every=10**9)
    cfg.data.paths = [data]
    cfg.data.max_len = args.max_len
    cfg.data.cache_dir = os.path.join(out, "cache")
    cfg.optim.lr = 1e-3
    result = fit(cfg)
    return result.train_seconds, cfg.max_steps


def run_hf(records: list[dict], out: str, args) -> float:
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from core.data.chat import render_record
    from core.model.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer("tiny")
    rendered = [render_record(r, tokenizer) for r in records]
    dataset = Dataset.from_dict({"input_ids": [s.input_ids[: args.max_len] for s in rendered],
                                 "labels": [s.labels[: args.max_len] for s in rendered]})
    targs = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch, max_steps=args.samples // args.batch,
                              learning_rate=1e-3, report_to=[], use_cpu=True, save_strategy="no", logging_steps=10**9,
                              disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=load_model("tiny"), args=targs, train_dataset=dataset,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True))
    start = time.time()
    trainer.train()
    return time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", choices=["hf", "ours"], help=argparse.SUPPRESS)  # one run in this process
    args = parser.parse_args()
    if args.only:
        torch.set_num_threads(os.cpu_count() or 1)
        data = os.path.join(os.path.dirname(args.out), "data.jsonl")
        if args.only == "ours":
            seconds, _ = run_ours(data, args.out, args)
        else:
            from core.data.records import read_records

            seconds = run_hf(read_records(data), args.out, args)
        print("RESULT " + json.dumps({"seconds": seconds}))
        return
    out = args.out or tempfile.mkdtemp(prefix="bench-trainer-")
    records = long_tailed_records(args.samples)
    data = os.path.join(out, "data.jsonl")
    write_records(data, records)

    from core.data.chat import render_record
    from core.model.loading import load_tokenizer

    tok = load_tokenizer("tiny")
    tokens = sum(min(len(render_record(r, tok)), args.max_len) for r in records)
    torch.set_num_threads(os.cpu_count() or 1)

    def run(side: str, k: int) -> float:
        cmd = [sys.executable, __file__, "--only", side, "--out", os.path.join(out, f"{side}{k}"),
               "--samples", str(args.samples), "--batch", str(args.batch), "--max-len", str(args.max_len)]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        if done.returncode:
            raise SystemExit(f"{side} run failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line[len("RESULT "):])["seconds"]

    hf_times, our_times = [], []
    steps = args.samples // args.batch
    for k in range(args.repeats):
        hf_times.append(run("hf", k))
        our_times.append(run("ours", k))
        print(f"repeat {k + 1}: transformers.Trainer {hf_times[-1]:.1f} s, sft-suites {our_times[-1]:.1f} s", flush=True)
    hf, ours = statistics.median(hf_times), statistics.median(our_times)
    print(f"{args.samples} samples ({tokens} tokens), {steps} steps of {args.batch} samples, max_len {args.max_len}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats} alternating runs")
    print(f"transformers.Trainer (padding collator): {hf:7.1f} s  {tokens / hf:8.0f} tokens/s")
    print(f"sft-suites core.train (packed, varlen) : {ours:7.1f} s  {tokens / ours:8.0f} tokens/s")
    print(f"speed-up: {hf / ours:.2f}x")


if __name__ == "__main__":
    main()
