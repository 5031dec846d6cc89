"""Mixing: requested shares are hit within rounding, upsampling takes whole copies first, the same seed gives
the same bytes, the composition table's token counts are recomputed independently, and recipe errors
name the recipe file and the field."""

from collections import Counter

import pytest

from core.curate.mix import RecipeError, build_mix, largest_remainder, load_recipe, main
from core.data.chat import render_record
from core.data.records import read_records, write_records


def rec(i, task_type, words=1):
    return {"messages": [{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": " ".join([f"answer{i}"] * words)}],
            "task_type": task_type}


@pytest.fixture
def sources(tmp_path):
    rag = [rec(i, "rag/grounded", 1 + i % 3) for i in range(30)] + [rec(100 + i, "rag/empty") for i in range(10)]
    rag += [rec(200 + i, "rag/conflicting", 2) for i in range(7)]
    write_records(tmp_path / "rag.jsonl", rag)
    write_records(tmp_path / "general.jsonl", [rec(300 + i, "general/chat", 4) for i in range(50)])
    write_records(tmp_path / "agent.jsonl", [rec(400 + i, "agent/single") for i in range(9)])
    return tmp_path


def write_recipe(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_largest_remainder_sums_and_rounds():
    counts = largest_remainder(10, {"a": 1, "b": 1, "c": 1})
    assert sum(counts.values()) == 10 and sorted(counts.values()) == [3, 3, 4]
    counts = largest_remainder(997, {"x": 0.123, "y": 0.456, "z": 0.421})
    assert sum(counts.values()) == 997
    assert all(abs(counts[k] - 997 * w) < 1 for k, w in {"x": 0.123, "y": 0.456, "z": 0.421}.items())


def test_shares_are_hit_within_rounding(sources):
    recipe = write_recipe(sources / "r.yaml", """
seed: 5
total: 331
sources:
  - path: rag.jsonl
    share: 0.55
    task_types:
      rag/conflicting: {share: 0.2}
      rag/empty: {share: 0.3}
  - path: general.jsonl
    share: 0.3
  - path: agent.jsonl
    share: 0.15
""")
    mixed, _, _ = build_mix(load_recipe(recipe))
    by_source = Counter(r["meta"]["mix_source"] for r in mixed)
    assert len(mixed) == 331
    for name, share in {"rag": 0.55, "general": 0.3, "agent": 0.15}.items():
        assert abs(by_source[name] - share * 331) < 1, (name, by_source[name])
    rag = Counter(r["task_type"] for r in mixed if r["meta"]["mix_source"] == "rag")
    n_rag = by_source["rag"]
    assert abs(rag["rag/conflicting"] - 0.2 * n_rag) < 1 and abs(rag["rag/empty"] - 0.3 * n_rag) < 1
    assert rag["rag/grounded"] == n_rag - rag["rag/conflicting"] - rag["rag/empty"]


def test_upsampling_whole_copies_first_and_first_level_rules(sources):
    recipe = write_recipe(sources / "r.yaml", """
seed: 1
task_types:
  rag: 2.0
sources:
  - path: rag.jsonl
    task_types:
      rag/empty: {upsample: 0.5}
  - path: agent.jsonl
    upsample: 2.5
""")
    mixed, _, _ = build_mix(load_recipe(recipe))
    counts = Counter(r["task_type"] for r in mixed)
    assert counts == {"rag/grounded": 60, "rag/conflicting": 14, "rag/empty": 5, "agent/single": 22}
    copies = Counter(r["messages"][0]["content"] for r in mixed if r["task_type"] == "agent/single")
    assert sorted(copies.values()) == [2] * 5 + [3] * 4  # 2 whole copies of 9, then 4 more
    empties = Counter(r["messages"][0]["content"] for r in mixed if r["task_type"] == "rag/empty")
    assert len(empties) == 5 and set(empties.values()) == {1}


def test_same_seed_same_bytes_other_seed_other_mix(sources):
    recipe = write_recipe(sources / "r.yaml", "seed: 4\nsources:\n  - path: rag.jsonl\n    upsample: 1.5\n"
                                               "  - path: general.jsonl\n    upsample: 0.5\n")
    a, b, c = (sources / f"{n}.jsonl" for n in "abc")
    main([recipe, "--out", str(a), "--no-tokens"])
    main([recipe, "--out", str(b), "--no-tokens"])
    main([recipe, "--out", str(c), "--no-tokens", "--seed", "5"])
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    assert len(read_records(a)) == len(read_records(c)) == round(1.5 * 47) + 25


def test_composition_table_tokens_recomputed_independently(sources, tiny_tokenizer, capsys):
    recipe = write_recipe(sources / "r.yaml", "seed: 2\ntotal: 120\nsources:\n  - path: rag.jsonl\n    share: 2\n"
                                               "  - path: general.jsonl\n    share: 1\n")
    out, report = sources / "mix.jsonl", sources / "mix.md"
    table = main([recipe, "--out", str(out), "--report", str(report)])
    written = read_records(out)
    expected_samples = Counter(r["task_type"] for r in written)
    expected_tokens = Counter()
    for r in written:
        expected_tokens[r["task_type"]] += render_record(r, tiny_tokenizer).num_trained
    assert table["samples"] == dict(expected_samples) and table["trained_tokens"] == dict(expected_tokens)
    assert table["by_source"] == {"general": 40, "rag": 80}
    printed = capsys.readouterr().out
    assert f"{'ALL':<30}{120:>9}{'100.0%':>8}{sum(expected_tokens.values()):>16}" in printed
    assert "| general/chat | 40 | 33.3% |" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize("body, message", [
    ("sources:\n  - path: rag.jsonl\n    share: 0.5\n  - path: general.jsonl\n",
     "sources[1].share: missing; either every source has a share or none has"),
    ("sources:\n  - path: rag.jsonl\n    weight: 2\n", "sources[0].weight: unknown field"),
    ("sources:\n  - path: nope.jsonl\n", "sources[0].path: "),
    ("sources:\n  - path: rag.jsonl\n    share: lots\n", "sources[0].share: expected a number, got 'lots'"),
    ("sources:\n  - path: rag.jsonl\n    share: 1\n    task_types:\n      rag/empty: {share: 0.7}\n"
     "      rag/grounded: {share: 0.5}\n", "sources[0].task_types: shares sum to 1.2 > 1"),
    ("sources:\n  - path: general.jsonl\n    task_types:\n      rag/empty: 2\n",
     "sources[0].task_types.rag/empty: no sample of this task_type"),
    ("total: 10\nsources:\n  - path: rag.jsonl\n", "total: only used with shares"),
    ("sources:\n  - path: rag.jsonl\n    task_types:\n      rag/empty: {share: 0.5, upsample: 2}\n",
     "sources[0].task_types.rag/empty: give exactly one of share or upsample"),
    ("sourcs: []\n", "sourcs: unknown field"),
    ("seed: abc\nsources:\n  - path: rag.jsonl\n", "seed: expected an integer, got 'abc'"),
    ("task_types:\n  rag/empty: {share: 0.2}\nsources:\n  - path: rag.jsonl\n", "task_types.rag/empty: shares belong"),
])
def test_recipe_errors_name_file_and_field(sources, body, message):
    recipe = write_recipe(sources / "bad.yaml", body)
    with pytest.raises(RecipeError) as err:
        build_mix(load_recipe(recipe))
    assert str(err.value).startswith(f"{recipe}: ") and message in str(err.value)
