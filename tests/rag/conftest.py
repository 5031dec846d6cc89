import json

import pytest

from suites.rag.generate import RagDataConfig, RagGenerator
from suites.rag.world import build_world

SEED = 7
N_SAMPLES = 6000


@pytest.fixture(scope="session")
def mixed_generator():
    """The default mix over the fictional world, English and Chinese."""
    return RagGenerator(N_SAMPLES, SEED, "mix", RagDataConfig())


@pytest.fixture(scope="session")
def mixed_records(mixed_generator):
    return mixed_generator.generate()


@pytest.fixture(scope="session")
def python_docs_text():
    """Real English prose for chunking and BM25: the Python reference topics shipped with the interpreter."""
    from pydoc_data.topics import topics

    return [topics[k] for k in sorted(topics)]


def write_world_corpus(root, seed: int, counts: dict[str, int]):
    """A fictional world's documents written as a user's JSONL corpus (root/docs.jsonl); returns the world."""
    world = build_world(seed, "en", counts)
    with open(root / "docs.jsonl", "w", encoding="utf-8") as f:
        for p in world.passages:
            f.write(json.dumps({"id": p.id, "title": p.title, "text": p.text}) + "\n")
    return world
