"""End to end: core.train on records of every suite + hand-made ones through a Qwen3-template tokenizer (the
embedded vocabulary + Qwen3's template and special tokens) and the tiny model; the data report names the
strategy and the adaptation counts, and the run folder stores the template probe."""

import json
import os
import subprocess
import sys

from core.data.records import write_records
from tests.core.data.template_fixtures import template_tokenizer
from tests.core.data.test_templates import HAND_MADE, QWEN3_RECORD, RECORDS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_core_train_with_a_qwen3_template(tmp_path, tiny_tokenizer):
    from core.model.loading import load_model

    tok = template_tokenizer(tiny_tokenizer, "Qwen-Qwen3-0.6B")
    model = load_model("tiny")
    model.resize_token_embeddings(len(tok))
    ckpt = str(tmp_path / "qwen3-tiny")
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    data = str(tmp_path / "train.jsonl")
    short = [r for r in RECORDS if r["task_type"].startswith(("agent/", "rag/"))][::3]
    write_records(data, short + HAND_MADE + [QWEN3_RECORD])
    out = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "core.train", "--data", data, "--model", ckpt, "--out", out, "--max_steps", "2",
           "--data.max_len", "512", "--data.cache_dir", str(tmp_path / "cache"), "--progress", "false",
           "--data.end_of_turn", "<|im_end|>"]
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = [line for line in proc.stdout.splitlines() if line.startswith("[data]")]
    print("\n".join(report))
    assert any("chat template: strategy per_turn; end of turn '<|im_end|>'" in line for line in report), report
    rendered = next(line for line in report if " rendered " in line)
    assert "strategy:per_turn" in rendered and "null_content: 1" in rendered, rendered
    with open(os.path.join(out, "template_probe.json"), encoding="utf-8") as f:
        probe = json.load(f)
    assert probe["strategy"] == "per_turn" and probe["prefix_stable"] is False and not probe["reasoning_in_history"]
