import json

import pytest

from suites.rag.corpus import CorpusError, Document, chunk_documents, load_corpus, read_chunks, write_chunks


def test_folder_of_text_and_markdown(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.md").write_text("\n# Harbour rules\n\nBoats dock at pier 4.\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Plain text file.", encoding="utf-8")
    (tmp_path / "skip.csv").write_text("x,y", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [(d.id, d.title) for d in docs] == [("a.txt", "a"), ("b/notes.md", "Harbour rules")]
    assert docs[1].text == "\n# Harbour rules\n\nBoats dock at pier 4.\n"


def test_single_file_and_jsonl(tmp_path):
    path = tmp_path / "one.md"
    path.write_text("Just a line.", encoding="utf-8")
    assert load_corpus(path) == [Document("one.md", "one", "Just a line.")]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"id": "d1", "title": "T", "text": "hello"}\n\n{"id": 7, "text": "numeric id"}\n', encoding="utf-8")
    assert load_corpus(jsonl) == [Document("d1", "T", "hello"), Document("7", "", "numeric id")]


@pytest.mark.parametrize("lines, message", [
    (['{"id": "a", "text": "x"}', '{"id": "b", "txt": "y"}'], ":2: txt: unknown field"),
    (['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'], ":2: id: duplicate id 'a' (first seen on line 1)"),
    (['{"id": "a"}'], ":1: text: missing"),
    (['{"id": "a", "text": 5}'], ":1: text: expected a string, got int"),
    (['{"id": "a", "text": "  "}'], ":1: text: must not be empty"),
    (['{"id": "a", "text": "x"', ], ":1: invalid JSON"),
    (['["a"]'], ":1: expected a JSON object"),
])
def test_jsonl_errors_name_file_line_field(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        load_corpus(path)
    assert str(e.value).startswith(f"{path}{message}")


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no .txt or .md files"):
        load_corpus(tmp_path)
    (tmp_path / "e.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"e\.txt: empty document"):
        load_corpus(tmp_path)


def test_chunks_are_exact_token_windows_with_overlap(tiny_tokenizer, python_docs_text):
    docs = [Document(f"d{i}", f"t{i}", text) for i, text in enumerate(python_docs_text[:40])]
    docs.append(Document("zh", "中文", "维尔莫拉是北部山区的一座河畔小镇，由织工于1843年建立。" * 30))
    size, overlap = 64, 16
    chunks = chunk_documents(docs, tiny_tokenizer, chunk_tokens=size, overlap=overlap)
    by_doc = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    assert list(by_doc) == [d.id for d in docs]
    for doc in docs:
        n = len(tiny_tokenizer(doc.text, add_special_tokens=False)["input_ids"])
        own = by_doc[doc.id]
        assert [c.id for c in own] == [f"{doc.id}#{k}" for k in range(len(own))]
        assert own[0].token_start == 0 and own[-1].token_end == n
        for prev, nxt in zip(own, own[1:]):
            assert nxt.token_start == prev.token_start + size - overlap
            assert prev.token_end - nxt.token_start == overlap
        for c in own:
            assert c.token_end - c.token_start <= size
            assert c.text == doc.text[c.char_start : c.char_end] and c.title == doc.title
        if n > size:  # no window lies entirely inside its predecessor's overlap
            assert own[-1].token_end - own[-2].token_end > 0
    assert len(by_doc["zh"]) > 3


def test_chunk_options_are_checked(tiny_tokenizer):
    with pytest.raises(ValueError, match="--overlap must be in"):
        chunk_documents([Document("a", "", "x")], tiny_tokenizer, chunk_tokens=8, overlap=8)


def test_chunks_round_trip(tmp_path, tiny_tokenizer):
    chunks = chunk_documents([Document("a", "A", "one two three " * 50)], tiny_tokenizer, 32, 4)
    write_chunks(tmp_path / "c.jsonl", chunks)
    assert read_chunks(tmp_path / "c.jsonl") == chunks
    assert json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])["id"] == "a#0"
