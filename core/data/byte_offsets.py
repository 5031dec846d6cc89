"""Token offsets of byte-level BPE tokenizers (GPT-2 style: Qwen, Llama 3, DeepSeek, phi-4, the embedded one)
without asking the tokenizer to track them.

Such a tokenizer's tokens spell the text's UTF-8 bytes exactly, in order, so token t covers the bytes between
the running sums of the tokens' byte lengths. At a character boundary this gives the token indices the
tokenizer's own character offsets give (those offsets are the byte ranges widened to whole characters), and
`encode_batch_fast`, which skips offset tracking, costs a quarter less than `encode_batch`.

It applies to a tokenizer with no normalizer whose vocabulary is all byte-level characters, and only after a
probe text (spaces, newlines, digits, CJK, emoji, accents, every special token) gives exactly the tokenizer's
own offsets; each sample is checked again (its tokens' bytes must sum to its text's), and falls back to the
tokenizer's offsets otherwise. tests/core/data/test_byte_offsets.py compares both on real vocabularies."""

from __future__ import annotations

import bisect
import itertools
import weakref

from transformers.convert_slow_tokenizer import bytes_to_unicode

_BYTE_CHARS = frozenset(bytes_to_unicode().values())
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> (key, table)
_PROBE = ("Hello world,  two  spaces\n\n\tline 2024-12-01 3.14 数据训练模型 naïve café 🙂👍🏽 ÿ ¡ x",
          "  leading and trailing  ", "\n", "a", "数")


def _lengths(backend) -> list[int] | None:
    if backend.normalizer is not None:
        return None
    added = {token.content for token in backend.get_added_tokens_decoder().values()}
    vocab = backend.get_vocab(with_added_tokens=True)
    table = [0] * (max(vocab.values()) + 1)
    for token, i in vocab.items():
        if token in added:
            table[i] = len(token.encode("utf-8"))
        elif _BYTE_CHARS.issuperset(token):
            table[i] = len(token)  # one character per byte
        else:
            return None  # not a byte-level vocabulary
    return table if all(table) else None


def _char_offsets(text: str, byte_ends: list[int]) -> list[tuple[int, int]]:
    """(start, end) characters of each token from its byte range, widened to whole characters."""
    char_of = [i for i, ch in enumerate(text) for _ in range(len(ch.encode("utf-8")))]
    starts = [0, *byte_ends[:-1]]
    return [(char_of[a], char_of[b - 1] + 1) for a, b in zip(starts, byte_ends)]


def _probe_passes(backend, table: list[int]) -> bool:
    specials = "".join(token.content for token in backend.get_added_tokens_decoder().values())
    for text in (*_PROBE, f"{specials} {_PROBE[0]} {specials}x"):
        encoding = backend.encode(text, add_special_tokens=False)
        ends = token_byte_ends(table, encoding.ids)
        if not ends or ends[-1] != len(text.encode("utf-8")) or _char_offsets(text, ends) != encoding.offsets:
            return False
        if backend.encode_batch_fast([text], add_special_tokens=False)[0].ids != encoding.ids:
            return False
    return True


def fast_backend(tokenizer):
    """The Rust tokenizer behind a fast transformers tokenizer, else None."""
    return getattr(tokenizer, "_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None


def byte_lengths(tokenizer) -> list[int] | None:
    """Bytes per token id of a byte-level fast tokenizer that passes the probe, else None. Cached per tokenizer
    object, keyed by its backend, vocabulary size and normalizer (an edited tokenizer is probed again)."""
    backend = fast_backend(tokenizer)
    if backend is None or not hasattr(backend, "encode_batch_fast"):
        return None
    key = (id(backend), backend.get_vocab_size(with_added_tokens=True), backend.normalizer is None)
    cached = _CACHE.get(tokenizer)
    if cached is None or cached[0] != key:
        table = _lengths(backend)
        cached = _CACHE[tokenizer] = (key, table if table is not None and _probe_passes(backend, table) else None)
    return cached[1]


def token_byte_ends(table: list[int], ids: list[int]) -> list[int]:
    return list(itertools.accumulate(map(table.__getitem__, ids)))


def byte_position(text: str, c: int) -> int:
    return c if text.isascii() else len(text[:c].encode("utf-8"))


def first_starting_at(ends: list[int], text: str, c: int) -> int:
    """The first token whose start is >= character c (token t starts at byte ends[t - 1], token 0 at 0)."""
    if c >= len(text):
        return len(ends)
    b = byte_position(text, c)
    return 0 if b <= 0 else bisect.bisect_left(ends, b) + 1


def first_ending_after(ends: list[int], text: str, c: int) -> int:
    """The first token whose end is > character c."""
    if c >= len(text):
        return len(ends)
    return bisect.bisect_right(ends, byte_position(text, c))
