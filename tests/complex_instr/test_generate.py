"""Shoot, then draw: every written sample's final constraints verify, exclusive types never co-occur, the report
counts add up, bad input is named, and the same seed gives the same bytes (sharded or not)."""

import json
import os
import random
import subprocess
import sys
from itertools import combinations

import pytest

from core.data.records import read_records, validate_record
from suites.complex_instr import constraints as lib
from suites.complex_instr.compose import sample_constraints
from suites.complex_instr.constraints.base import Context
from suites.complex_instr.generate import generate, held_out, main
from suites.complex_instr.shoot_draw import DrawConfig, draw_target
from suites.complex_instr.sources import PairError, load_seed_pairs, read_pairs


def assert_sample_holds(record):
    validate_record(record)
    meta = record["meta"]
    final = meta["constraints"]
    assert final, record
    for c in final:
        assert lib.get(c["type"]).verify(record["messages"][-1]["content"], c["params"]), (c, record)
    types = [c["type"] for c in final]
    assert len(set(types)) == len(types)
    for a, b in combinations(types, 2):
        assert b not in lib.CONFLICTS[a], (a, b)
    assert lib.conflicts(final, meta["response_lang"]) == []
    assert record["task_type"] == f"complex_instr/{meta['lang']}/k{len(final)}"


def test_thousands_of_samples_verify_and_never_combine_exclusive_types():
    records = generate(3000, 11, "mix")
    assert len(records) == 3000
    seen = set()
    for record in records:
        assert_sample_holds(record)
        seen.update(c["type"] for c in record["meta"]["constraints"])
        originals = record["meta"]["original_constraints"]
        assert lib.conflicts(originals, record["meta"]["response_lang"]) == [] or any(
            c["type"] == "language:response_language" for c in originals)
    assert seen == set(lib.TYPES)  # the default offline run yields every type
    assert {r["meta"]["lang"] for r in records} == {"en", "zh"}
    assert len({r["meta"]["layout"] for r in records}) == 6


def test_sampled_constraint_sets_are_compatible():
    for i in range(5000):
        rng = random.Random(i)
        lang = rng.choice(["en", "zh"])
        k = rng.randint(1, 8)
        ctx = Context(rng=rng, lang=lang, response_lang=lang, instruction=rng.choice(["", "Write a poem."]))
        chosen = sample_constraints(ctx, k)
        assert len(chosen) == k
        assert lib.conflicts(chosen, lang) == [], chosen


def test_a_keyword_is_not_required_twice_nor_required_and_forbidden():
    exists = {"type": "keywords:existence", "params": {"keywords": ["太阳", "月亮"]}}
    at_least = {"type": "keywords:frequency", "params": {"keyword": "太阳", "relation": "at least", "frequency": 1}}
    less_than = {"type": "keywords:frequency", "params": {"keyword": "太阳", "relation": "less than", "frequency": 2}}
    forbidden = {"type": "keywords:forbidden_words", "params": {"forbidden_words": ["月亮"]}}
    assert lib.conflicts([exists, at_least], "zh") == ["keywords:existence and keywords:frequency name the same word"]
    assert lib.conflicts([at_least, exists], "zh") == ["keywords:frequency and keywords:existence name the same word"]
    assert lib.conflicts([exists, less_than], "zh") == []  # "include 太阳, less than twice": exactly once
    assert lib.conflicts([exists, forbidden], "zh") == ["keywords:existence and keywords:forbidden_words name the same word"]
    assert lib.conflicts([less_than, {"type": "keywords:forbidden_words", "params": {"forbidden_words": ["太阳"]}}],
                         "zh") == []


FRAGMENTS = ["The harbour was quiet. ", "NASA, ", "春天来了，", "花园里很安静。", "\n\n", "- item\n", "P.S. later",
             "🎉", '"', "<<T>>", "[name] ", "Section 1\n", "le chat est sur la table et il dort. ", "???", "My answer is no."]


def random_pairs(path, n, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            response = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))).strip() or "ok"
            f.write(json.dumps({"instruction": rng.choice(["Tell me something.", "随便说点什么。"]),
                                "response": response, "id": f"r{i}"}, ensure_ascii=False) + "\n")


def test_user_pairs_with_messy_responses(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    random_pairs(pairs, 400)
    out = tmp_path / "out.jsonl"
    report = main(["--input", str(pairs), "--out", str(out), "--lang", "mix", "--seed", "5"])
    records = read_records(out)
    skipped = sum(report.get("skipped_samples", {}).values())
    assert report["written"] + skipped == 400 and len(records) == report["written"] >= 360
    for record in records:
        assert_sample_holds(record)
        assert record["meta"]["source"] == "input"


def test_retarget_drop_and_add_events():
    response = " ".join(["word"] * 189) + "."
    originals = [{"type": "length_constraints:number_words", "params": {"relation": "at least", "num_words": 200}},
                 {"type": "detectable_format:json_format", "params": {}},
                 {"type": "punctuation:no_comma", "params": {}}]
    ctx = Context(rng=random.Random(0), lang="en", response_lang="en", instruction="Write.")
    drawn = draw_target(response, originals, ctx, add=2)
    assert drawn.final[:2] == [
        {"type": "length_constraints:number_words", "params": {"relation": "at least", "num_words": 180}},
        {"type": "punctuation:no_comma", "params": {}}]
    actions = [(e["type"], e["action"], e.get("reason")) for e in drawn.events]
    assert actions[:3] == [("length_constraints:number_words", "retargeted", None),
                           ("detectable_format:json_format", "dropped", "no_target"),
                           ("punctuation:no_comma", "kept", None)]
    assert [a for _, a, _ in actions[3:]] == ["added", "added"] and len(drawn.final) == 4


def test_a_keyword_in_the_wrong_script_is_redrawn():
    response = "Tea leaves unfold slowly in warm water. Tea is calming."
    originals = [{"type": "keywords:forbidden_words", "params": {"forbidden_words": ["春天"]}}]
    ctx = Context(rng=random.Random(0), lang="en", response_lang="en", instruction="Describe tea.")
    drawn = draw_target(response, originals, ctx)
    assert drawn.events[0]["action"] == "retargeted"
    words = drawn.final[0]["params"]["forbidden_words"]
    assert words and all(w.isascii() for w in words)


def test_report_counts_add_up(tmp_path):
    out, report_path = tmp_path / "s.jsonl", tmp_path / "report.json"
    report = main(["--n", "300", "--out", str(out), "--seed", "2", "--lang", "zh", "--report", str(report_path)])
    records = read_records(out)
    by_type = report["constraints"]["by_type"]
    totals = {a: sum(row[a] for row in by_type.values()) for a in ("kept", "retargeted", "dropped", "added")}
    assert totals["kept"] + totals["retargeted"] + totals["added"] == sum(len(r["meta"]["constraints"]) for r in records)
    assert totals["kept"] + totals["retargeted"] + totals["dropped"] == \
        sum(len(r["meta"]["original_constraints"]) for r in records)
    assert sum(report["constraints"]["drop_reasons"].values()) == totals["dropped"]
    assert json.loads(report_path.read_text())["written"] == 300
    assert (tmp_path / "report.png").stat().st_size > 0


def test_same_seed_same_bytes_and_sharding(tmp_path):
    def run(name, *extra):
        path = tmp_path / name
        main(["--n", "240", "--out", str(path), "--seed", "9", "--lang", "mix", *extra])
        return path.read_bytes()

    whole = run("a.jsonl")
    assert run("b.jsonl") == whole
    assert b"".join(run(f"s{k}.jsonl", "--shard", str(k), "--num-shards", "3") for k in range(3)) == whole
    path = tmp_path / "c.jsonl"
    main(["--n", "240", "--out", str(path), "--seed", "10", "--lang", "mix"])
    assert path.read_bytes() != whole


def test_same_bytes_across_processes_with_different_hash_seeds(tmp_path):
    outputs = []
    for hash_seed in ("1", "2"):
        path = tmp_path / f"h{hash_seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "suites.complex_instr.generate", "--n", "150", "--out", str(path),
                        "--lang", "mix", "--seed", "4"], check=True, env=env, capture_output=True)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("line, message", [
    ('{"instruction": "hi"', "p.jsonl:2: invalid JSON"),
    ('{"instruction": "hi"}', "p.jsonl:2: response: missing"),
    ('{"instruction": "hi", "respone": "x"}', "p.jsonl:2: respone: unknown field"),
    ('{"instruction": "hi", "response": "  "}', "p.jsonl:2: response: empty"),
    ('{"instruction": 3, "response": "x"}', "p.jsonl:2: instruction: expected a string, got int"),
    ('{"instruction": "hi", "response": "x", "lang": "fr"}', 'p.jsonl:2: lang: expected "en" or "zh"'),
])
def test_bad_pairs_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text('{"instruction": "ok", "response": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(PairError) as err:
        read_pairs(path)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])


def test_cli_reports_a_bad_pairs_file_without_a_traceback(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"instruction": "Hi", "respone": "typo"}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as err:
        main(["--input", str(path), "--out", str(tmp_path / "o.jsonl")])
    assert str(err.value.code).startswith(f"error: {path}:1: respone: unknown field")


@pytest.mark.parametrize("argv, message", [
    (["--input", "x.jsonl", "--teacher", "hf:tiny"], "--input, --teacher"),
    (["--min-k", "4", "--max-k", "2"], "--min-k 4, --max-k 2"),
    (["--add", "-1"], "--add -1"),
])
def test_bad_option_combinations_are_rejected_up_front(tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(["--out", str(tmp_path / "o.jsonl"), *argv])
    assert message in str(err.value.code)


def test_train_and_eval_splits_share_no_seed_pair():
    train = {r["meta"]["pair_id"] for r in generate(400, 1, "mix", split="train")}
    held = {r["meta"]["pair_id"] for r in generate(200, 2, "mix", split="eval")}
    assert train and held and not train & held
    by_id = {p.id: p for p in load_seed_pairs()}
    assert all(held_out(by_id[i]) for i in held) and not any(held_out(by_id[i]) for i in train)


def test_teacher_answers_are_the_arrows(tmp_path):
    out = tmp_path / "t.jsonl"
    report = main(["--n", "6", "--out", str(out), "--teacher", "hf:tiny", "--teacher-max-tokens", "24",
                   "--teacher-temperature", "1.0", "--lang", "en", "--min-k", "2", "--max-k", "3"])
    records = read_records(out)
    assert len(records) + sum(report.get("skipped_samples", {}).values()) == 6 and len(records) >= 3
    for record in records:
        assert_sample_holds(record)
        meta = record["meta"]
        assert meta["source"] == "teacher" and meta["teacher"] == "hf:tiny"
        assert meta["asked"][-1]["role"] == "user" and 2 <= len(meta["original_constraints"]) <= 3


def test_draw_config_defaults_are_valid():
    DrawConfig().check()
