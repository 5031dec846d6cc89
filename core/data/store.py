"""The trainer's rendered samples on disk: one Arrow stream file per source (readable with
`datasets.Dataset.from_file`), memory-mapped, so every rank on a node shares the same page-cache pages and
no rank holds token lists in Python.

Beside the Arrow file, three small numpy arrays (also memory-mapped) let the trainer plan without touching
tokens: each sample's length, its trained-target count, and its task_type id. Mixing, the eval split and the
epoch orders are index arrays over a `SampleSet` (all sources in one index space); a step's samples are a
`SampleView` (the set plus an index array), and a micro-batch reads its rows' tokens by index.

    cache/<fingerprint>/samples.arrow      input_ids, labels (list<int32>), task_type, sample_id
                       /lengths.npy         int32 per sample
                       /trained.npy         int32 per sample: targets != IGNORE_INDEX after the shift
                       /task_ids.npy        int32 per sample, into task_types.json
"""

from __future__ import annotations

import array
import json
import os
from collections.abc import Iterator, Sequence

import numpy as np

from core.data.chat import IGNORE_INDEX, RenderedSample

ARROW = "samples.arrow"


def _schema():
    import pyarrow as pa

    return pa.schema([("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int32())),
                      ("task_type", pa.string()), ("sample_id", pa.string())])


def _strings(values: list[str]):
    """A pyarrow string array built from its buffers (pa.array on Python strings imports pandas: 0.6 s)."""
    import pyarrow as pa

    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded)))


class SampleWriter:
    """Streams rendered batches into a store folder; `close()` writes the per-sample arrays."""

    def __init__(self, folder: str, flush_tokens: int = 1 << 21):
        import pyarrow as pa

        os.makedirs(folder, exist_ok=True)
        self.folder, self.flush_tokens = folder, flush_tokens
        self._sink = pa.OSFile(os.path.join(folder, ARROW), "wb")
        self._writer = pa.ipc.new_stream(self._sink, _schema())
        self.lengths, self.trained, self.task_ids = array.array("i"), array.array("i"), array.array("i")
        self.task_types: dict[str, int] = {}
        self._pending: list[dict] = []
        self._pending_tokens = 0
        self.tokens = 0

    def add(self, batch: dict) -> None:
        """batch: input_ids / labels (flat int32 arrays), lengths, task_type, sample_id (one per sample)."""
        if not len(batch["lengths"]):
            return
        lengths = np.asarray(batch["lengths"], dtype=np.int64)
        self.lengths.extend(lengths.tolist())
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        targets = batch["labels"] != IGNORE_INDEX
        # trained targets of sample s: labels[start+1 : start+len] (the first label predicts nothing)
        counts = np.add.reduceat(targets.astype(np.int64), starts) - targets[starts]
        self.trained.extend(counts.tolist())
        self.task_ids.extend(self.task_types.setdefault(t, len(self.task_types)) for t in batch["task_type"])
        self._pending.append(batch)
        self._pending_tokens += int(lengths.sum())
        self.tokens += int(lengths.sum())
        if self._pending_tokens >= self.flush_tokens:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        ids = np.concatenate([b["input_ids"] for b in self._pending]).astype(np.int32, copy=False)
        labels = np.concatenate([b["labels"] for b in self._pending]).astype(np.int32, copy=False)
        lengths = np.concatenate([np.asarray(b["lengths"], dtype=np.int64) for b in self._pending])
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        columns = [pa.ListArray.from_arrays(offsets, pa.array(ids)), pa.ListArray.from_arrays(offsets, pa.array(labels)),
                   _strings([t for b in self._pending for t in b["task_type"]]),
                   _strings([s for b in self._pending for s in b["sample_id"]])]
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=_schema()))
        self._pending, self._pending_tokens = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._sink.close()
        for name, values in (("lengths", self.lengths), ("trained", self.trained), ("task_ids", self.task_ids)):
            np.save(os.path.join(self.folder, f"{name}.npy"), np.frombuffer(values, dtype=np.int32) if values
                    else np.zeros(0, dtype=np.int32))
        with open(os.path.join(self.folder, "task_types.json"), "w", encoding="utf-8") as f:
            json.dump(sorted(self.task_types, key=self.task_types.get), f, ensure_ascii=False)


class SampleStore(Sequence):
    """One source's rendered samples, memory-mapped. Indexing gives a RenderedSample (lists, for inspection and
    tests); the trainer reads `tokens(i)` (numpy views into the mapped file) and the per-sample arrays."""

    def __init__(self, folder: str):
        import pyarrow as pa

        self.folder = folder
        self.lengths = np.load(os.path.join(folder, "lengths.npy"), mmap_mode="r")
        self.trained = np.load(os.path.join(folder, "trained.npy"), mmap_mode="r")
        self.task_ids = np.load(os.path.join(folder, "task_ids.npy"), mmap_mode="r")
        with open(os.path.join(folder, "task_types.json"), encoding="utf-8") as f:
            self.task_types: list[str] = json.load(f)
        self._map = pa.memory_map(os.path.join(folder, ARROW))
        self.table = pa.ipc.open_stream(self._map).read_all()  # zero-copy: buffers point into the map
        sizes = [len(c) for c in self.table.column("input_ids").chunks]
        self._chunk_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._chunks: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.lengths)

    def _chunk(self, c: int) -> tuple:
        if c not in self._chunks:
            ids, labels = self.table.column("input_ids").chunk(c), self.table.column("labels").chunk(c)
            self._chunks[c] = (ids.offsets.to_numpy(), ids.values.to_numpy(), labels.values.to_numpy(),
                               self.table.column("sample_id").chunk(c))
        return self._chunks[c]

    def _locate(self, i: int) -> tuple[tuple, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} out of range ({len(self)} samples in {self.folder})")
        c = int(np.searchsorted(self._chunk_starts, i, side="right")) - 1
        return self._chunk(c), i - int(self._chunk_starts[c])

    def tokens(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, labels) of sample i: int32 views into the mapped file, no copy."""
        (offsets, ids, labels, _), r = self._locate(i)
        start, stop = offsets[r], offsets[r + 1]
        return ids[start:stop], labels[start:stop]

    def sample_id(self, i: int) -> str:
        (_, _, _, names), r = self._locate(i)
        return names[r].as_py()

    def task_type(self, i: int) -> str:
        return self.task_types[self.task_ids[i]]

    def __getitem__(self, i: int) -> RenderedSample:  # type: ignore[override]
        if i < 0:
            i += len(self)
        ids, labels = self.tokens(i)
        return RenderedSample(ids.tolist(), labels.tolist(), self.task_type(i), self.sample_id(i))


class SampleSet:
    """Several stores in one index space: global index g is sample g - base[k] of store k. Task types are
    unified across stores (`task_types`, `task_ids_of`)."""

    def __init__(self, stores: Sequence):
        self.stores = list(stores)
        self.bases = np.concatenate([[0], np.cumsum([len(s) for s in self.stores])]).astype(np.int64)
        index: dict[str, int] = {}
        self._task_maps, self._list_task_ids = [], []
        for s in self.stores:
            if isinstance(s, SampleStore):
                names, local = s.task_types, None
            else:  # a list of RenderedSample (tests, callers that render in memory)
                names = sorted({x.task_type for x in s})
                local = np.array([names.index(x.task_type) for x in s], dtype=np.int32)
            self._task_maps.append(np.array([index.setdefault(t, len(index)) for t in names], dtype=np.int32))
            self._list_task_ids.append(local)
        self.task_types = sorted(index, key=index.get)

    def __len__(self) -> int:
        return int(self.bases[-1])

    def source_range(self, k: int) -> np.ndarray:
        return np.arange(self.bases[k], self.bases[k + 1], dtype=np.int64)

    def _split(self, ids: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(store k, positions in ids, local indices) for every store that ids touch."""
        which = np.searchsorted(self.bases, ids, side="right") - 1
        for k in np.unique(which):
            where = np.flatnonzero(which == k)
            yield int(k), where, ids[where] - self.bases[k]

    def _per_sample(self, ids: np.ndarray, field: str) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty(len(ids), dtype=np.int64)
        for k, where, local in self._split(ids):
            store = self.stores[k]
            if isinstance(store, SampleStore):
                values = getattr(store, field)[local]
                out[where] = self._task_maps[k][values] if field == "task_ids" else values
            elif field == "lengths":
                out[where] = [len(store[i]) for i in local]
            elif field == "trained":
                out[where] = [sum(t != IGNORE_INDEX for t in store[i].labels[1:]) for i in local]
            else:
                out[where] = self._task_maps[k][self._list_task_ids[k][local]]
        return out

    def lengths_of(self, ids) -> np.ndarray:
        return self._per_sample(ids, "lengths")

    def trained_of(self, ids) -> np.ndarray:
        return self._per_sample(ids, "trained")

    def task_ids_of(self, ids) -> np.ndarray:
        return self._per_sample(ids, "task_ids")

    def _store(self, g: int) -> tuple[object, int]:
        k = int(np.searchsorted(self.bases, g, side="right")) - 1
        return self.stores[k], int(g - self.bases[k])

    def tokens(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        store, i = self._store(g)
        if isinstance(store, SampleStore):
            return store.tokens(i)
        s = store[i]
        return np.asarray(s.input_ids, dtype=np.int64), np.asarray(s.labels, dtype=np.int64)

    def sample_id(self, g: int) -> str:
        store, i = self._store(g)
        return store.sample_id(i) if isinstance(store, SampleStore) else store[i].sample_id

    def view(self, ids=None) -> SampleView:
        dtype = np.int32 if len(self) < 2**31 else np.int64  # 4 bytes a sample where they suffice
        return SampleView(self, np.arange(len(self), dtype=dtype) if ids is None else np.asarray(ids).astype(dtype))


class SampleView(Sequence):
    """Samples of a SampleSet picked by an index array (a mix, a split, one step's batch). Per-sample arrays
    are looked up on demand; `select(positions)` narrows the view; indexing gives a RenderedSample."""

    def __init__(self, samples: SampleSet, ids: np.ndarray):
        self.set, self.ids = samples, ids
        self._lengths = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        if self._lengths is None:
            self._lengths = self.set.lengths_of(self.ids)
        return self._lengths

    def trained(self) -> np.ndarray:
        return self.set.trained_of(self.ids)

    def task_ids(self) -> np.ndarray:
        return self.set.task_ids_of(self.ids)

    def task_types(self) -> list[str]:
        return [self.set.task_types[t] for t in self.task_ids()]

    def tokens(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.set.tokens(int(self.ids[i]))

    def sample_id(self, i: int) -> str:
        return self.set.sample_id(int(self.ids[i]))

    def select(self, positions) -> SampleView:
        return SampleView(self.set, self.ids[np.asarray(positions, dtype=np.int64)])

    def __getitem__(self, i: int) -> RenderedSample:  # type: ignore[override]
        i = range(len(self))[i]  # negative indices; IndexError past the end
        ids, labels = self.tokens(i)
        task = self.set.task_types[int(self.set.task_ids_of(self.ids[i : i + 1])[0])]
        return RenderedSample(ids.tolist(), labels.tolist(), task, self.sample_id(i))


def as_view(samples) -> SampleView:
    """A SampleView over anything the planner gets: a view already, or a list of RenderedSample."""
    if isinstance(samples, SampleView):
        return samples
    return SampleSet([samples if isinstance(samples, SampleStore) else list(samples)]).view()
