"""The model wing: load a model and tokenizer (local checkpoint or the embedded tiny one), RoPE base,
special tokens, packed attention and its kernels, sequence parallelism, batched generation.

Imports nothing from the other wings (only `core.errors`).
"""
