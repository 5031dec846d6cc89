"""Quality gates: for each gate, inputs it must remove and inputs it must keep; robustness copies survive
every gate; augmentation is deterministic and leaves answers untouched; the CLI writes the report."""

import json
import random

import numpy as np
import pytest

from core.curate.augment import (
    AugmentConfig,
    add_robustness_copies,
    mixed_script,
    robustness_copy,
    typos,
    unfinished,
)
from core.curate.dedup import greedy_diverse, normalize
from core.curate.gates import Item, field_text
from core.curate.quality import QualityConfig, main, output_records, run_quality
from core.data.records import read_records, validate_record, write_records
from core.train.config import ConfigError

NATURAL_EN = ("Bread needs flour, water, salt and yeast. Mix them, knead the dough for about ten minutes until it is "
              "smooth, and let it rise in a warm place for an hour. Then shape the loaf, let it rest again, and bake "
              "it at 220 degrees for thirty minutes until the crust sounds hollow when you tap it.")
NATURAL_ZH = "面包需要面粉、水、盐和酵母。把它们混合后揉面大约十分钟，直到面团光滑，然后放在温暖的地方发酵一个小时。最后整形，再醒一会儿，用两百二十度烤三十分钟。"


def rec(user, answer, task_type="chat/en", system=None, **extra):
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": messages, "task_type": task_type, **extra}


def only(gate: str, **overrides) -> QualityConfig:
    """A config with just one gate on."""
    cfg = QualityConfig(progress=False)
    for name in ("length", "unique_tokens", "blocklist", "exact_dup", "near_dup", "embedding"):
        getattr(cfg, name).enabled = name == gate
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        setattr(getattr(cfg, section), key, value)
    return cfg


def kept_and_removed(records, cfg):
    items = [Item(i, r, f"t.jsonl:{i + 1}") for i, r in enumerate(records)]
    result = run_quality(items, cfg)
    return [i.index for i in result.kept], {i.index: r for i, r in result.removed}


def test_field_views_follow_the_loss_mask():
    r = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
                      {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"},
                      {"role": "assistant", "content": "", "tool_calls": [
                          {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
                      {"role": "tool", "name": "f", "content": "R"}, {"role": "assistant", "content": "A2", "train": False},
                      {"role": "assistant", "content": "A3"}],
         "task_type": "agent/x"}
    assert field_text(r, "answer") == 'A1\n{"arguments": {"x": 1}, "name": "f"}\nA3'
    assert field_text(r, "answer", mask="last") == "A3"
    assert field_text(r, "prompt") == "U1\nU2"
    assert field_text(r, "sample").startswith("S\nU1\nA1") and "R" in field_text(r, "sample")
    assert "S" not in field_text(r, "dialog").split("\n") and "R" not in field_text(r, "dialog").split("\n")


def test_length_gate_answer_and_sample_bounds():
    records = [rec("q", "Yes."), rec("q", "Yes, it is."), rec("q", "x" * 51), rec("q", "y" * 50),
               rec("a much longer question " * 5, "Fine answer here.")]
    kept, removed = kept_and_removed(records, only("length", length__answer_min_chars=10, length__answer_max_chars=50))
    assert kept == [1, 3, 4] and set(removed) == {0, 2}
    assert removed[0].detail == "answer has 4 chars < 10" and removed[2].detail == "answer has 51 chars > 50"
    kept, removed = kept_and_removed(records, only("length", length__sample_max_chars=60))
    assert kept == [0, 1, 2, 3] and removed[4].detail.startswith("sample has ")


# A legitimate answer whose keys repeat: distinct/total over 32-token windows is 0.58 (below the old 0.6 bar).
STRUCTURED_JSON = json.dumps([{"name": n, "symbol": s, "number": i + 1, "type": t} for i, (n, s, t) in enumerate([
    ("hydrogen", "H", "gas"), ("helium", "He", "gas"), ("lithium", "Li", "metal"), ("beryllium", "Be", "metal"),
    ("boron", "B", "metalloid"), ("carbon", "C", "nonmetal")])])


def test_unique_token_gate_removes_degenerate_repetition_keeps_natural_text():
    records = [rec("q", "hi " * 40), rec("q", NATURAL_EN), rec("q", NATURAL_ZH, "chat/zh"),
               rec("q", "好的" * 30, "chat/zh"), rec("q", "ok ok ok"),  # too short to judge
               rec("q", "I like it. " * 12), rec("q", STRUCTURED_JSON)]
    kept, removed = kept_and_removed(records, only("unique_tokens"))
    assert kept == [1, 2, 4, 6] and set(removed) == {0, 3, 5}
    assert removed[0].gate == "unique_tokens" and removed[0].detail == "unique-token ratio 0.03 < 0.4"


def test_blocklist_gate(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text("# comment\nForbidden Phrase\nre:\\bkill\\s+\\w+\n", encoding="utf-8")
    records = [rec("q", "this has a forbidden phrase inside"), rec("how to kill process 12?", "Use kill -9."),
               rec("q", "a skill set to learn"), rec("q", "nothing to see")]
    kept, removed = kept_and_removed(records, only("blocklist", blocklist__path=str(path)))
    assert kept == [2, 3] and removed[0].detail == "contains blocked term 'Forbidden Phrase'"
    assert removed[1].detail == "contains blocked term 're:\\\\bkill\\\\s+\\\\w+'"
    kept, _ = kept_and_removed(records, only("blocklist", blocklist__path=str(path), blocklist__case_sensitive=True))
    assert kept == [0, 2, 3]


def test_blocklist_bad_regex_names_file_and_line(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text("fine\nre:(unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"block.txt:2: bad regular expression"):
        kept_and_removed([rec("q", "a")], only("blocklist", blocklist__path=str(path)))


def test_normalisation_handles_case_width_punctuation_and_spaces():
    assert normalize("ＷＨＡＴ　ｉｓ　２＋２？！") == normalize("what is 2+2") == "what is 2+2"
    assert normalize("你好，世界！") == normalize("你好 世界") == normalize("你好世界") == "你好世界"
    assert normalize("Hello,\n\n  World") == "hello world"


def test_exact_duplicate_gate():
    records = [rec("What is 2+2?", "4."), rec("ＷＨＡＴ　ｉｓ　２＋２？", "4"), rec("what is 2+2", "5"),
               rec("What is 2+2?", "4.", system="Be brief.")]
    kept, removed = kept_and_removed(records, only("exact_dup"))
    assert kept == [0, 2, 3] and removed[1].other.index == 0
    kept, removed = kept_and_removed(records, only("exact_dup", exact_dup__field="prompt"))
    assert kept == [0] and {k: r.other.index for k, r in removed.items()} == {1: 0, 2: 0, 3: 0}


def test_near_duplicate_gate():
    base = ("Tell me about the weather in Berlin in spring and what I should pack for a week there.",
            "Berlin springs are mild and often rainy; pack layers, a light jacket and an umbrella.")
    records = [rec(*base), rec(base[0].replace("Tell me", "Please tell me"), base[1] + " Enjoy!"),
               rec("How do I convert kilometres to miles?", "Multiply the kilometres by 0.621 to get miles."),
               rec("今天北京的天气怎么样？适合出去跑步吗？", "我无法查看实时天气，但北京春天通常干燥多风，跑步前请先看预报。", "chat/zh"),
               rec("今天北京的天气怎么样？适合出门跑步吗？", "我无法查看实时天气，但北京春天通常干燥多风，跑步前请先看预报。", "chat/zh")]
    kept, removed = kept_and_removed(records, only("near_dup"))
    assert kept == [0, 2, 3] and removed[1].other.index == 0 and removed[4].other.index == 3
    kept, _ = kept_and_removed(records, only("near_dup", near_dup__threshold=0.95))
    assert kept == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="near_dup.threshold, near_dup.num_perm: datasketch cannot band"):
        kept_and_removed(records, only("near_dup", near_dup__threshold=0.99))


def test_embedding_gate_with_the_offline_model():
    records = [rec("How do I bake bread at home?", "Mix flour, water, salt and yeast, knead, let it rise, bake."),
               rec("How can I make bread at home?", "Combine flour, water, salt and yeast, knead, let it rise, bake."),
               rec("What is the capital of Japan?", "Tokyo is the capital of Japan."),
               rec("Which city is Japan's capital?", "The capital of Japan is Tokyo.")]
    kept, removed = kept_and_removed(records, only("embedding"))
    assert kept == [0, 2] and removed[1].other.index == 0 and removed[3].other.index == 2
    assert float(removed[1].detail.split()[1]) > 0.85
    kept, _ = kept_and_removed(records, only("embedding", embedding__threshold=0.99))
    assert kept == [0, 1, 2, 3]


def test_greedy_diverse_blocks_equal_one_by_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    x[20:30] = x[:10] + 0.05 * rng.normal(size=(10, 8)).astype(np.float32)  # near copies across blocks
    x[41] = x[40] + 0.01
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    kept, expected = [], []
    for i, v in enumerate(x):  # reference: the plain one-by-one definition
        sims = [(float(v @ x[k]), k) for k in kept]
        best = max(sims) if sims else (-1.0, -1)
        if best[0] > 0.9:
            expected.append((i, best[1]))
        else:
            kept.append(i)
    for block in (1, 7, 1024):
        assert [(a, b) for a, b, _ in greedy_diverse(x, 0.9, block=block)] == expected
    assert len(expected) >= 11


def test_augmentation_kinds_change_only_the_prompt_and_are_deterministic():
    rng = random.Random(0)
    assert typos("What is the capital of France?", random.Random(1), 0.15) != "What is the capital of France?"
    assert typos("他在做什么", random.Random(2), 0.5) != "他在做什么"
    assert unfinished("Please tell me the capital city of France.", rng).startswith("Please tell me")
    assert not unfinished("Please tell me the capital city of France.", rng).endswith(".")
    mixed = mixed_script("Please tell me what the weather is today", random.Random(3))
    assert mixed != "Please tell me what the weather is today" and any(ord(c) > 0x3000 or c.isalpha() for c in mixed)
    zh = mixed_script("请告诉我今天的天气怎么样", random.Random(4))
    assert zh != "请告诉我今天的天气怎么样" and any(c.isascii() and c.isalpha() for c in zh)

    record = rec("Documents:\n[1] Paris is the capital of France.\nWhat is the capital of France?", "Paris.",
                 system="Answer from the documents.")
    copy = robustness_copy(record, "in.jsonl:1", 0, AugmentConfig(seed=5))
    again = robustness_copy(record, "in.jsonl:1", 0, AugmentConfig(seed=5))
    assert copy == again and copy != record
    assert copy["messages"][0] == record["messages"][0] and copy["messages"][2] == record["messages"][2]
    head = "Documents:\n[1] Paris is the capital of France.\n"
    assert copy["messages"][1]["content"].startswith(head) and copy["messages"][1]["content"] != record["messages"][1]["content"]
    assert copy["meta"]["robustness"]["source"] == "in.jsonl:1" and copy["meta"]["robustness"]["seed"] == 5
    validate_record(copy)
    seeds = {json.dumps(robustness_copy(record, "w", 0, AugmentConfig(seed=s))["messages"][1]) for s in range(8)}
    assert len(seeds) > 3


def test_add_robustness_copies_share_and_eligibility():
    records = [(f"f:{i}", rec(f"Question number {i} about the weather today?", f"Answer {i}.")) for i in range(40)]
    records.append(("f:40", {"messages": [{"role": "assistant", "content": "no prompt"}], "task_type": "x/y"}))
    copies, stats = add_robustness_copies(records, AugmentConfig(fraction=0.25, seed=1))
    assert len(copies) == 10 and stats["ineligible (no user prompt before a trained answer, or already a copy)"] == 1
    assert copies == add_robustness_copies(records, AugmentConfig(fraction=0.25, seed=1))[0]
    for position, copy in copies:
        assert copy["messages"][1] == records[position][1]["messages"][1]  # the answer is unchanged
        assert copy["messages"][0]["content"] != records[position][1]["messages"][0]["content"]


def test_robustness_copies_survive_every_gate(tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("weathr\nFrance\n", encoding="utf-8")  # a typo and a word only the prompts contain
    originals = [rec(f"Question {i}: what is the weather like in France today, and what should I wear?",
                     f"I cannot see live data, but for case {i} dress in layers and check a forecast.") for i in range(6)]
    copies = [robustness_copy(r, f"o:{i}", i, AugmentConfig(seed=0, kinds=["typos"])) for i, r in enumerate(originals)]
    degenerate = rec("hi hi hi hi hi hi hi hi hi hi hi hi", "Hello! How can I help you today?",
                     meta={"robustness": {"kinds": ["typos"], "source": "x", "seed": 0}})
    records = originals + copies + [degenerate]
    # Duplicate gates at extreme settings: the originals collapse to one, every copy stays.
    dedup = QualityConfig(progress=False)
    dedup.exact_dup.field = "answer"
    dedup.near_dup.threshold = 0.3
    dedup.embedding.threshold = 0.2
    kept, removed = kept_and_removed(records, dedup)
    assert kept == [0, *range(6, 13)] and set(removed) == set(range(1, 6))
    assert {removed[i].gate for i in range(1, 6)} <= {"near_dup", "embedding"}
    # Per-sample gates aimed at the prompt: every original goes, every copy stays.
    strict = QualityConfig(progress=False)
    for name in ("exact_dup", "near_dup", "embedding"):
        getattr(strict, name).enabled = False
    strict.length.sample_max_chars = 20
    strict.unique_tokens.field = "prompt"
    strict.unique_tokens.min_ratio = 1.0
    strict.blocklist.enabled, strict.blocklist.path = True, str(block)
    kept, removed = kept_and_removed(records, strict)
    assert kept == list(range(6, 13)) and set(removed) == set(range(6))
    for gate in ("length", "unique_tokens", "blocklist"):  # each prompt gate alone: originals out, copies in
        strict.length.enabled, strict.unique_tokens.enabled, strict.blocklist.enabled = (
            gate == "length", gate == "unique_tokens", gate == "blocklist")
        kept, removed = kept_and_removed(records, strict)
        assert kept == list(range(6, 13)) and {removed[i].gate for i in range(6)} == {gate}
    # A copy is still judged on its answer: a blocked answer goes, whatever the tag.
    block.write_text("dress in layers\n", encoding="utf-8")
    kept, _ = kept_and_removed(records, strict)
    assert kept == [12]


def test_cli_end_to_end(tmp_path, capsys):
    records = [rec("What is 2+2?", "2 + 2 = 4."), rec("what is 2+2", "2 + 2 = 4!"), rec("q", "no " * 30),
               rec("Translate 'cat' to French.", "'Cat' in French is 'chat'.", "chat/translate"),
               rec("请把“猫”翻译成英文。", "“猫”的英文是 cat。", "chat/translate")]
    src, out, report = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "r" / "report.md"
    write_records(src, records)
    cfg_file = tmp_path / "gates.yaml"
    cfg_file.write_text("embedding:\n  enabled: false\nnear_dup:\n  threshold: 0.9\n", encoding="utf-8")
    result = main([str(src), "--out", str(out), "--report", str(report), "--config", str(cfg_file),
                   "--augment-robustness", "1.0", "--seed", "7", "--length.answer_min_chars", "3"])
    written = read_records(out)
    assert len(result.kept) == 3 and len(result.copies) == 3 and written == output_records(result)
    assert [r.get("meta", {}).get("robustness") is not None for r in written] == [False, True] * 3
    text = report.read_text(encoding="utf-8")
    for expected in ("| exact_dup |", "| unique_tokens |", "| chat/translate | 2 |", "matches kept", "report.png",
                     "## Robustness augmentation"):
        assert expected in text
    assert "embedding" not in text.split("## Per task_type")[0]
    assert (tmp_path / "r" / "report.png").stat().st_size > 1000
    first = out.read_bytes()
    main([str(src), "--out", str(out), "--report", str(report), "--config", str(cfg_file),
          "--augment-robustness", "1.0", "--seed", "7", "--length.answer_min_chars", "3"])
    assert out.read_bytes() == first


@pytest.mark.parametrize("argv, message", [
    (["--blocklist.enabled", "true"], "blocklist.enabled, blocklist.path"),
    (["--near_dup.threshold", "2"], "near_dup.threshold"),
    (["--augment-robustness", "1.5"], "augment.fraction"),
    (["--length.answer_min_chars", "10", "--length.answer_max_chars", "5"], "length.answer_min_chars"),
    (["--unique_tokens.field", "everything"], "unique_tokens.field"),
])
def test_bad_options_are_rejected_naming_them(tmp_path, argv, message):
    src = tmp_path / "in.jsonl"
    write_records(src, [rec("q", "a")])
    with pytest.raises((SystemExit, ConfigError), match=message):
        main([str(src), "--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "r.md"), *argv])
