"""Eval records with a scored suite ("quiz", through an entry point) and an unscored one ("chat"), the quiz
scorer, and a helper that registers the scorer as an ``sft_suites.scorers`` entry point from a folder."""

from __future__ import annotations

import os

from core.data.records import write_records

QUIZ = [("What is 2+3?", "5"), ("What is 4+4?", "8"), ("2加7等于几？", "9"), ("What is 1+0?", "1"),
        ("What is 3+3?", "6"), ("6加1等于几？", "7")]
COLORS = [("What colour is the sky?", "blue"), ("What colour is grass?", "green"),
          ("What colour is snow?", "white")]


def eval_records() -> list[dict]:
    records = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                "task_type": "quiz/add", "meta": {"answer": a}} for q, a in QUIZ]
    records += [{"messages": [{"role": "system", "content": "Answer with one word."}, {"role": "user", "content": q},
                              {"role": "assistant", "content": a}], "task_type": "quiz/colour", "meta": {"answer": a}}
                for q, a in COLORS]
    records.append({"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!", "train": False},
        {"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！有什么可以帮你？"}],
        "task_type": "chat/greet"})
    records.append({"messages": [
        {"role": "user", "content": "thanks"}, {"role": "assistant", "content": "You are welcome."},
        {"role": "user", "content": "bye"}, {"role": "assistant", "content": "Goodbye!"}], "task_type": "chat/greet"})
    return records


def quiz_scorer(record: dict, reply: str) -> dict:
    """correct: the reference answer (the record's last message) appears in the reply; exact: it is the reply."""
    answer = record["messages"][-1]["content"]
    return {"correct": float(answer in reply), "exact": float(reply.strip() == answer)}


def write_eval_set(path: str) -> list[dict]:
    records = eval_records()
    write_records(path, records)
    return records


def register_quiz_scorer(folder: str) -> None:
    """A distribution folder that, put on sys.path, declares quiz_scorer as the "quiz" scorer."""
    info = os.path.join(folder, "sft_suites_test_scorers-0.0.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: sft-suites-test-scorers\nVersion: 0.0\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as f:
        f.write("[sft_suites.scorers]\nquiz = tests.scripts.eval_fixtures:quiz_scorer\n")


def train_briefly(records: list[dict], out_dir: str, steps: int = 40, lr: float = 3e-3, seed: int = 0) -> str:
    """The tiny model after a few full-batch AdamW steps on `records` (assistant tokens), saved to out_dir."""
    import torch

    from core.data.chat import render_record
    from core.model.loading import load_model, load_tokenizer

    tokenizer, model = load_tokenizer("tiny"), load_model("tiny", seed=seed)
    rendered = [render_record(r, tokenizer) for r in records]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        for sample in rendered:
            out = model(input_ids=torch.tensor([sample.input_ids]), labels=torch.tensor([sample.labels]))
            (out.loss / len(rendered)).backward()
        optimizer.step()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
