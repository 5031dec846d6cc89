"""Teacher-forced eval through a template that rewrites history (Qwen3: one sample per trained turn): the
loss covers every trained turn and the answer log-probability is the last turn's, each as the template
serves it, recomputed with a plain transformers forward per turn. (render_record refused these records.)"""

import copy

import pytest
import torch

from core.data.chat import RenderError, render_record
from core.eval.evaluate import teacher_forced
from core.model.loading import load_model
from tests.core.data.template_fixtures import served_turns, template_tokenizer
from tests.core.data.test_templates import QWEN3_RECORD


def turn_logps(model, tok, messages):
    """Per assistant turn, the log-probability of each of its tokens after its served prompt."""
    out = []
    for ids, start, end in served_turns(tok, messages):
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        out.append([float(logp[j - 1, ids[j]]) for j in range(start, end)])
    return out


def test_loss_and_answer_logprob_over_every_served_turn(tiny_tokenizer):
    tok = template_tokenizer(tiny_tokenizer, "Qwen-Qwen3-0.6B")
    model = load_model("tiny", seed=0)
    model.resize_token_embeddings(len(tok))
    with pytest.raises(RenderError, match="several_samples|gives 3 samples"):
        render_record(QWEN3_RECORD, tok)
    last_untrained = copy.deepcopy(QWEN3_RECORD)
    last_untrained["messages"][-1]["train"] = False  # the answer is scored though its turn is not trained
    reference = turn_logps(model, tok, QWEN3_RECORD["messages"])
    assert [len(t) for t in reference] and len(reference) == 3
    got = teacher_forced(model, tok, [("a", QWEN3_RECORD), ("b", last_untrained)], mask="all", progress=False)
    for result, trained in zip(got, (reference, reference[:2])):
        assert result["loss_tokens"] == sum(len(t) for t in trained)
        assert result["loss_sum"] == pytest.approx(-sum(sum(t) for t in trained), rel=1e-4)
        assert result["answer_tokens"] == len(reference[-1])
        assert result["answer_logprob"] == pytest.approx(sum(reference[-1]), rel=1e-4)
