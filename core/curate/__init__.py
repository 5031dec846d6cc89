"""The curate wing: what happens to records between generation and training: quality gates, dedup,
robustness augmentation, mixing, export to other trainers, and the collator for HF / TRL trainers.

May import model, data, train and synth, never eval.
"""
