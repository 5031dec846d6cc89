"""Haystacks: sentence units, chunked tokenisation equal to one call, cyclic windows, user files with errors
naming file, line and field."""

import json

import pytest

from suites.longctx import haystack as H


def test_units_start_at_sentence_ends_and_line_breaks():
    text = 'He said "Stop!" Then left. 天是蓝的。草是绿的！\n\nNext line\nand more? Yes.'
    starts = H.unit_starts(text)
    units = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    assert units == ['He said "Stop!"', " Then left.", " 天是蓝的。", "草是绿的！", "\n\nNext line", "\nand more?", " Yes."]
    assert "".join(units) == text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chunked_tokenisation_gives_the_ids_of_one_call(monkeypatch, tiny_tokenizer, lang):
    monkeypatch.setattr(H, "CHUNK_CHARS", 300)
    name, text = H.source_text("prose", lang)
    haystack = H.Haystack(name, text, tiny_tokenizer)
    assert haystack.ids.tolist() == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    # every unit starts on a token boundary, and token offsets slice the text back exactly
    assert haystack.text_of(0, haystack.n_tokens) == text
    assert haystack.text_of(0, int(haystack.unit_token[5])) == "".join(
        text[a:b] for a, b in zip(H.unit_starts(text)[:5], H.unit_starts(text)[1:6]))


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
