"""Corpus ingestion and token chunking.

A corpus is a folder of .txt/.md files (read recursively, in sorted order), a single .txt/.md file, or
a JSONL file with one ``{"id", "title", "text"}`` object per line. Documents are cut into chunks of at
most ``chunk_tokens`` tokens that overlap by ``overlap`` tokens; a chunk's text is the exact slice of its
document covered by its tokens, so nothing is rewritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from tqdm import tqdm

from core.data.records import iter_json_objects
from core.errors import UserError
from core.outputs import atomic_write, read_text

TEXT_SUFFIXES = (".txt", ".md")


class CorpusError(UserError):
    """Bad corpus input; the message names the file, the line and the field where it applies."""


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: the unit BM25 and dense search return and scenarios show as a document."""

    id: str
    doc_id: str
    title: str
    text: str
    token_start: int = 0
    token_end: int = 0
    char_start: int = 0
    char_end: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _title_from_text(path: str, text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip() or os.path.splitext(os.path.basename(path))[0]
        if stripped:
            break
    return os.path.splitext(os.path.basename(path))[0]


def _read_text_file(path: str, doc_id: str) -> Document:
    text = read_text(path)  # a byte-order mark is dropped (it hid a first "# title" line); bad bytes name the line
    return Document(id=doc_id, title=_title_from_text(path, text), text=text)


def read_jsonl_documents(path: str) -> list[Document]:
    docs, seen = [], {}
    for line_no, obj in iter_json_objects(path, CorpusError, 'a JSON object with id, title, text'):
        where = f"{path}:{line_no}"
        unknown = sorted(set(obj) - {"id", "title", "text"})
        if unknown:
            raise CorpusError(f"{where}: {unknown[0]}: unknown field (expected id, title, text)")
        for name in ("id", "text"):
            if name not in obj:
                raise CorpusError(f"{where}: {name}: missing")
        doc_id, title, text = obj["id"], obj.get("title", ""), obj["text"]
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        for name, value in (("id", doc_id), ("title", title), ("text", text)):
            if not isinstance(value, str):
                raise CorpusError(f"{where}: {name}: expected a string, got {type(value).__name__}")
        if not doc_id:
            raise CorpusError(f"{where}: id: must not be empty")
        if not text.strip():
            raise CorpusError(f"{where}: text: must not be empty")
        if doc_id in seen:
            raise CorpusError(f"{where}: id: duplicate id {doc_id!r} (first seen on line {seen[doc_id]})")
        seen[doc_id] = line_no
        docs.append(Document(id=doc_id, title=title, text=text))
    if not docs:
        raise CorpusError(f"{path}: no documents")
    return docs


def load_corpus(path: str | os.PathLike) -> list[Document]:
    """Documents from a folder of .txt/.md files, one such file, or a JSONL file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            files += [os.path.join(root, n) for n in sorted(names) if n.endswith(TEXT_SUFFIXES)]
        if not files:
            raise CorpusError(f"{path}: no .txt or .md files in this folder")
        docs = [_read_text_file(f, os.path.relpath(f, path).replace(os.sep, "/")) for f in files]
        empty = [d.id for d in docs if not d.text.strip()]
        if empty:
            raise CorpusError(f"{os.path.join(path, empty[0])}: empty document")
        return docs
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file or folder")
    if path.endswith(".jsonl"):
        return read_jsonl_documents(path)
    if path.endswith(TEXT_SUFFIXES):
        doc = _read_text_file(path, os.path.basename(path))
        if not doc.text.strip():
            raise CorpusError(f"{path}: empty document")
        return [doc]
    raise CorpusError(f"{path}: expected a folder, a .jsonl file or a .txt/.md file")


def chunk_documents(
    docs: Iterable[Document],
    tokenizer,
    chunk_tokens: int = 256,
    overlap: int = 32,
    batch_size: int = 256,
    progress: bool = False,
) -> list[Chunk]:
    """Cut documents into windows of `chunk_tokens` tokens; window k starts at k * (chunk_tokens - overlap).
    The last window of a document ends at its last token, so every token is covered."""
    if chunk_tokens < 1:
        raise ValueError(f"--chunk-tokens must be >= 1, got {chunk_tokens}")
    if not 0 <= overlap < chunk_tokens:
        raise ValueError(f"--overlap must be in [0, --chunk-tokens={chunk_tokens}), got {overlap}")
    docs = list(docs)
    step = chunk_tokens - overlap
    chunks: list[Chunk] = []
    for b in tqdm(range(0, len(docs), batch_size), desc="chunk", disable=not progress, leave=False):
        batch = docs[b : b + batch_size]
        encoded = tokenizer([d.text for d in batch], add_special_tokens=False, return_offsets_mapping=True)
        for doc, offsets in zip(batch, encoded["offset_mapping"]):
            n = len(offsets)
            starts = range(0, max(n - overlap, 1), step) if n > chunk_tokens else range(1)
            for k, start in enumerate(starts):
                stop = min(start + chunk_tokens, n)
                if n == 0:
                    char_start, char_end = 0, len(doc.text)
                else:
                    char_start, char_end = offsets[start][0], offsets[stop - 1][1]
                chunks.append(Chunk(id=f"{doc.id}#{k}", doc_id=doc.id, title=doc.title,
                                    text=doc.text[char_start:char_end], token_start=start, token_end=stop,
                                    char_start=char_start, char_end=char_end))
    return chunks


def write_chunks(path: str, chunks: Iterable[Chunk]) -> None:
    with atomic_write(path, keep_partial=False) as f:
        for chunk in chunks:
            f.write(json.dumps(chunk.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")


def read_chunks(path: str) -> list[Chunk]:
    with open(path, encoding="utf-8") as f:
        return [Chunk(**json.loads(line)) for line in f if line.strip()]
