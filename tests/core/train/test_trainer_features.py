"""Trainer features beyond the loss invariants: source mixing, datasets on disk, freezing, gradient
checkpointing, held-out eval per task_type, checkpoint retention, special tokens, TensorBoard events."""

import os
import shutil

import pytest
import torch

from core.data.chat import RenderedSample
from core.data.records import read_records
from core.data.sources import mix, resample
from core.model.loading import load_model
from core.train.config import DataConfig
from core.train.loop import fit
from tests.trainer_utils import losses, small_config, write_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("data"), n=48)


def fake_samples(task_type: str, n: int) -> list[RenderedSample]:
    return [RenderedSample([1, 2], [1, 2], task_type, f"{task_type}:{i}") for i in range(n)]


def test_mixing_by_weights_upsampling_and_task_factors():
    a, b = fake_samples("src/a", 30), fake_samples("src/b", 10)
    weights = mix([a, b], DataConfig(mixing="weights", source_factors=[1, 3]), seed=0)
    assert [s.task_type for s in weights].count("src/a") == 10 and len(weights) == 40  # 40 * 1/4, 40 * 3/4
    assert len({s.sample_id for s in weights if s.task_type == "src/b"}) == 10  # 30 = 3 whole copies of b
    upsampled = mix([a, b], DataConfig(mixing="upsample", source_factors=[1, 2.5]), seed=0)
    assert [s.task_type for s in upsampled].count("src/b") == 25
    by_task = mix([a + b], DataConfig(task_upsample={"src/b": 2, "src": 0.5}), seed=0)
    assert [s.task_type for s in by_task].count("src/b") == 20  # the exact type wins over its first level
    assert [s.task_type for s in by_task].count("src/a") == 15
    assert mix([a, b], DataConfig(mixing="upsample", source_factors=[1, 2.5]), seed=0) == upsampled  # seeded
    assert resample(4, 10, __import__("random").Random(0))[:8] == [0, 1, 2, 3, 0, 1, 2, 3]


def test_trains_on_a_datasets_folder_like_on_jsonl(tmp_path, data):
    import datasets

    folder = str(tmp_path / "ds")
    rows = read_records(data)
    datasets.Dataset.from_list(rows).save_to_disk(folder)
    from_jsonl = losses(fit(small_config(tmp_path / "a", data, max_steps=2, micro_batch_size=4)).history)
    from_folder = losses(fit(small_config(tmp_path / "b", folder, max_steps=2, micro_batch_size=4)).history)
    assert from_folder == pytest.approx(from_jsonl, abs=1e-6)


@pytest.mark.parametrize("part,trained_key", [("mlp", ".mlp."), ("attention", ".self_attn."),
                                              ("embeddings", "embed_tokens")])
def test_freeze_trains_only_the_chosen_part(tmp_path, data, part, trained_key):
    cfg = small_config(tmp_path, data, max_steps=2, micro_batch_size=4, freeze=part)
    model = fit(cfg).engine.module
    before = load_model("tiny", seed=0).state_dict()
    for name, p in model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        assert changed == (trained_key in name), name


def test_gradient_checkpointing_gives_the_same_losses(tmp_path, data):
    plain = losses(fit(small_config(tmp_path / "plain", data, max_steps=3, micro_batch_size=4)).history)
    cfg = small_config(tmp_path / "ckpt", data, max_steps=3, micro_batch_size=4)
    cfg.model.gradient_checkpointing = True
    result = fit(cfg)
    assert result.engine.module.is_activation_checkpointing
    assert losses(result.history) == pytest.approx(plain, abs=1e-6)


def test_eval_per_task_type_checkpoint_retention_and_tensorboard(tmp_path, data):
    cfg = small_config(tmp_path, data, max_steps=6, micro_batch_size=4, eval_every=3, save_every=2, keep_checkpoints=2)
    cfg.data.eval_split = 0.25
    result = fit(cfg)
    evals = [row for row in result.history if "eval_loss" in row]
    assert [row["step"] for row in evals] == [3, 6]
    assert {"eval_loss/math/add", "eval_loss/chat/echo", "eval_loss/cls/label", "eval_loss/math"} <= set(evals[0])
    assert evals[1]["eval_loss"] < evals[0]["eval_loss"]
    ckpts = os.path.join(cfg.out, "checkpoints")
    assert sorted(d for d in os.listdir(ckpts) if d.startswith("step-")) == ["step-4", "step-6"]  # last K kept
    assert open(os.path.join(ckpts, "latest")).read().strip() == "step-6"  # the end is saved too
    events = os.listdir(os.path.join(cfg.out, "tensorboard"))
    assert any(name.startswith("events.out.tfevents") for name in events)


def test_new_special_tokens_are_added_and_trained(tmp_path, data):
    cfg = small_config(tmp_path, data, max_steps=1, micro_batch_size=4)
    cfg.model.special_tokens = ["<e1>", "<e2>"]
    result = fit(cfg)
    model = result.engine.module
    assert model.get_input_embeddings().weight.shape[0] == 2050
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(result.model_dir)
    assert tok.convert_tokens_to_ids("<e2>") == 2049 and tok.tokenize("x <e1> y").count("<e1>") == 1


def test_resume_restores_random_state_so_dropout_runs_continue_exactly(tmp_path, data):
    """LoRA dropout draws random numbers every step: a resumed run only matches with the RNG restored. Also:
    a checkpoint is written at the end, and --resume without a checkpoint says so."""
    cfg = small_config(tmp_path, data, micro_batch_size=4, max_steps=5, save_every=2)
    cfg.lora.enabled, cfg.lora.r, cfg.lora.dropout, cfg.keep_checkpoints = True, 4, 0.5, 3
    full = losses(fit(cfg).history)
    ckpts = os.path.join(cfg.out, "checkpoints")
    assert sorted(d for d in os.listdir(ckpts) if d.startswith("step-")) == ["step-2", "step-4", "step-5"]
    shutil.rmtree(os.path.join(ckpts, "step-5"))
    shutil.rmtree(os.path.join(ckpts, "step-4"))
    with open(os.path.join(ckpts, "latest"), "w") as f:
        f.write("step-2\n")
    cfg.resume = True
    resumed = [row["loss"] for row in fit(cfg).history if "loss" in row and row["step"] > 2]
    assert resumed == pytest.approx(full[2:], abs=1e-6)

    fresh = small_config(tmp_path / "fresh", data, micro_batch_size=4, max_steps=1, resume=True)
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        fit(fresh)
    assert f"[resume] no checkpoint in {os.path.join(fresh.out, 'checkpoints')}: starting from step 0" in printed.getvalue()


def test_lora_trains_and_saves_the_rows_of_new_tokens(tmp_path, data):
    from peft import PeftModel

    cfg = small_config(tmp_path, data, max_steps=2, micro_batch_size=4)
    cfg.lora.enabled, cfg.lora.r = True, 4
    cfg.model.special_tokens = ["<e1>", "<e2>"]
    result = fit(cfg)
    base = load_model("tiny", seed=0)
    base.resize_token_embeddings(2050, mean_resizing=False)  # other values in the new rows than the run had
    reloaded = PeftModel.from_pretrained(base, result.model_dir).eval()
    model = result.engine.module.eval()
    probe = torch.tensor([[5, 2048, 6, 2049, 7]])
    with torch.no_grad():
        assert torch.allclose(reloaded(probe).logits, model(probe).logits, atol=1e-5)


def test_lora_under_zero3_saves_a_merged_model(tmp_path, data):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = small_config(tmp_path, data, max_steps=2, micro_batch_size=4)
    cfg.lora.enabled, cfg.lora.r, cfg.lora.save_merged, cfg.engine.zero_stage = True, 4, True, 3
    result = fit(cfg)
    probe = torch.tensor([[5, 6, 7, 8, 9]])
    merged = AutoModelForCausalLM.from_pretrained(os.path.join(result.model_dir, "merged")).eval()
    adapter = PeftModel.from_pretrained(load_model("tiny", seed=0), result.model_dir).eval()
    with torch.no_grad():
        assert torch.allclose(merged(probe).logits, adapter(probe).logits, atol=1e-4)
        assert not torch.allclose(merged(probe).logits, load_model("tiny", seed=0)(probe).logits, atol=1e-4)
