"""Rebuild the embedded tiny tokenizer: `python -m core.assets.build_tokenizer`.

A byte-level BPE (any UTF-8 text round-trips, Chinese included) with digits split one per token,
trained on text available offline: Python's `pydoc_data.topics` (English prose) and
`zh_corpus.txt` (Chinese prose written for this project). Deterministic for a given tokenizers version.
"""

from __future__ import annotations

import os
from pydoc_data.topics import topics

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "tokenizer")
VOCAB_SIZE = 2048
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]


def training_text() -> list[str]:
    english = [topics[k] for k in sorted(topics)]
    with open(os.path.join(HERE, "zh_corpus.txt"), encoding="utf-8") as f:
        chinese = f.read().splitlines()
    # Chinese is repeated so its merges survive next to ~750 KB of English.
    return english + chinese * 40


def build(out_dir: str = OUT_DIR) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    with open(os.path.join(HERE, "chat_template.jinja"), encoding="utf-8") as f:
        template = f.read()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=1_048_576,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = template
    fast.save_pretrained(out_dir)
    return fast


if __name__ == "__main__":
    t = build()
    print(f"wrote {OUT_DIR}: vocab {len(t)}")
