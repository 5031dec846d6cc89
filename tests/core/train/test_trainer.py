"""Trainer invariants on the tiny model: exact loss over the global batch whatever the shapes, the
sample-mean reduction, resume after SIGKILL, parity with transformers.Trainer, ZeRO-3 save, LoRA."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F

from core.data.chat import render_record
from core.data.packing import shift_labels
from core.data.records import read_records
from core.model.loading import load_model, load_tokenizer
from core.train.config import ConfigError, TrainConfig, to_dict
from core.train.loop import fit
from tests.trainer_utils import REPO, free_port, losses, make_records, run_worker, small_config, write_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("data"), n=96)


@pytest.mark.slow
@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_same_global_batch_different_shapes_same_losses(tmp_path, data, reduction):
    runs = {}
    for name, micro, accum, zero in [("mb4", 4, 1, 0), ("acc4", 1, 4, 0), ("zero2-acc2", 2, 2, 2),
                                     ("zero3-acc4", 1, 4, 3)]:
        cfg = small_config(tmp_path / name, data, micro_batch_size=micro, gradient_accumulation=accum,
                           loss_reduction=reduction, max_steps=5)
        cfg.engine.zero_stage = zero
        runs[name] = losses(fit(cfg).history)
    cfg = small_config(tmp_path / "dp2", data, micro_batch_size=1, gradient_accumulation=2, loss_reduction=reduction,
                       max_steps=5)
    runs["dp2"] = losses(run_worker(cfg, 2, tmp_path)["history"])
    assert len(runs["mb4"]) == 5
    for name in ("acc4", "zero2-acc2", "zero3-acc4", "dp2"):
        assert runs[name] == pytest.approx(runs["mb4"], abs=1e-5), name
    assert runs["mb4"][-1] < runs["mb4"][0]


def reference_first_loss(records, reduction):
    tokenizer = load_tokenizer("tiny")
    model = load_model("tiny", seed=0).eval()
    per_sample = []
    with torch.no_grad():
        for r in records:
            s = render_record(r, tokenizer)
            logits = model(torch.tensor([s.input_ids])).logits[0]
            per_sample.append(F.cross_entropy(logits, torch.tensor(shift_labels(s.labels)), reduction="none",
                                              ignore_index=-100)[torch.tensor(shift_labels(s.labels)) != -100])
    if reduction == "token":
        return torch.cat(per_sample).mean().item()
    return torch.stack([x.mean() for x in per_sample]).mean().item()


def test_sample_mean_differs_from_token_mean_as_the_reference_says(tmp_path):
    records = [{"messages": [{"role": "user", "content": "classify: fine"}, {"role": "assistant", "content": "A"}],
                "task_type": "cls/label"}] + make_records(9, seed=3)[:3]
    records[1]["messages"][1]["content"] = "a long answer " * 12
    from core.data.records import write_records

    path = str(tmp_path / "mixed.jsonl")
    write_records(path, records)
    got = {}
    for reduction in ("token", "sample"):
        cfg = small_config(tmp_path / reduction, path, micro_batch_size=4, max_steps=1, loss_reduction=reduction)
        got[reduction] = losses(fit(cfg).history)[0]
        assert got[reduction] == pytest.approx(reference_first_loss(read_records(path), reduction), abs=1e-5)
    assert abs(got["token"] - got["sample"]) > 0.01


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_same_loss_curve(tmp_path, data):
    base = small_config(tmp_path / "full", data, micro_batch_size=8, max_steps=40, save_every=5)
    base.data.max_len = 512
    full = losses(fit(base).history)

    killed = small_config(tmp_path / "killed", data, micro_batch_size=8, max_steps=40, save_every=5)
    killed.data.max_len = 512
    import json

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": to_dict(killed), "result": str(tmp_path / "never.json")}))
    # One process with a launcher's environment, not torchrun: torchrun may start its worker in a session of
    # its own, which would survive the kill and go on writing checkpoints beside the resumed run.
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1", "RANK": "0", "LOCAL_RANK": "0",
           "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "scripts", "fit_worker.py"), str(spec)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    latest = tmp_path / "killed" / "run" / "checkpoints" / "latest"
    deadline = time.time() + 240
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert latest.exists(), "no checkpoint was written before the kill"
    assert not (tmp_path / "killed" / "run" / "final").exists(), "the run finished before it could be killed"
    resumed_from = int(latest.read_text().strip().split("-")[1])

    killed.resume = True
    history = fit(killed).history
    resumed = [row for row in history if "loss" in row and row["step"] > resumed_from]
    assert [r["step"] for r in resumed] == list(range(resumed_from + 1, 41))
    assert [r["loss"] for r in resumed] == pytest.approx(full[resumed_from:], abs=1e-6)


def test_parity_with_transformers_trainer(tmp_path, data):
    """Unpacked data, token-mean loss: the first 20 step losses match transformers.Trainer."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from core.data.sources import BatchPlan

    cfg = small_config(tmp_path, data, micro_batch_size=4, max_steps=20)
    cfg.data.packing = False
    cfg.optim.beta2 = 0.999
    cfg.optim.min_lr_ratio = 0.0
    cfg.optim.warmup_steps = 2
    cfg.data.max_len = 512  # nothing truncated: transformers.Trainer sees whole samples
    ours = losses(fit(cfg).history)

    tokenizer = load_tokenizer("tiny")
    samples = [render_record(r, tokenizer) for r in read_records(data)]
    plan = BatchPlan(len(samples), 4, cfg.epochs, 20, cfg.seed)
    order = [i for step in range(20) for i in plan.batch(step)]
    dataset = Dataset.from_dict({"input_ids": [samples[i].input_ids for i in order],
                                 "labels": [samples[i].labels for i in order]})

    def collate(rows):
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        labels = torch.full((len(rows), width), -100)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[k, :n], labels[k, :n], mask[k, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    recorded = []

    class Recording(Trainer):
        def training_step(self, *args, **kwargs):
            loss = super().training_step(*args, **kwargs)
            recorded.append(loss.item())
            return loss

    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=4, max_steps=20,
                             learning_rate=cfg.optim.lr, lr_scheduler_type="cosine", warmup_steps=2, weight_decay=0.0,
                             adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=cfg.optim.clip_grad,
                             optim="adamw_torch", train_sampling_strategy="sequential", report_to=[], use_cpu=True,
                             logging_steps=1, save_strategy="no", seed=cfg.seed, dataloader_num_workers=0,
                             disable_tqdm=True)
    Recording(model=load_model("tiny", seed=0), args=args, train_dataset=dataset, data_collator=collate).train()
    assert len(recorded) == 20
    assert ours == pytest.approx(recorded, abs=1e-4)


@pytest.mark.slow
def test_zero3_two_processes_save_reloads_with_the_same_logits(tmp_path, data):
    from transformers import AutoModelForCausalLM

    cfg = small_config(tmp_path / "zero3", data, micro_batch_size=1, gradient_accumulation=2, max_steps=3)
    cfg.engine.zero_stage = 3
    probe = load_tokenizer("tiny")("The pass key is 12345.")["input_ids"]
    result = run_worker(cfg, 2, tmp_path, extra={"logits_probe": probe})
    one_process = losses(fit(small_config(tmp_path / "zero0", data, micro_batch_size=4, max_steps=3)).history)
    assert losses(result["history"]) == pytest.approx(one_process, abs=1e-5)  # accumulation under ZeRO-3 is exact
    reloaded = AutoModelForCausalLM.from_pretrained(result["model_dir"])
    with torch.no_grad():
        logits = reloaded(torch.tensor([probe])).logits[0]
    assert torch.allclose(logits, torch.tensor(result["logits"]), atol=1e-5)
    untrained = load_model("tiny", seed=0)(torch.tensor([probe])).logits[0]
    assert not torch.allclose(logits, untrained, atol=1e-3)  # the save holds the trained weights


def test_lora_changes_only_adapter_weights(tmp_path, data):
    from peft import PeftModel

    cfg = small_config(tmp_path, data, micro_batch_size=4, max_steps=3)
    cfg.lora.enabled = True
    cfg.lora.r = 4
    cfg.lora.save_merged = True
    result = fit(cfg)
    model = result.engine.module
    base = load_model("tiny", seed=0)
    base_state = base.state_dict()
    changed_adapter = 0
    for name, p in model.named_parameters():
        if "lora_" in name:
            changed_adapter += int("lora_B" in name and p.abs().sum() > 0)
        else:
            key = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(p.detach(), base_state[key]), name
    assert changed_adapter > 0
    reloaded = PeftModel.from_pretrained(load_model("tiny", seed=0), result.model_dir)
    assert os.path.exists(os.path.join(result.model_dir, "adapter_model.safetensors"))
    assert os.path.exists(os.path.join(result.model_dir, "merged", "model.safetensors"))
    probe = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        model.eval()
        reloaded.eval()
        assert torch.allclose(reloaded(probe).logits, model(probe).logits, atol=1e-5)


def test_final_save_is_a_complete_hf_checkpoint(tmp_path, data):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = fit(small_config(tmp_path, data, max_steps=2, micro_batch_size=6))
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja"):
        assert os.path.exists(os.path.join(result.model_dir, name)), name
    model = AutoModelForCausalLM.from_pretrained(result.model_dir)
    tok = AutoTokenizer.from_pretrained(result.model_dir)
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert model.generation_config.pad_token_id == tok.pad_token_id
    assert os.path.exists(os.path.join(result.out, "loss_by_task_type.png"))
    assert os.path.exists(os.path.join(result.out, "config.yaml"))
    logged = set().union(*result.history)
    assert {"loss", "lr", "tokens_per_s", "grad_norm", "loss/math/add", "loss/math", "loss/chat/echo"} <= logged


def test_nan_loss_stops_with_step_and_samples(tmp_path, data):
    def poison(model, tokenizer, cfg):
        with torch.no_grad():
            model.model.norm.weight.fill_(float("nan"))

    cfg = small_config(tmp_path, data, max_steps=2, micro_batch_size=2)
    from core.train.loop import TrainingError

    with pytest.raises(TrainingError, match=r"step 1: loss is nan on rank 0; samples in this micro-batch: \[.*train.jsonl:\d+"):
        fit(cfg, prepare=poison)


def test_fractional_epochs(tmp_path, data):
    cfg = small_config(tmp_path, data, max_steps=0, epochs=1.1, micro_batch_size=8)
    result = fit(cfg)
    assert result.steps == -(-int(1.1 * 96) // 8)  # 105 samples -> 14 steps
    assert result.history[-1]["epoch"] == pytest.approx(14 * 8 / 96)


def test_bad_option_combinations_are_rejected_before_loading(tmp_path, capsys):
    from core.train.config import from_args

    with pytest.raises(ConfigError) as err:
        from_args(["--data", "missing.jsonl", "--lora.enabled=true", "--freeze=mlp", "--engine.offload_params=true",
                   "--optim.warmup_steps=5", "--optim.warmup_ratio=0.1"], "prog", "desc")
    message = str(err.value)
    assert "lora.enabled, freeze: LoRA already freezes the base model" in message
    assert "engine.offload_params, engine.zero_stage: parameter offload needs ZeRO stage 3" in message
    assert "optim.warmup_steps, optim.warmup_ratio: give warmup as steps or as a ratio, not both" in message
    with pytest.raises(SystemExit):
        from_args(["--data", "x.jsonl", "--optim.learning_rate=1"], "prog", "desc")
    assert "unrecognized arguments: --optim.learning_rate=1" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^engine.zero_stage: cannot use '4': not one of \[0, 1, 2, 3\]$"):
        from_args(["--data", "x.jsonl", "--engine.zero_stage=4"], "prog", "desc")


def test_cli_help_lists_every_option_with_its_default():
    out = subprocess.run([sys.executable, "-m", "core.train", "--help"], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0
    for option, default in [("--optim.lr", "1e-05"), ("--engine.zero_stage", "0"), ("--loss_reduction", "token"),
                            ("--data.mask", "all"), ("--lora.r", "16"), ("--max-steps", "0 (0: --epochs decides)"),
                            ("--epochs", "1.0"), ("--resume", "false"), ("--out", "runs/default"), ("--model", "tiny")]:
        entry = out.stdout.split(f"\n  {option} ", 1)[1].split("\n  -", 1)[0]  # its help, wrapped or not
        assert f"default: {default}" in " ".join(entry.split()), entry
    assert "default: None" not in out.stdout and "local_rank" not in out.stdout


def test_cli_errors_are_one_line_and_missing_data_is_caught_before_loading(tmp_path):
    clash = subprocess.run([sys.executable, "-m", "core.train", "--data", "x.jsonl", "--lora.enabled=true",
                            "--freeze=mlp"], capture_output=True, text=True, cwd=REPO)
    assert clash.returncode == 1 and "Traceback" not in clash.stderr
    assert clash.stderr.startswith("python -m core.train: error: invalid configuration: lora.enabled, freeze: ")
    assert clash.stderr.count("\n") == 1  # one line, however many problems
    missing = subprocess.run([sys.executable, "-m", "core.train", "--data", str(tmp_path / "nope.jsonl"),
                              "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == (f"python -m core.train: error: data.paths / data.eval_paths: no such file or folder: "
                                      f"{tmp_path / 'nope.jsonl'}")
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_deepspeed_launcher_runs_the_cli(tmp_path, data):
    """`deepspeed --module core.train` appends --local_rank=N; the CLI must take it."""
    out = subprocess.run(["deepspeed", "--num_gpus", "1", "--master_port", str(free_port()), "--module", "core.train",
                          "--data", data, "--out", str(tmp_path / "ds"), "--max-steps", "1", "--micro_batch_size=2",
                          "--progress=false", f"--data.cache_dir={tmp_path / 'cache'}"],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "[done] 1 steps" in out.stdout


def test_cli_trains_and_writes_the_resolved_config(tmp_path, data):
    import yaml

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("optim:\n  lr: 0.002\ndata:\n  max_len: 96\n")
    out = subprocess.run([sys.executable, "-m", "core.train", "--data", data, "--out", str(tmp_path / "cli"),
                          "--config", str(cfg_file), "--max-steps", "2", "--micro_batch_size=2", "--progress=false",
                          f"--data.cache_dir={tmp_path / 'cache'}", "--data.eval_split=0.25", "--eval_every=2"],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    saved = yaml.safe_load((tmp_path / "cli" / "config.yaml").read_text())
    assert saved["optim"]["lr"] == 0.002 and saved["data"]["max_len"] == 96 and saved["max_steps"] == 2
    assert "[done] 2 steps" in out.stdout
    # The final losses are printed (not only in metrics.jsonl), overall and per task_type, with --progress false.
    logged = [json.loads(line) for line in (tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()]
    train, held = [r for r in logged if "loss" in r][-1], [r for r in logged if "eval_loss" in r][-1]
    assert f"[loss] final train loss {train['loss']:.4f} (step 2), eval loss {held['eval_loss']:.4f} (step 2)" in out.stdout
    table = out.stdout.split("[loss]")[1].split("[done]")[0]
    assert max(len(line) for line in table.splitlines()) <= 120
    for key in (k for k in held if k.startswith("eval_loss/")):
        assert f"{held[key]:.4f}" in table


def test_tokenisation_is_cached(tmp_path, data, monkeypatch):
    from core.data import sources as data_lib
    cfg = TrainConfig()
    cfg.data.cache_dir = str(tmp_path / "cache")
    tok = load_tokenizer("tiny")
    first = data_lib.load_source(data, tok, cfg.data, progress=False)
    assert len(os.listdir(cfg.data.cache_dir)) == 1
    render = data_lib._render_batch

    def must_not_render(*args, **kwargs):
        raise AssertionError("rendered again instead of reading the cache")

    monkeypatch.setattr(data_lib, "_render_batch", must_not_render)
    second = data_lib.load_source(data, tok, cfg.data, progress=False)
    assert [s.input_ids for s in first.samples] == [s.input_ids for s in second.samples]
    assert [s.labels for s in first.samples] == [s.labels for s in second.samples]
    cfg.data.mask = "last"  # a different rendering is a different cache entry, rendered anew
    with pytest.raises(AssertionError, match="rendered again"):
        data_lib.load_source(data, tok, cfg.data, progress=False)
    monkeypatch.setattr(data_lib, "_render_batch", render)
    data_lib.load_source(data, tok, cfg.data, progress=False)
    assert len([d for d in os.listdir(cfg.data.cache_dir) if ".tmp" not in d]) == 2


def test_batch_plan_orders():
    from core.data.sources import BatchPlan

    plan = BatchPlan(10, 4, epochs=1.5, max_steps=0, seed=1)
    batches = [plan.batch(s) for s in range(plan.total_steps)]
    assert plan.total_steps == 4 and [len(b) for b in batches] == [4, 4, 4, 3]  # 15 samples
    assert sorted(batches[0] + batches[1] + batches[2][:2]) == list(range(10))  # epoch 1 is a permutation
    assert [i for b in batches for i in b][:10] != list(range(10))
    kept = BatchPlan(10, 4, epochs=1.0, max_steps=0, seed=1, shuffle=False)
    assert [i for s in range(kept.total_steps) for i in kept.batch(s)] == list(range(10))
    assert BatchPlan(10, 4, epochs=1.0, max_steps=7, seed=1).total_steps == 7  # max_steps extends past an epoch
