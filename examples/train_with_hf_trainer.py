"""Train with transformers.Trainer (or TRL's SFTTrainer) using this project's packing collator, loss
reductions and channel loss (core.curate.hf_integration), on the embedded tiny model:

    python examples/train_with_hf_trainer.py --out runs/hf_example [--data records.jsonl] [--trainer hf|trl]
        [--reduction token|sample] [--max-steps 8] [--batch 4] [--grad-accum 2] [--lr 3e-3] [--model tiny|PATH]

Without --data it writes and uses a small demo set (three task types with very different answer lengths,
the case where token-mean and sample-mean loss differ). It prints the loss and the loss per task_type at
every step and writes OUT/log_history.json and OUT/data.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import random

from transformers import Trainer, TrainingArguments

from core.curate.hf_integration import (
    ChannelLossCallback,
    PackedCollator,
    PackedLoss,
    prepare_model,
    render_dataset,
    samples_per_step,
)
from core.data.records import read_records, write_records
from core.model.loading import load_model, load_tokenizer


def demo_records(n: int = 16, seed: int = 0) -> list[dict]:
    """Short classification answers, medium arithmetic answers, long echo answers."""
    rng = random.Random(seed)
    words = ["river", "stone", "cloud", "lamp", "garden", "window", "pepper", "violin", "harbor", "meadow"]
    records = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        kind = i % 3
        if kind == 0:
            question, answer, task = f"Is {a} even or odd?", "even" if a % 2 == 0 else "odd", "demo/parity"
        elif kind == 1:
            question, answer, task = f"What is {a} + {b}?", f"{a} + {b} = {a + b}.", "demo/add"
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(12, 24)))
            question, answer, task = f"Repeat after me: {text}", text, "demo/echo"
        records.append({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                        "task_type": task})
    return records


def build_trainer(records: list[dict], args: argparse.Namespace):
    tokenizer = load_tokenizer(args.model)
    model = prepare_model(load_model(args.model, seed=args.seed))
    dataset = render_dataset(records, tokenizer)
    channels = sorted(set(dataset["task_type"]))
    common = dict(output_dir=args.out, per_device_train_batch_size=args.batch, gradient_accumulation_steps=args.grad_accum,
                  max_steps=args.max_steps, learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0,
                  weight_decay=0.0, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                  remove_unused_columns=False, dataloader_drop_last=True, seed=args.seed, disable_tqdm=True)
    if args.trainer == "trl":
        from trl import SFTConfig, SFTTrainer

        # bf16=False: SFTConfig turns on bf16 autocast by default; the tiny model trains in fp32
        training_args = SFTConfig(**common, max_length=None, bf16=False, dataset_kwargs={"skip_prepare_dataset": True})
    else:
        training_args = TrainingArguments(**common)
    loss = PackedLoss(args.reduction, samples_per_step(training_args), channels)
    trainer_cls = SFTTrainer if args.trainer == "trl" else Trainer
    trainer = trainer_cls(model=model, args=training_args, train_dataset=dataset, data_collator=PackedCollator(channels),
                          compute_loss_func=loss, callbacks=[ChannelLossCallback(loss)], processing_class=tokenizer)
    return trainer, loss


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/hf_example")
    parser.add_argument("--data", help="record JSONL (default: a generated demo set)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--trainer", choices=["hf", "trl"], default="hf")
    parser.add_argument("--reduction", choices=["token", "sample"], default="sample")
    parser.add_argument("--max-steps", type=int, default=8, dest="max_steps")
    parser.add_argument("--batch", type=int, default=4, help="samples per device per micro-batch")
    parser.add_argument("--grad-accum", type=int, default=2, dest="grad_accum")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    records = read_records(args.data) if args.data else demo_records(args.batch * args.grad_accum)
    write_records(os.path.join(args.out, "data.jsonl"), records)
    trainer, _ = build_trainer(records, args)
    trainer.train()
    history = [h for h in trainer.state.log_history if "loss" in h]
    for h in history:
        channels = "  ".join(f"{k[5:]}={v:.4f}" for k, v in sorted(h.items()) if k.startswith("loss/"))
        print(f"step {h['step']:>3}  loss {h['loss']:.4f}  {channels}")
    with open(os.path.join(args.out, "log_history.json"), "w", encoding="utf-8") as f:
        json.dump(trainer.state.log_history, f, indent=1)
    return history


if __name__ == "__main__":
    main()
