"""Long-context data: exact lengths for two unlike tokenizers, uniform depths, answers recoverable from the
prompt exactly once per needle (checked by an independent solver per task), same seed same bytes, shards."""

import json
import re

import pytest
from scipy.stats import kstest

from core.data.records import read_records, validate_record
from core.model.generation import prompt_ids
from core.synth.generator import GenerationReport, Rejected, sample_rng
from suites.longctx import generate as gen
from suites.longctx.qa import read_qa
from suites.longctx.tasks import SYNTHETIC_TASKS, SampleFactory, TaskOptions


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
    """One record, redrawn on a rejection the way core.synth.generator.generate_records does."""
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
    path.write_text(json.dumps({"document": "d a", "question": "q", "answer": "a"}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        read_qa(str(path))


def test_too_short_lengths_are_rejected_not_truncated(tiny_tokenizer):
    factory = SampleFactory(tiny_tokenizer, "noise")
    with pytest.raises(Rejected, match="length_below_prompt"):
        factory.build(sample_rng(0, 0), "niah_multiquery", 40, "en")


# --- inserts land between sentences, also in hard-wrapped text ---------------------------------------------------


def insert_patterns(lang: str, meta: dict) -> re.Pattern:
    """Every insert a record can hold (needles, assignments, mentions, headings), built from the templates with
    the placeholders as patterns; longer templates first, so a template's suffix never matches alone."""
    from suites.longctx import templates as T

    key = f"(?:{'|'.join(T.ADJECTIVES[lang])}){'-' if lang == 'en' else ''}(?:{'|'.join(T.NOUNS[lang])})"
    name = re.escape(meta.get("name", "")) or "(?!)"
    fill = {"value": r"\d+", "key": key, "name": name, "source": "[A-Z]{5}"}
    templates = (T.PASSKEY[lang]["needle"] + T.PASSKEY_CLASSIC[lang]["needle"] + T.NIAH[lang]["needle"]
                 + T.COUNTING[lang]["mention"])
    patterns = [re.sub(r"\\\{(\w+)\\\}", lambda m: fill[m.group(1)], re.escape(t)) for t in templates]
    patterns += [r"VAR [A-Z]{5} = (?:VAR [A-Z]{5}|\d+)[.。]", HEADING[lang].replace(r"(\d+)", r"\d+").join(["(?:^|\n\n)", ""])]
    patterns = [p.replace(r"VAR\ ", "VAR ") for p in sorted(patterns, key=len, reverse=True)]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


SENTENCE_END = re.compile(r"[.!?。！？][\"'”’」』)\]）]*$")


def split_sentences(record: dict) -> list[str]:
    """The inserts (runs of adjacent ones) that do not sit between two sentences of the haystack, or at a
    paragraph break."""
    context, lang = context_of(record), record["meta"]["lang"]
    found = list(insert_patterns(lang, record["meta"]).finditer(context))
    assert len(found) == len(record["meta"]["depths"]), (len(found), record["meta"]["depths"])  # every insert
    runs: list[list[int]] = []  # inserts that follow each other directly form one run
    for m in found:
        if runs and context[runs[-1][1]:m.start()] in ("", " " if lang == "en" else ""):
            runs[-1][1] = m.end()
        else:
            runs.append([m.start(), m.end()])
    bad = []
    for start, end in runs:
        before, after = context[:start], context[end:]
        if lang == "en" and before.endswith(" "):
            before = before[:-1]  # an English insert brings its own leading space
        between = (not before or not after or SENTENCE_END.search(before) or re.search(HEADING[lang] + "$", before)
                   or re.match(r"\r?\n[^\S\n]*\n", after))  # context ends, sentence ends, paragraph break
        glued = lang == "en" and after and not after[0].isspace()  # the next sentence must not stick to it
        if not between or glued:
            bad.append(context[max(0, start - 60): end + 80])
    return bad


@pytest.fixture(scope="module")
def wrapped_zh(tmp_path_factory):
    """The built-in Chinese prose hard-wrapped every 23 characters, the way PDF text arrives."""
    import textwrap

    from suites.longctx.haystack import builtin_prose

    path = tmp_path_factory.mktemp("wrapped") / "book.txt"
    paragraphs = [p for p in builtin_prose("zh").split("\n\n") if p]
    path.write_text("\n\n".join("\n".join(textwrap.wrap(p, 23)) for p in paragraphs), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("which", ["tiny", "second"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_insert_splits_a_sentence_of_hard_wrapped_text(tiny_tokenizer, second_tokenizer, wrapped_zh, which, lang):
    tokenizer = tiny_tokenizer if which == "tiny" else second_tokenizer
    # English: the built-in prose (Python's docs, wrapped at ~80 columns); Chinese: the prose wrapped mid-sentence
    factory = SampleFactory(tokenizer, "prose" if lang == "en" else [wrapped_zh])
    if lang == "en":
        assert sum(bool(line) and not SENTENCE_END.search(line) for line in factory.haystack("en").text.split("\n")) > 5000
    records = gen.generate(factory, 120, seed=5, lang=lang, tasks=list(SYNTHETIC_TASKS), lengths=[500, 1500])
    bad = [snippet for r in records for snippet in split_sentences(r)]
    assert bad == []
    assert sum(len(r["meta"]["depths"]) for r in records) > 400
    # the audit's measure: 60 passkey and single-needle samples of 2,000 tokens (38 of 60 split before)
    sixty = gen.generate(factory, 60, seed=0, lang=lang, tasks=["passkey", "niah_single"], lengths=[2000])
    assert [s for r in sixty for s in split_sentences(r)] == []


# --- doc_qa: documents longer than the length, answers in the filler -------------------------------------------


def write_qa(path, rows: list[tuple[str, str, str]]) -> str:
    path.write_text("".join(json.dumps({"document": d, "question": q, "answer": a}) + "\n" for d, q, a in rows),
                    encoding="utf-8")
    return str(path)


LONG_DOCUMENT = " ".join(f"Entry {i} of the harbour ledger lists a crate of pears." for i in range(80))
SHORT_ROW = ("The lighthouse keeper of Vell Island is Ansa Morrow. She paints boats.", "Who keeps the lighthouse?",
             "Ansa Morrow")


def test_a_document_longer_than_the_length_is_skipped_counted_and_named(tmp_path, tiny_tokenizer):
    qa = write_qa(tmp_path / "qa.jsonl", [(LONG_DOCUMENT, "What does entry 7 list?", "a crate of pears"), SHORT_ROW])
    report = gen.main(["--n", "6", "--lengths", "600,4000", "--tasks", "doc_qa", "--qa-data", qa,
                       "--out", str(tmp_path / "out.jsonl")])
    document_tokens = len(tiny_tokenizer("\n\nDocument: " + LONG_DOCUMENT + "\n\n", add_special_tokens=False)["input_ids"])
    assert 600 < document_tokens < 4000
    assert report["doc_qa_skipped"] == {"document_longer_than_length": 1}
    (line,) = report["doc_qa_skipped_documents"]
    assert line.startswith(f"{qa}:1 (en, 600): the document has {document_tokens:,} tokens")
    assert "more than a 600-token sample holds" in line
    records = read_records(tmp_path / "out.jsonl")
    by_length = {length: {r["meta"]["source"] for r in records if r["meta"]["length"] == length}
                 for length in (600, 4000)}
    assert by_length[600] == {f"{qa}:2"} and f"{qa}:1" in by_length[4000]


def test_no_document_that_fits_is_a_clear_error_not_a_traceback(tmp_path, tiny_tokenizer):
    qa = write_qa(tmp_path / "qa.jsonl", [(LONG_DOCUMENT, "What does entry 7 list?", "a crate of pears")])
    document_tokens = len(tiny_tokenizer("\n\nDocument: " + LONG_DOCUMENT + "\n\n", add_special_tokens=False)["input_ids"])
    with pytest.raises(SystemExit) as e:
        gen.main(["--n", "2", "--lengths", "1024", "--tasks", "doc_qa", "--qa-data", qa, "--out", str(tmp_path / "o")])
    message = str(e.value.code)
    assert message.startswith("error: doc_qa: no QA document can make a 1,024-token en sample: ")
    assert f"{qa}:1: the document has {document_tokens:,} tokens" in message
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit, match=r"^error: .*bad.jsonl:2: answer: missing$"):  # bad rows: the same, no traceback
        (tmp_path / "bad.jsonl").write_text(json.dumps(dict(zip(("document", "question", "answer"), SHORT_ROW)))
                                            + "\n" + json.dumps({"document": "d", "question": "q"}) + "\n")
        gen.main(["--n", "2", "--tasks", "doc_qa", "--qa-data", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o")])


def test_an_answer_that_also_occurs_in_the_filler_is_rejected_and_counted(tmp_path, tiny_tokenizer):
    sentences = [f"Boat {i} left the harbour at dawn." for i in range(400)]
    for i in range(0, 400, 37):  # the answer, in other cases too, now and then in the filler
        sentences[i] = ("Ansa Morrow waved from the pier.", "ANSA MORROW sang.", "They met ansa morrow there.")[i % 3]
    (tmp_path / "filler.txt").write_text(" ".join(sentences), encoding="utf-8")
    qa = write_qa(tmp_path / "qa.jsonl", [SHORT_ROW])
    factory = SampleFactory(tiny_tokenizer, [str(tmp_path / "filler.txt")], options=TaskOptions(qa_rows=read_qa(qa)))
    report = GenerationReport()
    records = gen.generate(factory, 40, seed=0, lang="en", tasks=["doc_qa"], lengths=[400], report=report)
    assert report.rejected["answer_in_filler"] > 0 and len(records) == 40
    for r in records:
        user = r["messages"][-2]["content"]
        assert len(re.findall("ansa morrow", user, flags=re.IGNORECASE)) == 1  # the document's own, nowhere else
        assert "Boat" in user and r["messages"][-1]["content"] == "Ansa Morrow"


def test_an_answer_all_through_the_filler_leaves_the_document_out(tmp_path, tiny_tokenizer):
    (tmp_path / "filler.txt").write_text(" ".join(f"Ansa Morrow rowed boat {i}." for i in range(300)))
    qa = write_qa(tmp_path / "qa.jsonl", [SHORT_ROW, ("Gulls nest on Vell Island in May.", "When do gulls nest?", "in May")])
    report = gen.main(["--n", "4", "--lengths", "500", "--tasks", "doc_qa", "--qa-data", qa, "--haystack",
                       str(tmp_path / "filler.txt"), "--out", str(tmp_path / "out.jsonl")])
    assert report["doc_qa_skipped"] == {"answer_throughout_filler": 1}
    assert report["doc_qa_skipped_documents"][0].startswith(f"{qa}:1 (en, 500): the answer 'Ansa Morrow' recurs")
    assert {r["meta"]["source"] for r in read_records(tmp_path / "out.jsonl")} == {f"{qa}:2"}


@pytest.mark.parametrize("text, phrase, count", [
    ("No, not now; no.", "no", 2),  # whole words, any case: not the "no" of "not" or "now"
    ("19120 and 1912.", "1912", 1),
    ("Ansa Morrow's boat; ANSA MORROW", "Ansa Morrow", 2),
    ("欧阳墨川和墨川", "墨川", 2),  # no word boundaries in Chinese
])
def test_answer_mentions_are_counted_as_a_reader_finds_them(text, phrase, count):
    from suites.longctx.qa import count_mentions

    assert count_mentions(text, phrase) == count
