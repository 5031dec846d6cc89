"""Shared helpers for trainer tests: small record files and configs, and launching fit under torchrun."""

import json
import os
import random
import socket
import subprocess
import sys

from core.data.records import write_records
from core.train.config import TrainConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "tests", "scripts", "fit_worker.py")


def make_records(n: int, seed: int = 0) -> list[dict]:
    """Varied lengths and task types, including one-token answers (classification-like)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        kind = ["math/add", "chat/echo", "cls/label"][i % 3]
        if kind == "math/add":
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            user, answer = f"{a}+{b}=", str(a + b)
        elif kind == "chat/echo":
            words = " ".join(rng.choice(["alpha", "beta", "gamma", "数据", "训练"]) for _ in range(rng.randint(1, 25)))
            user, answer = f"echo: {words}", words
        else:
            user, answer = "label: " + " ".join(rng.choice(["good", "bad"]) for _ in range(rng.randint(1, 8))), rng.choice("AB")
        records.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
                        "task_type": kind})
    return records


def write_data(tmp_path, n: int = 64, seed: int = 0, name: str = "train.jsonl") -> str:
    path = os.path.join(tmp_path, name)
    write_records(path, make_records(n, seed))
    return path


def small_config(tmp_path, data: str, **overrides) -> TrainConfig:
    cfg = TrainConfig(out=os.path.join(tmp_path, "run"), max_steps=4, progress=False, seed=5)
    cfg.data.paths = [data]
    cfg.data.max_len = 128
    cfg.data.cache_dir = os.path.join(tmp_path, "cache")
    cfg.optim.lr = 3e-3
    cfg.optim.warmup_steps = 1
    for key, value in overrides.items():
        owner = cfg
        *parents, leaf = key.split("__")
        for p in parents:
            owner = getattr(owner, p)
        setattr(owner, leaf, value)
    return cfg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_worker(cfg: TrainConfig, nproc: int, tmp_path, extra: dict | None = None, timeout: int = 300) -> dict:
    """Run fit in `nproc` processes (gloo) and return what rank 0 wrote."""
    from core.train.config import to_dict

    spec = os.path.join(tmp_path, f"spec-{nproc}-{os.path.basename(cfg.out)}.json")
    result = spec.replace(".json", ".result.json")
    with open(spec, "w", encoding="utf-8") as f:
        json.dump({"config": to_dict(cfg), "result": result, **(extra or {})}, f)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", f"--master-port={free_port()}",
           WORKER, spec]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise AssertionError(f"worker failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    with open(result, encoding="utf-8") as f:
        return json.load(f)


def losses(history: list[dict]) -> list[float]:
    return [row["loss"] for row in history if "loss" in row]
