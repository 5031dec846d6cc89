import pytest

from suites.rag.generate import RagDataConfig, RagGenerator

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
