"""The synth wing: the generators' machinery (per-sample seeding, sharding, shares, the generation report)
and teachers (a local transformers model or an OpenAI-compatible endpoint).

May import the model and data wings, never train / curate / eval.
"""
