import itertools
import json
import math
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from core.data.records import first_level
from core.eval.evaluate import main
from core.eval.report import Thresholds, pass_at_k, verdict
from core.model.loading import load_model, load_tokenizer
from tests.scripts.eval_fixtures import quiz_scorer, register_quiz_scorer, train_briefly, write_eval_set

N, K = 6, 3
ARGS = ["--max-new-tokens", "8", "--num-samples", str(N), "--k", str(K), "--temperature", "1.0", "--no-progress"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("evaluate")


@pytest.fixture(scope="module")
def quiz_entry_point(workdir):
    """The quiz scorer found the way suites' scorers are: an sft_suites.scorers entry point."""
    register_quiz_scorer(str(workdir / "entry_points"))
    sys.path.insert(0, str(workdir / "entry_points"))
    yield
    sys.path.remove(str(workdir / "entry_points"))


@pytest.fixture(scope="module")
def data(workdir):
    path = workdir / "eval.jsonl"
    return str(path), write_eval_set(str(path))


@pytest.fixture(scope="module")
def model_b(workdir, data):
    return train_briefly(data[1], str(workdir / "trained"), steps=20)


@pytest.fixture(scope="module")
def result(workdir, data, model_b, quiz_entry_point):
    out = workdir / "report"
    main(["--models", "tiny", model_b, "--data", data[0], "--out", str(out), *ARGS])
    with open(out / "results.json", encoding="utf-8") as f:
        saved = json.load(f)
    return saved, (out / "report.md").read_text(encoding="utf-8"), out


def reference_numbers(model, tokenizer, records):
    """Per task_type, from a plain transformers forward (eager attention, one record at a time): token-mean
    loss over every assistant turn not marked train=false (each with its end-of-turn token), and the mean
    over records of the summed log-probability of the last assistant turn."""
    loss_sum, loss_count, logprob = {}, {}, {}
    for record in records:
        messages = record["messages"]
        ids = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        token_logp = {}
        for i in assistant:
            prefix = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
            start = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
            end = ids.index(tokenizer.eos_token_id, start) + 1
            token_logp[i] = [float(logp[j - 1, ids[j]]) for j in range(start, end)]
        for key in (record["task_type"], first_level(record["task_type"]), "ALL"):
            trained = [v for i in assistant if messages[i].get("train", True) for v in token_logp[i]]
            loss_sum[key] = loss_sum.get(key, 0.0) - sum(trained)
            loss_count[key] = loss_count.get(key, 0) + len(trained)
            logprob.setdefault(key, []).append(sum(token_logp[assistant[-1]]))
    return {key: {"eval_loss": loss_sum[key] / loss_count[key], "answer_logprob": sum(logprob[key]) / len(logprob[key])}
            for key in loss_sum}


def markdown_rows(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| task_type"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_pass_at_k_matches_enumeration():
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                draws = [True] * c + [False] * (n - c)
                subsets = list(itertools.combinations(draws, k))
                assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets), abs=1e-12)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 4)


def test_verdict():
    t = Thresholds(pass1=0.1, passk=0.05)
    assert verdict(0.2, 0.0, t) == "noise"  # pass@1 moved, pass@k did not
    assert verdict(-0.2, 0.04, t) == "noise"
    assert verdict(0.2, 0.06, t) == "better"
    assert verdict(-0.2, -0.3, t) == "worse"
    assert verdict(0.0, -0.06, t) == "worse"  # pass@k alone moving is still a change in what it can do
    assert verdict(0.09, 0.04, t) == "same"
    assert verdict(None, None, t) == ""


def test_loss_and_logprob_recomputed_with_plain_transformers(result, data, model_b):
    saved, text, _ = result
    records = data[1]
    table = markdown_rows(text)
    for label, path in (("A", "tiny"), ("B", model_b)):
        model = (load_model("tiny", attn_implementation="eager") if path == "tiny"
                 else AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager")).eval()
        expected = reference_numbers(model, load_tokenizer(path), records)
        groups = saved["models"][label]["groups"]
        assert set(groups) == set(expected) == {"quiz/add", "quiz/colour", "chat/greet", "quiz", "chat", "ALL"}
        column = {"A": 0, "B": 1}[label]
        for key, numbers in expected.items():
            assert groups[key]["n"] == sum(key in (r["task_type"], first_level(r["task_type"]), "ALL") for r in records)
            for metric, cell in (("eval_loss", 2), ("answer_logprob", 5)):
                assert groups[key][metric] == pytest.approx(numbers[metric], abs=1e-4), (label, key, metric)
                assert float(table[key][cell + column]) == pytest.approx(numbers[metric], abs=2e-4)
    # The briefly trained model must be better at what it was trained on.
    for key in ("quiz/add", "quiz/colour", "chat/greet"):
        assert saved["models"]["B"]["groups"][key]["eval_loss"] < saved["models"]["A"]["groups"][key]["eval_loss"]


def test_pass_at_k_recomputed_from_per_sample_correctness(result, data):
    saved, text, _ = result
    records = data[1]
    table = markdown_rows(text)
    per_group = {}
    for label in "AB":
        samples = saved["models"][label]["samples"]
        for record, sample in zip(records, samples):
            if record["task_type"].startswith("chat/"):  # no scorer registered for "chat"
                assert sample["replies"] is None and sample["correct"] is None
                continue
            assert len(sample["replies"]) == N
            assert sample["correct"] == [quiz_scorer(record, reply)["correct"] == 1.0 for reply in sample["replies"]]
            c = sum(sample["correct"])
            for key in (record["task_type"], "quiz", "ALL"):
                per_group.setdefault((label, key), []).append((c / N, 1 - math.comb(N - c, K) / math.comb(N, K)))
    means = {}
    for (label, key), values in per_group.items():
        group = saved["models"][label]["groups"][key]
        p1, pk = means[(label, key)] = tuple(sum(v[i] for v in values) / len(values) for i in (0, 1))
        assert group["n_scored"] == len(values)
        assert (group["pass@1"], group["pass@k"]) == (pytest.approx(p1, abs=1e-12), pytest.approx(pk, abs=1e-12))
        column = {"A": 0, "B": 1}[label]
        assert float(table[key][8 + column]) == pytest.approx(p1, abs=5e-5)
        assert float(table[key][11 + column]) == pytest.approx(pk, abs=5e-5)
    for row in saved["comparison"]:
        if row["group"].startswith("chat"):
            assert row["verdict"] == "" and table[row["group"]][8:] == ["-"] * 6 + [""]
            continue
        d1, dk = row["pass@1"]["delta"], row["pass@k"]["delta"]
        (a1, ak), (b1, bk) = means[("A", row["group"])], means[("B", row["group"])]
        assert (d1, dk) == (pytest.approx(b1 - a1, abs=1e-12), pytest.approx(bk - ak, abs=1e-12))
        assert row["verdict"] == verdict(d1, dk, Thresholds()) == table[row["group"]][-1]
    assert any(0 < v[1] < 1 for v in per_group[("B", "quiz/add")])  # partial correctness: pass@k is exercised


def test_report_files(result):
    _, text, out = result
    assert text.startswith("# ") and f"pass@{K}" in text and "|Δpass@1| >= 0.05" in text
    with open(out / "report.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_same_model_twice_changes_nothing(workdir, data, quiz_entry_point):
    out = workdir / "same"
    saved = main(["--models", "tiny", "tiny", "--data", data[0], "--out", str(out), *ARGS])
    assert saved["models"]["A"]["samples"] == saved["models"]["B"]["samples"]  # same seed, same draws
    for row in saved["comparison"]:
        assert all(row[m]["delta"] in (0.0, None) for m in ("eval_loss", "answer_logprob", "pass@1", "pass@k"))
        assert row["verdict"] in ("same", "")


def test_forced_scorer_and_bad_options(workdir, data, capsys):
    saved = main(["--models", "tiny", "tiny", "--data", data[0], "--out", str(workdir / "forced"), "--limit", "9",
                  "--scorer", "tests.scripts.eval_fixtures:quiz_scorer", "--num-samples", "2", "--k", "2",
                  "--max-new-tokens", "4", "--no-progress"])
    assert saved["header"]["records"] == 9 and all(len(s["correct"]) == 2 for s in saved["models"]["A"]["samples"])
    with pytest.raises(SystemExit, match=r"--k, --num-samples: need 1 <= k <= num_samples, got k=4"):
        main(["--models", "tiny", "tiny", "--data", data[0], "--num-samples", "2", "--k", "4"])
    with pytest.raises(SystemExit, match="--scorer no_such_module:f: ModuleNotFoundError"):
        main(["--models", "tiny", "tiny", "--data", data[0], "--scorer", "no_such_module:f"])
    with pytest.raises(SystemExit, match="--scorer nosuite: no such entry point"):
        main(["--models", "tiny", "tiny", "--data", data[0], "--scorer", "nosuite"])
    with pytest.raises(SystemExit, match="--models: give exactly two models"):
        main(["--models", "tiny", "--data", data[0]])
    with pytest.raises(SystemExit, match="temperature 0 .greedy. gives identical draws"):
        main(["--models", "tiny", "tiny", "--data", data[0], "--temperature", "0"])


def _rows(k):
    from core.eval.report import Thresholds, compare

    def summary(p):
        group = {"n": 4, "n_scored": 4, "eval_loss": 2.0 - p, "answer_logprob": -3.0 + p, "pass@1": p, "pass@k": p}
        return {"ALL": group, "quiz": group, "quiz/add_two_very_long_numbers_with_carries_and_more_words": group}

    return compare(summary(0.25), summary(0.5), Thresholds())


def test_k1_says_pass_at_1_once_and_tables_fit_120_columns():
    from core.eval.report import markdown, terminal

    header = {"A": "runs/a/final", "B": "runs/b/final", "data": "eval.jsonl", "records": 4, "mask": "all",
              "sampling": True, "num_samples": 1, "k": 1, "temperature": 0.7, "seed": 0, "max_new_tokens": 8,
              "scorers": "quiz", "pass1_threshold": 0.05, "passk_threshold": 0.05}
    text = markdown(_rows(1), header)
    assert "pass@1 and pass@1" not in text and "- pass@1: 1 draws per prompt" in text
    assert text.count("pass@1 A") == 1 and "no pass@k to tell noise from a real change" in text
    table = terminal(_rows(1), header)
    assert max(len(line) for line in table.splitlines()) <= 120 and table.count("pass@1") == 1
    assert "0.5000 (+0.2500)" in table and "better" in table
    wide = terminal(_rows(4), {**header, "k": 4})
    assert max(len(line) for line in wide.splitlines()) <= 120 and "pass@4" in wide
