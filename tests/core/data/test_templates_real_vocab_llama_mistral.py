"""The Llama 3 and Mistral templates with their models' real vocabularies (PyPI llama-models and
mistral-common ship them as package data; scripts/setup.sh installs both with --no-deps): the same matrix
and oracle as test_templates.py, so a real BPE's token boundaries (Llama's merged newlines, tekken's and
SentencePiece's spaces) are covered, not only the embedded tokenizer's."""

import pytest

from tests.core.data.template_fixtures import MISTRAL_VOCABS, llama3_vocab_tokenizer, mistral_vocab_tokenizer
from tests.core.data.test_templates import HAND_MADE, RECORDS, assert_controls_caught, run_template

# the hand-made records and one suite record per task family keep this cheap; longctx records are long
_RECORDS = [r for r in RECORDS if not r["task_type"].startswith("longctx")]


@pytest.mark.parametrize("name, size", [("meta-llama-Llama-3.1-8B-Instruct", 128256),
                                        ("meta-llama-Llama-3.2-3B-Instruct", 128256)])
def test_llama3_templates_with_the_real_vocabulary(tiny_tokenizer, name, size):
    tok = llama3_vocab_tokenizer(name)
    assert len(tok) == size
    outcome, failures = run_template(tiny_tokenizer, name, tok=tok, records=_RECORDS, controls=True)
    assert_controls_caught(outcome, failures, len(_RECORDS))
    assert not failures, "\n".join(failures[:8])
    assert not any(k.startswith("refused") for k in outcome), outcome
    assert sum(n for k, n in outcome.items() if k.startswith("ok:")) == 2 * len(_RECORDS)
    assert HAND_MADE[0] in _RECORDS


@pytest.mark.parametrize("name", sorted(MISTRAL_VOCABS))
def test_mistral_templates_with_the_real_vocabulary(tiny_tokenizer, name):
    tok = mistral_vocab_tokenizer(name)
    assert len(tok) >= 32768
    outcome, failures = run_template(tiny_tokenizer, name, tok=tok, records=_RECORDS, controls=True)
    assert_controls_caught(outcome, failures, len(_RECORDS))
    assert not failures, "\n".join(failures[:8])
    assert not any(k.startswith("refused") for k in outcome), outcome
    assert sum(n for k, n in outcome.items() if k.startswith("ok:")) == 2 * len(_RECORDS)
