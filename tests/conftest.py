import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from core.model.loading import load_tokenizer

    return load_tokenizer("tiny")


@pytest.fixture(scope="session")
def plain_tokenizer(tiny_tokenizer):
    """The tiny tokenizer with the {% generation %} markers removed from its template."""
    import copy
    import re

    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", tok.chat_template)
    return tok
