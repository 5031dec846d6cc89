"""A run folder belongs to one run: a new run never mixes with an old one's state, and `--resume` continues only
a checkpoint of the same configuration and data.

A fresh run (no resume) into a folder that holds an earlier run's state is refused on the command line unless
`--overwrite`; then, and for programmatic calls, that state (checkpoints, final model, metrics) is removed first,
so a later `--resume` cannot continue the old run on new data. Every checkpoint records the run's identity:
the configuration (less the options that may change between sessions) and a fingerprint of every data file.
`--resume` compares it with the current one and stops in one line naming what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

from core.errors import ConfigError, overwrite_allowed, session_prog
from core.train import config as config_lib
from core.train.config import TrainConfig

STATE = ("checkpoints", "final", "metrics.jsonl", "loss_by_task_type.png", "config.yaml")
# May differ between a run and its resumption: where and how it reports, how often it saves, the resume flag.
FREE = {"out", "resume", "progress", "log_every", "eval_every", "save_every", "keep_checkpoints"}


def _fingerprint(path: str) -> str:
    h = hashlib.sha256()
    files = ([os.path.join(d, n) for d, _, names in sorted(os.walk(path)) for n in sorted(names)]
             if os.path.isdir(path) else [path])
    for name in files:
        h.update(os.path.relpath(name, path).encode() if os.path.isdir(path) else b"")
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def identity(cfg: TrainConfig) -> dict:
    """What a checkpoint must share with the run that resumes it."""
    flat = {}

    def walk(tree: dict, prefix: str = "") -> None:
        for key, value in tree.items():
            if isinstance(value, dict) and key not in ("task_upsample",):
                walk(value, f"{prefix}{key}.")
            elif f"{prefix}{key}" not in FREE:
                flat[f"{prefix}{key}"] = value

    walk(config_lib.to_dict(cfg))
    data = {p: _fingerprint(p) for p in cfg.data.paths + cfg.data.eval_paths if os.path.exists(p)}
    return {"config": json.loads(json.dumps(flat, default=str)), "data": data}


def differences(saved: dict, current: dict) -> list[str]:
    out = []
    a, b = saved.get("config", {}), current["config"]
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key} {a.get(key)!r} -> {b.get(key)!r}")
    if sorted(saved.get("data", {})) != sorted(current["data"]):
        out.append(f"data files {sorted(saved.get('data', {}))} -> {sorted(current['data'])}")
    else:
        out += [f"{p} changed (fingerprint {saved['data'][p]} -> {current['data'][p]})"
                for p in sorted(current["data"]) if saved["data"][p] != current["data"][p]]
    return out


def has_state(out: str) -> bool:
    return any(os.path.exists(os.path.join(out, name)) for name in STATE)


def prepare(cfg: TrainConfig, latest: str | None, is_main: bool) -> dict:
    """Before anything is loaded: refuse or clear an old run (fresh runs), or check the checkpoint (resume).
    Returns this run's identity, to be saved in every checkpoint."""
    ident = identity(cfg)
    if cfg.resume:
        if latest is not None:
            state_path = os.path.join(latest, "trainer_state.json")
            with open(state_path, encoding="utf-8") as f:
                saved = json.load(f).get("identity")
            if saved is not None and (diff := differences(saved, ident)):
                shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
                raise ConfigError(f"--resume: the checkpoint was made by another run ({shown}); "
                                  "resume with the same options and data, or start afresh with --overwrite",
                                  file=latest)
        return ident
    if has_state(cfg.out):
        if session_prog() is not None and not overwrite_allowed():
            raise ConfigError("holds an earlier run; pass --resume to continue it or --overwrite to replace it",
                              file=cfg.out, field="--out")
        if is_main:
            for name in STATE:
                target = os.path.join(cfg.out, name)
                if os.path.isdir(target):
                    shutil.rmtree(target)
                elif os.path.exists(target):
                    os.remove(target)
    return ident


def check_inputs(cfg: TrainConfig) -> None:
    """An empty data file is an error naming it (datasets would fail later without a name)."""
    for path in cfg.data.paths + cfg.data.eval_paths:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                head = f.read(1 << 16)
            if not head.strip(b" \t\r\n\xef\xbb\xbf") and os.path.getsize(path) <= len(head):
                raise ConfigError("is empty: no records to train on", file=path, field="--data")


def check_trainable(samples: list, cfg: TrainConfig, what: str = "training") -> None:
    """Refuse a run in which no sample survives max_len (it would train at loss 0 and save an untrained model)."""
    from core.data.packing import PackReport, fit_length

    if not samples:
        raise ConfigError(f"no {what} samples: every record was skipped", field="data.paths")
    report = PackReport()
    if all(fit_length(s, cfg.data.max_len, cfg.data.truncation, report) is None for s in samples):
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.dropped.items()))
        raise ConfigError(f"all {len(samples)} {what} samples are dropped at data.max_len={cfg.data.max_len} "
                          f"({reasons}); raise --data.max_len or use --data.truncation truncate",
                          field="data.max_len")
