"""render_dataset for Trainer / TRL through a template that rewrites history (Qwen3): one row per trained
turn, each the served prompt plus that turn, trained exactly on the turn's tokens (as core.train trains it;
render_record refused these records)."""

from core.curate.hf_integration import render_dataset
from core.data.chat import IGNORE_INDEX, render_samples
from tests.core.data.template_fixtures import served_turns, template_tokenizer
from tests.core.data.test_templates import HAND_MADE, QWEN3_RECORD


def test_one_row_per_trained_turn(tiny_tokenizer):
    tok = template_tokenizer(tiny_tokenizer, "Qwen-Qwen3-0.6B")
    records = [QWEN3_RECORD, HAND_MADE[0]]
    dataset = render_dataset(records, tok)
    samples = [s for r in records for s in render_samples(r, tok)]
    assert len(dataset) == len(samples) > len(records)
    assert dataset["input_ids"] == [s.input_ids for s in samples]
    assert dataset["labels"] == [s.labels for s in samples]
    assert dataset["task_type"] == [s.task_type for s in samples]
    for row, (ids, start, end) in zip(range(3), served_turns(tok, QWEN3_RECORD["messages"])):
        labels = dataset["labels"][row]
        assert dataset["input_ids"][row][:end] == ids[:end]
        assert [i for i, t in enumerate(labels) if t != IGNORE_INDEX] == list(range(start, end))
