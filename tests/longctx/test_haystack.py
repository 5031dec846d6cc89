"""Haystacks: sentence units, chunked tokenisation equal to one call, cyclic windows, user files with errors
naming file, line and field."""

import json
import re

import pytest

from suites.longctx import haystack as H
from suites.longctx import sentences as S


def units_of(text: str) -> list[str]:
    starts = S.unit_starts(text)
    units = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    assert "".join(units) == text
    return units


@pytest.mark.parametrize("text, units", [
    ('He said "Stop!" Then left. 天是蓝的。草是绿的！\n\nNext line\nand more? Yes.',
     ['He said "Stop!"', " Then left.", " 天是蓝的。", "草是绿的！", "\n\nNext line\nand more?", " Yes."]),
    # hard-wrapped prose (books, PDF text): a single line break inside a sentence is no boundary
    ("The context manager\nhandles the entry. It\nends here.\nA new sentence\nspans lines.",
     ["The context manager\nhandles the entry.", " It\nends here.", "\nA new sentence\nspans lines."]),
    ("江南的小镇大多\n依水而建。清晨的河面上\n浮着一层薄雾；船夫撑着竹篙。“好！”他说。",
     ["江南的小镇大多\n依水而建。", "清晨的河面上\n浮着一层薄雾；船夫撑着竹篙。", "“好！”", "他说。"]),
    # abbreviations, initials, list numbers and a lower-case next word do not end a sentence
    ("Mr. Smith met J. R. Tolkien, e.g. at the U.S. Embassy. He left.\n1. First item\n2. Second item.",
     ["Mr. Smith met J. R. Tolkien, e.g. at the U.S. Embassy.", " He left.", "\n1. First item\n2. Second item."]),
    ("See the docs. and so on. Done.", ["See the docs. and so on.", " Done."]),
    # a blank line is a paragraph break, with or without punctuation before it (titles, headings)
    ("A Title\r\n\r\nBody text here.\n  \nNext paragraph", ["A Title", "\r\n\r\nBody text here.", "\n  \nNext paragraph"]),
])
def test_units_are_sentences_and_paragraphs_not_lines(text, units):
    assert units_of(text) == units


class ThreeCharTokens:
    """A stand-in tokenizer whose tokens are 3 characters each, so most sentence starts fall inside a token."""

    class backend_tokenizer:  # noqa: N801 - the attribute name of a fast tokenizer
        @staticmethod
        def encode_batch(chunks, add_special_tokens=False):
            from types import SimpleNamespace

            return [SimpleNamespace(ids=list(range(0, len(c), 3)), offsets=[(i, min(i + 3, len(c))) for i in
                                                                               range(0, len(c), 3)]) for c in chunks]


def test_a_sentence_start_inside_a_token_is_no_insert_point():
    text = "Ab. Cde. Fghi. Jk. Lmnop. Q."  # sentences start at 3, 8, 14, 18 and 25
    assert S.unit_starts(text) == [0, 3, 8, 14, 18, 25]
    haystack = H.Haystack("t", text, ThreeCharTokens())
    # token starts are 0, 3, 6, ...: only the sentences starting at 0, 3 and 18 start a token
    assert haystack.unit_token.tolist() == [0, 1, 6] and haystack.units_inside_tokens == 3
    for token in haystack.unit_token:
        assert text[haystack.token_char[token] - 1:haystack.token_char[token]] in ("", ".") or token == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chunked_tokenisation_gives_the_ids_of_one_call(monkeypatch, tiny_tokenizer, lang):
    monkeypatch.setattr(H, "CHUNK_CHARS", 300)
    name, text = H.source_text("prose", lang)
    haystack = H.Haystack(name, text, tiny_tokenizer)
    assert haystack.ids.tolist() == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    # every unit starts on a token boundary, and token offsets slice the text back exactly
    assert haystack.text_of(0, haystack.n_tokens) == text
    assert haystack.text_of(0, int(haystack.unit_token[5])) == "".join(
        text[a:b] for a, b in zip(S.unit_starts(text)[:5], S.unit_starts(text)[1:6]))


def test_windows_wrap_around_and_list_unit_boundaries(tiny_tokenizer):
    haystack = H.Haystack("noise", H.noise_text("en", repeats=2), tiny_tokenizer)
    n = haystack.n_tokens
    assert haystack.text_of(0, 2 * n) == haystack.text * 2
    start = int(haystack.unit_token[3])
    bounds = haystack.boundaries(start, n)
    assert bounds[0] == 0 and bounds[-1] == n and len(bounds) == len(haystack.unit_token) + 1
    tail = haystack.text_of(start, start + n)
    assert tail == haystack.text[haystack.token_char[start]:] + haystack.text[: haystack.token_char[start]]


def test_user_files_and_directories(tmp_path, tiny_tokenizer):
    (tmp_path / "a.txt").write_text("First book. It ends here.", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "A RAG passage."}) + "\n" + json.dumps({"content": "Another."}) + "\n")
    docs = H.read_documents([str(tmp_path)])
    assert [text for _, text in docs] == ["First book. It ends here.", "A RAG passage.", "Another."]
    haystack = H.build_haystack([str(tmp_path)], "en", tiny_tokenizer)
    assert "A RAG passage." in haystack.text and haystack.n_tokens > 5


@pytest.mark.parametrize("line, message", [
    ('{"title": "no text"}', 'b.jsonl:2: text: missing'),
    ('{"text": 5}', "b.jsonl:2: text: expected a string, got int"),
    ("[1, 2]", "b.jsonl:2: expected a JSON object"),
    ("{oops", "b.jsonl:2: invalid JSON"),
])
def test_bad_jsonl_haystack_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + line + "\n")
    with pytest.raises(H.HaystackError, match=message):
        H.read_documents([str(path)])


def test_missing_or_empty_sources_are_errors(tmp_path):
    with pytest.raises(H.HaystackError, match="no such file"):
        H.read_documents([str(tmp_path / "nope.txt")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(H.HaystackError, match="no .txt, .md or .jsonl"):
        H.read_documents([str(tmp_path / "empty")])


# Needle vocabulary, written out independently of haystack.DISTRACTORS: no built-in haystack may mention it.
VOCABULARY = {
    "en": ["pass ?key", "password", "magic number", "special number", "answer", "question", "chapter", "remember",
           "memori[sz]e", "document:"],
    "zh": ["密码", "密钥", "通行密钥", "魔法数字", "答案", "问题", "回答", "文档", "第.{1,3}章", "章节", "记住", "变量"],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("kind", ["prose", "noise"])
def test_builtin_haystacks_never_mention_needle_vocabulary(lang, kind):
    name, text = H.source_text(kind, lang)
    for term in VOCABULARY[lang]:
        assert not re.search(term, text, flags=re.IGNORECASE), (name, term)
    assert "VAR " not in text
    if kind == "prose" and lang == "zh":  # the tokenizer corpus (passkey-like and QA boilerplate) is not prose
        assert "密码是一个五位数字" not in text and "长上下文训练" not in text and "工具调用" not in text


def test_prose_sentences_with_needle_vocabulary_are_left_out_and_counted():
    text = ("\n\nThe sky is blue. The pass key is\nhidden here. Grass grows.\n\nWhat is the answer? It rains."
            "\n\nChapter 3 begins. Birds sing.")
    kept, left_out = S.without_distractors(text, "en")
    assert kept == "\n\nThe sky is blue. Grass grows.\n\nIt rains.\n\nBirds sing."
    assert left_out == {"answer": 1, "chapter": 1, "pass key": 1}
    kept, left_out = S.without_distractors("\n\n天是蓝的。密码是一个五位数字，请记住它。草是绿的。\n\n问题：答案是什么？回答：好。", "zh")
    assert kept == "\n\n天是蓝的。草是绿的。" and left_out == {"密码": 1, "问题": 1, "回答": 1}
    # the built-in English prose reports what it left out, and the haystack carries the counts
    assert H.builtin_prose_left_out("en") and all(S.DISTRACTORS["en"].fullmatch(term) for term in
                                                  H.builtin_prose_left_out("en"))


def test_every_needle_and_question_is_distractor_vocabulary():
    """The filter covers what the templates say: every needle, question, heading and document label matches."""
    from suites.longctx import templates as T

    values = {"value": "12345", "key": "amber-kayak", "name": "ABCDE", "source": "FGHIJ", "number": 3,
              "question": "Who?", "document": "Text.", "keys": "a, b", "values": "1, 2", "pairs": "a: 1",
              "chapters": "1, 2", "count": 2, "names": "ABCDE"}
    for lang in ("en", "zh"):
        for table, parts in ((T.PASSKEY, ["needle", "question", "instruction"]),
                             (T.PASSKEY_CLASSIC, ["needle", "question", "instruction"]),
                             (T.NIAH, ["needle", "question_single", "question_values", "question_queries"]),
                             (T.VARIABLES, ["first", "link"]), (T.CHAPTERS, ["heading"]),
                             (T.DOC_QA, ["document", "question"])):
            for part in parts:
                for template in table[lang][part]:
                    text = template.format(**values)
                    if part == "question" and table is T.DOC_QA and template == "{question}":
                        continue  # the user's own question, verbatim
                    assert S.DISTRACTORS[lang].search(text), (lang, part, text)
