"""The data wing: the record schema and reader, chat rendering with loss masks, packing, the trainer's
data sources (read, render once, cache, mix, plan steps) and `python -m core.data.inspect`.

May import the model wing (tokenizer loading), never train / synth / curate / eval.
"""
