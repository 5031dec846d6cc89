"""Long-context data: exact lengths for two unlike tokenizers, uniform depths, answers recoverable from the
prompt exactly once per needle (checked by an independent solver per task), same seed same bytes, shards."""

import json
import re

import pytest
from scipy.stats import kstest

from core.generation import prompt_ids
from core.records import read_records, validate_record
from core.synth import GenerationReport, Rejected, sample_rng
from suites.longctx import generate as gen
from suites.longctx.tasks import SYNTHETIC_TASKS, SampleFactory, TaskOptions, read_qa


def context_of(record: dict) -> str:
    user = record["messages"][-2]["content"]
    return user.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]


def rendered_length(tokenizer, record: dict) -> int:
    return len(prompt_ids(tokenizer, {"messages": record["messages"][:-1]}))


NEEDLE = {
    "en": r"special magic numbers? for {key} is:? (\d+)",
    "zh": r"{key}的(?:一个)?特殊魔法数字是：?(\d+)",
}
PASSKEY = {"en": r"pass key(?: is| you need is|:) (\d+)", "zh": r"通行密钥(?:是|：)(\d+)"}
HEADING = {"en": r"Chapter (\d+)\n", "zh": r"第(\d+)章\n"}


def solve(record: dict) -> list[str]:
    """Recover the expected answer values from the prompt alone, as a reader would."""
    meta, context = record["meta"], context_of(record)
    task, lang = meta["task"], meta["lang"]
    if task == "passkey":
        return re.findall(PASSKEY[lang], context)
    if task in ("niah_single", "niah_multikey", "niah_multivalue"):
        return re.findall(NEEDLE[lang].format(key=re.escape(meta["key"])), context)
    if task == "niah_multiquery":
        return [v for key in meta["keys"] for v in re.findall(NEEDLE[lang].format(key=re.escape(key)), context)]
    if task == "variable_tracking":
        values: dict[str, str] = {}
        for name, source, number in re.findall(r"VAR ([A-Z]{5}) = (?:VAR ([A-Z]{5})|(\d+))", context):
            values[name] = number or values[source]  # KeyError if a link came before its source
        return [name for name, v in values.items() if v == meta["value"]]
    if task == "counting":
        return [str(context.count(meta["name"]))]
    if task == "chapters":
        parts = re.split(HEADING[lang], context)  # [before, number, text, number, text, ...]
        return [number for number, text in zip(parts[1::2], parts[2::2]) if meta["name"] in text]
    raise AssertionError(task)


def build_one(factory, task, length, lang, seed=7) -> dict:
    """One record, redrawn on a rejection the way core.synth.generate_records does."""
    for attempt in range(20):
        try:
            return factory.build(sample_rng(seed, length, f"{task}{lang}{attempt}"), task, length, lang)
        except Rejected:
            continue
    raise AssertionError(f"{task} at {length} rejected 20 times")


@pytest.fixture(scope="module")
def factories(tiny_tokenizer, second_tokenizer):
    return {"tiny": SampleFactory(tiny_tokenizer, "noise"), "second": SampleFactory(second_tokenizer, "prose")}


@pytest.mark.parametrize("which", ["tiny", "second"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_task_hits_the_length_and_its_answer_is_in_the_prompt(factories, which, lang):
    factory = factories[which]
    for task in SYNTHETIC_TASKS:
        for length in (400, 1500, 6000):
            record = build_one(factory, task, length, lang)
            validate_record(record)
            assert record["task_type"] == f"longctx/{task}"
            actual = rendered_length(factory.tokenizer, record)
            assert abs(actual - length) <= 0.01 * length, (task, length, actual)
            assert record["meta"]["tokens"] == actual and record["meta"]["length"] == length
            answers = record["meta"]["answers"]
            solved = solve(record)
            if record["meta"]["match"] == "set":
                assert sorted(solved) == sorted(answers), (task, lang)
            else:
                assert solved == answers, (task, lang)
            assert 0.0 <= record["meta"]["depth"] <= 1.0
            for value in answers if task not in ("counting", "chapters", "variable_tracking") else []:
                assert record["messages"][-2]["content"].count(value) == 1  # once per needle, nowhere else
            assert all(v in record["messages"][-1]["content"] for v in answers)


@pytest.mark.parametrize("which", ["tiny", "second"])
def test_long_samples_hit_the_length(factories, which):
    factory = factories[which]
    record = build_one(factory, "passkey", 32768, "en")
    actual = rendered_length(factory.tokenizer, record)
    assert abs(actual - 32768) <= 327 and record["meta"]["tokens"] == actual


def test_depths_are_uniform_over_1000_samples(tiny_tokenizer):
    factory = SampleFactory(tiny_tokenizer, "noise")
    records = gen.generate(factory, 1000, seed=3, lang="en", tasks=["passkey"], lengths=[512])
    depths = [r["meta"]["depth"] for r in records]
    assert kstest(depths, "uniform").pvalue > 0.01
    assert min(depths) < 0.01 and max(depths) > 0.99
    # the same holds across every task (the focus needle of multi-needle tasks is drawn uniformly too)
    mixed = gen.generate(factory, 400, seed=4, lang="mix", tasks=list(SYNTHETIC_TASKS), lengths=[600])
    assert kstest([r["meta"]["depth"] for r in mixed], "uniform").pvalue > 0.01


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_classic_passkey_states_the_key_twice_in_its_needle_and_nowhere_else(tiny_tokenizer, lang):
    factory = SampleFactory(tiny_tokenizer, "prose", options=TaskOptions(phrasing="classic", system_share=0.0))
    records = gen.generate(factory, 20, seed=1, lang=lang, tasks=["passkey"], lengths=[112, 256])
    for r in records:
        (value,) = r["meta"]["answers"]
        context = context_of(r)
        assert context.count(value) == 2 and re.findall(PASSKEY[lang], context) == [value]
        assert r["messages"][-1]["content"].replace(value, "#") == records[0]["messages"][-1]["content"].replace(
            records[0]["meta"]["answers"][0], "#")  # one fixed phrasing
    user = [r["messages"][-2]["content"] for r in records]
    assert len({u.split("\n\n")[0] for u in user}) == 1 and len({u.rsplit("\n\n")[-1] for u in user}) == 1


def test_word_passkeys_are_one_token_and_absent_from_the_haystack(tiny_tokenizer):
    # the tiny tokenizer learned its words from the built-in prose: the rarest ones serve, windows are checked
    prose = SampleFactory(tiny_tokenizer, "prose", options=TaskOptions(phrasing="classic", passkey_kind="word"))
    assert len(prose.word_values("en")) == 50
    report = GenerationReport()
    for r in gen.generate(prose, 30, seed=2, lang="en", tasks=["passkey"], lengths=[300], report=report):
        assert context_of(r).count(r["meta"]["answers"][0]) == 2
    factory = SampleFactory(tiny_tokenizer, "noise", options=TaskOptions(phrasing="classic", passkey_kind="word"))
    words = factory.word_values("en")
    assert len(words) >= 20 and len(set(words)) == len(words)
    text = factory.haystack("en").text
    for word in words:
        assert len(tiny_tokenizer(" " + word, add_special_tokens=False)["input_ids"]) == 1 and word not in text
    records = gen.generate(factory, 30, seed=2, lang="en", tasks=["passkey"], lengths=[300])
    assert len({r["meta"]["answers"][0] for r in records}) > 10
    for r in records:
        (value,) = r["meta"]["answers"]
        assert value in words and context_of(r).count(value) == 2 and r["meta"]["match"] == "exact"


def test_accidental_duplicates_in_the_haystack_are_rejected_and_counted(tmp_path, tiny_tokenizer):
    haystack = tmp_path / "numbers.txt"
    haystack.write_text(" ".join(f"Room {n} is on the left." for n in range(10, 60)), encoding="utf-8")
    factory = SampleFactory(tiny_tokenizer, [str(haystack)], options=TaskOptions(passkey_digits=2))
    report = GenerationReport()
    records = gen.generate(factory, 40, seed=0, lang="en", tasks=["passkey"], lengths=[400], report=report)
    assert report.rejected["accidental_duplicate_in_haystack"] > 0
    assert len(records) == 40
    for r in records:
        (value,) = r["meta"]["answers"]
        assert r["messages"][-2]["content"].count(value) == 1  # the window never shows the value elsewhere


def test_same_seed_same_bytes_and_shards_concatenate(tmp_path):
    args = ["--n", "12", "--lengths", "256,700", "--tasks", "passkey,niah_multikey,chapters", "--lang", "mix"]
    gen.main([*args, "--out", str(tmp_path / "a.jsonl"), "--report", str(tmp_path / "r.json")])
    gen.main([*args, "--out", str(tmp_path / "b.jsonl")])
    for k in range(3):
        gen.main([*args, "--out", str(tmp_path / f"s{k}.jsonl"), "--shard", str(k), "--num-shards", "3"])
    whole = (tmp_path / "a.jsonl").read_bytes()
    assert whole == (tmp_path / "b.jsonl").read_bytes()
    assert whole == b"".join((tmp_path / f"s{k}.jsonl").read_bytes() for k in range(3))
    assert len(read_records(tmp_path / "a.jsonl")) == 12
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["written"] == 12 and report["max_relative_length_error"] <= 0.01
    other = tmp_path / "c.jsonl"
    gen.main([*args, "--out", str(other), "--seed", "1"])
    assert other.read_bytes() != whole


def test_fixed_depths_form_a_grid(tiny_tokenizer):
    factory = SampleFactory(tiny_tokenizer, "noise")
    records = gen.generate(factory, 12, seed=0, lang="en", tasks=["passkey"], lengths=[400, 800], depths=[0.0, 0.5, 1.0])
    cells = {(r["meta"]["length"], r["meta"]["requested_depth"]) for r in records}
    assert len(cells) == 6
    for r in records:
        assert abs(r["meta"]["depth"] - r["meta"]["requested_depth"]) < 0.05


def test_user_haystack_files_and_document_qa(tmp_path, tiny_tokenizer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "book.md").write_text("# A book\n\nIt was a calm evening. The lamps were lit one by one.\n" * 30)
    (corpus / "rag.jsonl").write_text(json.dumps({"text": "Harbours fill with boats at dawn. Gulls circle."}) + "\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"document": "The lighthouse keeper of Vell Island is Ansa Morrow. She paints boats.",
                              "question": "Who keeps the lighthouse on Vell Island?", "answer": "Ansa Morrow"}) + "\n")
    out = tmp_path / "qa_out.jsonl"
    gen.main(["--n", "3", "--lengths", "600", "--tasks", "doc_qa,passkey", "--haystack", str(corpus),
              "--qa-data", str(qa), "--out", str(out)])
    records = read_records(out)
    qa_records = [r for r in records if r["task_type"] == "longctx/doc_qa"]
    assert qa_records and all(r["messages"][-1]["content"] == "Ansa Morrow" for r in qa_records)
    for r in qa_records:
        user = r["messages"][-2]["content"]
        assert user.count("The lighthouse keeper of Vell Island is Ansa Morrow.") == 1
        assert "calm evening" in user and user.endswith("Who keeps the lighthouse on Vell Island?")


@pytest.mark.parametrize("line, message", [
    ('{"document": "d", "question": "q"}', "qa.jsonl:2: answer: missing"),
    ('{"document": "d", "question": "q", "answer": 3}', "qa.jsonl:2: answer: expected a non-empty string"),
    ("{not json", "qa.jsonl:2: invalid JSON"),
])
def test_bad_qa_rows_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"document": "d", "question": "q", "answer": "a"}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        read_qa(str(path))


def test_too_short_lengths_are_rejected_not_truncated(tiny_tokenizer):
    factory = SampleFactory(tiny_tokenizer, "noise")
    with pytest.raises(Rejected, match="length_below_prompt"):
        factory.build(sample_rng(0, 0), "niah_multiquery", 40, "en")
