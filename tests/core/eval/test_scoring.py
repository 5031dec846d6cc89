"""The shared eval harness (core.eval.scoring) and the suite pipeline (core.eval.pipeline) on a toy copy task."""

import json
import os
import random

import pytest

from core.eval.scoring import (
    aggregate,
    eval_cli,
    find_scorer,
    format_table,
    read_replies,
    score_replies,
    split_prompt,
)


def copy_record(word: str, task_type: str = "toy/copy") -> dict:
    return {"messages": [{"role": "system", "content": "copy"}, {"role": "user", "content": f"repeat: {word}"},
                         {"role": "assistant", "content": word}], "task_type": task_type}


def exact_scorer(record: dict, reply: str) -> dict:
    reference = record["messages"][-1]["content"]
    return {"correct": reply.strip() == reference, "contains": reference in reply,
            "long": (len(reply) > 5) if record["task_type"] == "toy/long" else None}


def test_split_prompt_cuts_before_the_last_assistant_message():
    record = copy_record("x")
    record["messages"] += [{"role": "user", "content": "again"}, {"role": "assistant", "content": "x again"}]
    prompt, reference = split_prompt(record)
    assert [m["content"] for m in prompt["messages"]] == ["copy", "repeat: x", "x", "again"]
    assert reference["content"] == "x again" and prompt["task_type"] == "toy/copy"
    assert record["messages"][-1]["content"] == "x again"  # the input is not modified


def test_aggregate_means_over_applicable_samples_per_task_type_level_and_all():
    records = [copy_record("a"), copy_record("bb"), copy_record("c", "toy/long"), copy_record("dddddd", "toy/long")]
    scores = score_replies(records, ["a", "b bb", "c", ["dddddd", "x"]], exact_scorer)
    agg = aggregate(scores)
    assert list(agg) == ["toy/copy", "toy/long", "toy", "ALL"]
    assert agg["toy/copy"] == {"n": 2, "contains": 1.0, "correct": 0.5}
    assert agg["toy/long"] == {"n": 2, "contains": 1.0, "correct": 1.0, "long": 0.5}
    assert agg["ALL"]["correct"] == 0.75 and agg["ALL"]["long"] == 0.5 and agg["toy"]["n"] == 4
    assert scores[3].metrics[1]["correct"] == 0.0  # every draw is scored; aggregate reads the first
    table = format_table(agg)
    assert table.splitlines()[0].split() == ["task_type", "n", "correct", "contains", "long"]
    assert table.splitlines()[3].split() == ["toy/long", "2", "1.000", "1.000", "0.500"]
    assert table.splitlines()[2].split()[-1] == "-"  # "long" does not apply to toy/copy
    both = format_table(agg, ["correct"], columns={"before": aggregate(scores[:1]), "after": agg})
    assert both.splitlines()[0].split() == ["task_type", "n", "correct", "before", "correct", "after"]


def test_a_scorer_without_correct_is_rejected():
    with pytest.raises(ValueError, match="no 'correct' metric"):
        score_replies([copy_record("a")], ["a"], lambda r, s: {"contains": 1.0})
    with pytest.raises(ValueError, match="1 records but 2 replies"):
        score_replies([copy_record("a")], ["a", "b"], exact_scorer)


def test_read_replies_names_file_line_and_field(tmp_path):
    path = tmp_path / "replies.jsonl"
    path.write_text('{"reply": "a"}\n{"replies": ["b", "c"]}\n')
    assert read_replies(str(path), 2) == [["a"], ["b", "c"]]
    path.write_text('{"reply": "a"}\n{"answer": "b"}\n')
    with pytest.raises(ValueError, match=r"replies.jsonl:2: reply: expected"):
        read_replies(str(path), 2)
    path.write_text('{"reply": "a"}\n')
    with pytest.raises(ValueError, match="1 replies for 2 eval records"):
        read_replies(str(path), 2)


def test_find_scorer_by_module_path_and_unknown_name():
    assert find_scorer("tests.core.eval.test_scoring:exact_scorer") is exact_scorer
    assert find_scorer("no_such_suite") is None


def test_eval_cli_scores_given_responses_and_writes_json(tmp_path, capsys):
    from core.data.records import write_records

    data, replies, out = tmp_path / "eval.jsonl", tmp_path / "r.jsonl", tmp_path / "res" / "eval.json"
    write_records(str(data), [copy_record("a"), copy_record("b")])
    replies.write_text('{"reply": "a"}\n{"reply": "nope"}\n')
    agg = eval_cli(["--data", str(data), "--responses", str(replies), "--out", str(out)], "prog", "d", exact_scorer)
    assert agg["ALL"]["correct"] == 0.5
    saved = json.loads(out.read_text())
    assert saved["samples"][1] == {"task_type": "toy/copy", "replies": ["nope"],
                                   "metrics": [{"correct": 0.0, "contains": 0.0}]}
    assert "toy/copy" in capsys.readouterr().out


def toy_generate(n: int, seed: int, lang: str, split: str) -> list[dict]:
    rng = random.Random(f"{seed}:{split}")
    return [copy_record(rng.choice(["alpha", "beta", "gamma", "delta"])) for _ in range(n)]


@pytest.mark.slow
def test_run_suite_generates_trains_scores_before_and_after(tmp_path, capsys):
    from core.eval.pipeline import run_suite
    from core.train.config import TrainConfig

    defaults = TrainConfig(progress=False)
    defaults.data.cache_dir = str(tmp_path / "cache")
    defaults.optim.lr = 3e-3
    out = str(tmp_path / "run")
    argv = ["--out", out, "--n-train", "32", "--n-eval", "4", "--max-steps", "3", "--micro_batch_size", "8",
            "--eval-max-new-tokens", "4"]
    result = run_suite(argv, "toy", "toy suite", toy_generate, exact_scorer, defaults)
    assert result["fit"].steps == 3
    assert result["before"]["ALL"]["n"] == 4 and result["after"]["ALL"]["n"] == 4
    saved = json.loads(open(os.path.join(out, "eval.json")).read())
    assert saved["after"] == result["after"] and os.path.exists(os.path.join(out, "eval.png"))
    with open(os.path.join(out, "data", "eval.jsonl")) as f:
        assert len(f.readlines()) == 4
    printed = capsys.readouterr().out
    assert "correct before" in printed and "correct after" in printed
    # A re-run with the same parameters reuses the data files.
    run_suite(argv + ["--skip-eval-before"], "toy", "toy suite", toy_generate, exact_scorer, defaults)
    assert "reused (same parameters)" in capsys.readouterr().out
    # Other suite data flags (a teacher, other tools) make other data: it is generated again.
    run_suite(argv + ["--skip-eval-before"], "toy", "toy suite", toy_generate, exact_scorer, defaults,
              data_options={"teacher": "openai:http://127.0.0.1:1/v1#m"})
    assert "reused (same parameters)" not in capsys.readouterr().out



def test_checkpoint_gets_answer_only_mask_and_fine_tuning_lr_unless_flags_say_otherwise(capsys):
    from core.eval.pipeline import resolve_config
    from core.train.config import TrainConfig

    suite = TrainConfig()
    suite.data.paths = ["train.jsonl"]
    suite.data.mask, suite.optim.lr, suite.optim.weight_decay, suite.micro_batch_size = "prompt", 3e-3, 0.1, 16

    tiny = resolve_config([], "prog", "d", suite)
    assert (tiny.data.mask, tiny.optim.lr, tiny.optim.weight_decay) == ("prompt", 3e-3, 0.1)
    assert suite.data.mask == "prompt"  # the suite's defaults are not mutated

    full = resolve_config(["--model", "/ckpt/qwen"], "prog", "d", suite)
    assert (full.data.mask, full.optim.lr, full.optim.weight_decay, full.micro_batch_size) == ("all", 1e-5, 0.0, 16)
    assert "/ckpt/qwen is a checkpoint: defaults data.mask=all, optim.lr=1e-05" in capsys.readouterr().out

    lora = resolve_config(["--model", "/ckpt/qwen", "--lora.enabled", "true"], "prog", "d", suite)
    assert (lora.data.mask, lora.optim.lr) == ("all", 1e-4)

    chosen = resolve_config(["--model", "/ckpt/qwen", "--data.mask", "last", "--optim.lr", "2e-5"], "prog", "d", suite)
    assert (chosen.data.mask, chosen.optim.lr, chosen.optim.weight_decay) == ("last", 2e-5, 0.0)
