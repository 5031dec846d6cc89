"""A second tokenizer, unlike the embedded one: SentencePiece-style BPE (Metaspace, no byte level, unknown
characters map to <unk>) with a Llama-2-style [INST] chat template, trained here on the offline texts."""

import pytest

LLAMA_STYLE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}<<SYS>>\n{{ m.content }}\n<</SYS>>\n\n"
    "{% elif m.role == 'user' %}[INST] {{ m.content }} [/INST]"
    "{% else %} {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}"
)


@pytest.fixture(scope="session")
def second_tokenizer(tmp_path_factory):
    from pydoc_data.topics import topics

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from core.model.loading import ASSETS_DIR, load_tokenizer
    from suites.longctx.haystack import builtin_prose

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    with open(f"{ASSETS_DIR}/zh_corpus.txt", encoding="utf-8") as f:  # the embedded tokenizer's Chinese corpus
        zh = builtin_prose("zh").split("\n\n") + f.read().splitlines()
    text = [topics[k] for k in sorted(topics)[:120]] + zh * 5
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=3000, special_tokens=["<unk>", "<s>", "</s>"],
                                                      show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   clean_up_tokenization_spaces=False)
    fast.chat_template = LLAMA_STYLE_TEMPLATE
    path = tmp_path_factory.mktemp("second_tokenizer")
    fast.save_pretrained(path)
    return load_tokenizer(str(path))
