"""The train wing: typed config, the DeepSpeed engine, THE loop `fit(cfg)`, loss reductions, batching of
a step's samples into micro-batches, metrics, and the `python -m core.train` CLI.

May import the model and data wings, never synth / curate / eval.
"""
