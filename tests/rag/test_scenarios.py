"""Scenario invariants over thousands of samples of the default mix (English and Chinese)."""

from collections import Counter, defaultdict

import pytest
from scipy.stats import chisquare

from core.data.records import validate_record
from suites.rag.eval import mentions, score_reply
from suites.rag.generate import RagDataConfig, RagGenerator, main, parse_shares
from suites.rag.scenarios import DEFAULT_SHARES, ScenarioConfig
from suites.rag.source import find_spans

from .conftest import N_SAMPLES


def user_text(record):
    return record["messages"][1]["content"]


def passage(generator, record, doc_id):
    return generator.sources[record["meta"]["lang"]][0].by_id[doc_id]


def test_every_sample_validates_and_the_mix_follows_the_shares(mixed_records):
    assert len(mixed_records) == N_SAMPLES
    for r in mixed_records:
        validate_record(r)
        assert r["task_type"] == f"rag/{r['meta']['scenario']}" and r["messages"][-1]["role"] == "assistant"
    counts = Counter(r["meta"]["scenario"] for r in mixed_records)
    assert counts == {k: round(v * N_SAMPLES) for k, v in DEFAULT_SHARES.items()}
    langs = Counter(r["meta"]["lang"] for r in mixed_records)
    assert abs(langs["en"] - langs["zh"]) < 0.05 * N_SAMPLES


def test_gold_present_exactly_when_the_scenario_says(mixed_generator, mixed_records):
    for r in mixed_records:
        meta, text = r["meta"], user_text(r)
        scenario = meta["scenario"]
        if scenario == "route":
            continue
        shown = [passage(mixed_generator, r, i) for i in meta["doc_ids"]] if scenario != "conflicting" else None
        answer_in_prompt = bool(find_spans(text.lower(), meta["answer"].lower()))
        if scenario in ("grounded", "multi_doc", "conflicting"):
            assert answer_in_prompt
            for gold_id, position in zip(meta["gold_ids"], meta["gold_positions"]):
                assert meta["doc_ids"][position] == gold_id
                assert passage(mixed_generator, r, gold_id).text in text
        elif scenario == "counterfactual":
            original = meta["altered"]["original"]
            assert not find_spans(text.lower(), original.lower())
            assert find_spans(text.lower(), meta["answer"].lower())
            assert passage(mixed_generator, r, meta["gold_ids"][0]).text not in text
        else:  # empty, irrelevant: the answer is nowhere in the prompt
            assert not answer_in_prompt and meta["gold_positions"] == []
            assert not set(meta["doc_ids"]) & set(meta["gold_ids"])
        if scenario == "empty":
            assert meta["doc_ids"] == [] and meta["num_docs"] == 0
        if scenario in ("grounded", "multi_doc", "counterfactual", "conflicting"):
            # hard negatives (every shown document but the gold, altered and conflicting ones) hold neither the
            # answer nor an alias, nor the altered document's values
            special = meta["conflict"]["positions"] if scenario == "conflicting" else meta["gold_positions"]
            avoid = [meta["answer"], *meta["aliases"]]
            if scenario == "counterfactual":
                avoid.append(meta["altered"]["original"])
            if scenario == "conflicting":
                avoid += meta["conflict"]["values"]
            negatives = [passage(mixed_generator, r, d) for k, d in enumerate(meta["doc_ids"]) if k not in special]
            assert len(negatives) == meta["num_docs"] - len(special)
            for p in negatives:
                assert not any(find_spans(f"{p.title}\n{p.text}".lower(), v.lower()) for v in avoid), (p.id, avoid)
        if scenario == "irrelevant":
            qa_entity = mixed_generator.sources[meta["lang"]][0].by_id[meta["gold_ids"][0]].title
            assert all(qa_entity not in p.text and p.title != qa_entity for p in shown)
        if shown is not None:  # documents are shown in doc_ids order, numbered from 1
            markers = [text.index(f"[{n}]") for n in range(1, len(shown) + 1)]
            assert markers == sorted(markers) and f"[{len(shown) + 1}]" not in text
            for k, p in enumerate(shown):
                if scenario == "counterfactual" and k == meta["altered"]["position"]:
                    continue
                at = text.index(p.text, markers[k])
                assert k + 1 == len(markers) or at < markers[k + 1]


def _positions(records, scenario):
    by_n = defaultdict(list)
    for r in records:
        if r["meta"]["scenario"] == scenario:
            for p in r["meta"]["gold_positions"] if scenario != "conflicting" else r["meta"]["conflict"]["positions"]:
                by_n[r["meta"]["num_docs"]].append(p)
    return by_n


@pytest.mark.parametrize("scenario", ["grounded", "counterfactual", "multi_doc", "conflicting"])
def test_gold_position_is_uniform_over_slots(mixed_records, scenario):
    by_n = _positions(mixed_records, scenario)
    assert sorted(by_n) == [3, 4, 5]
    for n, positions in by_n.items():
        counts = [positions.count(slot) for slot in range(n)]
        assert sum(counts) >= 150
        assert chisquare(counts).pvalue > 0.001, (n, counts)


def test_chi_square_detects_a_biased_position():
    """The uniformity test above can fail: a 60/40/.. skew toward slot 0 is rejected."""
    assert chisquare([300, 200, 200, 200]).pvalue < 0.001


def test_counterfactual_documents_differ_only_in_the_replaced_fact(mixed_generator, mixed_records):
    checked = 0
    for r in mixed_records:
        meta = r["meta"]
        if meta["scenario"] != "counterfactual":
            continue
        altered = meta["altered"]
        original = passage(mixed_generator, r, altered["doc_id"]).text
        (start,) = altered["spans"]
        old, new = altered["original"], altered["replacement"]
        assert original[start : start + len(old)] == old and old != new
        prefix, suffix = original[:start], original[start + len(old) :]
        text = user_text(r)
        block = text.index(f"[{altered['position'] + 1}]")  # the altered document's entry in the prompt
        head = text.index(prefix, block) + len(prefix) if prefix else text.index(new, block)
        tail = text.index(suffix, head) if suffix else head + len(new)
        assert text[head:tail] == new  # the shown document is the original with only the value swapped
        assert meta["doc_ids"][altered["position"]] == altered["doc_id"]
        checked += 1
    assert checked == round(DEFAULT_SHARES["counterfactual"] * N_SAMPLES)


def test_conflicting_samples_hold_two_distinct_values(mixed_generator, mixed_records):
    for r in mixed_records:
        meta = r["meta"]
        if meta["scenario"] != "conflicting":
            continue
        first, second = meta["conflict"]["values"]
        assert first != second and first.lower() not in second.lower() and second.lower() not in first.lower()
        text = user_text(r)
        assert find_spans(text.lower(), first.lower()) and find_spans(text.lower(), second.lower())
        gold_id, other_id = meta["conflict"]["doc_ids"]
        assert [meta["doc_ids"][p] for p in meta["conflict"]["positions"]] == [gold_id, other_id]
        answer = r["messages"][-1]["content"]
        assert mentions(answer, first) and mentions(answer, second)
        for p in meta["conflict"]["positions"]:
            assert f"[{p + 1}]" in answer


def test_reference_answers_score_perfectly_and_cite_the_gold(mixed_records):
    for r in mixed_records:
        metrics = score_reply(r, r["messages"][-1]["content"])
        assert metrics["correct"] == 1.0, (r["task_type"], r["messages"][-1]["content"], metrics)
        assert all(v == 1.0 for k, v in metrics.items() if k != "hallucination")
        assert metrics.get("hallucination", 0.0) == 0.0


def test_answers_vary(mixed_records):
    answers = defaultdict(set)
    templates = defaultdict(set)
    for r in mixed_records:
        answers[r["meta"]["scenario"]].add(r["messages"][-1]["content"])
        templates[(r["meta"]["scenario"], r["meta"]["lang"])].add(r["meta"]["templates"].get("answer"))
    counts = Counter(r["meta"]["scenario"] for r in mixed_records)
    for scenario, texts in answers.items():
        if scenario != "route":
            assert len(texts) / counts[scenario] > 0.95, scenario
    assert all(len(ids) >= 7 for (scenario, _), ids in templates.items() if scenario != "route")


def test_same_seed_same_bytes_and_shards_concatenate(tmp_path):
    args = ["--n", "700", "--seed", "3", "--lang", "mix"]
    main([*args, "--out", str(tmp_path / "a.jsonl")])
    main([*args, "--out", str(tmp_path / "b.jsonl")])
    whole = (tmp_path / "a.jsonl").read_bytes()
    assert whole == (tmp_path / "b.jsonl").read_bytes()
    for k in range(3):
        main([*args, "--out", str(tmp_path / f"s{k}.jsonl"), "--shard", str(k), "--num-shards", "3"])
    assert b"".join((tmp_path / f"s{k}.jsonl").read_bytes() for k in range(3)) == whole
    main(["--n", "700", "--seed", "4", "--lang", "mix", "--out", str(tmp_path / "c.jsonl")])
    assert (tmp_path / "c.jsonl").read_bytes() != whole


def test_same_bytes_in_separate_processes_with_different_hash_seeds(tmp_path):
    """The world and its samples do not depend on Python's string hashing or on what a process cached."""
    import os
    import subprocess
    import sys

    args = ["--n", "400", "--seed", "3", "--lang", "mix"]
    main([*args, "--out", str(tmp_path / "here.jsonl")])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for hash_seed in ("1", "999"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "suites.rag.generate", *args, "--out", str(tmp_path / f"{hash_seed}.jsonl")],
                       cwd=root, env=env, check=True, capture_output=True)
    here = (tmp_path / "here.jsonl").read_bytes()
    assert here.count(b"\n") == 400
    assert (tmp_path / "1.jsonl").read_bytes() == here == (tmp_path / "999.jsonl").read_bytes()


def test_shares_and_docs_options(tmp_path, capsys):
    report = main(["--n", "90", "--out", str(tmp_path / "x.jsonl"), "--shares", "empty=1,rag/route=2",
                   "--docs", "2", "--report", str(tmp_path / "r.json"), "--plot", str(tmp_path / "p.png")])
    assert report["by_task_type"] == {"rag/empty": 30, "rag/route": 60}
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "r.json").exists()
    only_grounded = RagGenerator(200, 1, "zh", RagDataConfig(shares=parse_shares("grounded=1"),
                                                             scenario=ScenarioConfig(2, 2))).generate()
    assert {r["meta"]["num_docs"] for r in only_grounded} == {2}
    for bad, message in [("grounded", "is not SCENARIO=WEIGHT"), ("chat=1", "is not SCENARIO=WEIGHT"),
                         ("grounded=-1", "must be >= 0"), ("grounded=0", "at least one positive")]:
        with pytest.raises(ValueError, match=message):
            parse_shares(bad)
    with pytest.raises(SystemExit, match="need 1 <= min <= max"):
        main(["--n", "5", "--out", str(tmp_path / "y.jsonl"), "--docs", "4-2"])
    with pytest.raises(SystemExit, match="dense/hybrid need --corpus"):
        main(["--n", "5", "--out", str(tmp_path / "y.jsonl"), "--retrieval", "dense"])
