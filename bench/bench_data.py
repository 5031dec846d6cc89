"""The trainer's data path at scale, side by side with what users would otherwise run, on synthetic chat sets
(long-tailed lengths, several task types, some multi-turn, the embedded tokenizer):

  render      core.data.load_source into the memory-mapped store (cold cache), tokens/s per core (num_proc=1),
              and with every core (data.num_proc default)
              (render, plain and hf-map per core: medians of 3 alternating rounds over the same records, in
              a fresh process of their own)
  plain       tokenizer(texts) in batches of 1000 over the same rendered chat texts (no masks): the floor
  hf-map      datasets.map(apply_chat_template(..., return_assistant_tokens_mask=True)), the TRL /
              LLaMA-Factory path, one process
  reload      load_source again (cache hit): seconds, and seconds per 10M tokens
  memory      a training process (core.train.fit, tiny model, a few steps): resident growth over loading the
              data (bytes per token of data), peak RSS from start to the first step, steady-state RSS; and the
              same run as 2 gloo ranks on this machine (each rank's RSS growth, and its private part)

Targets (issue 13): growth <= 1 byte/token, reload <= 1 s per 10M tokens, render >= 50% of plain per core,
2 ranks not doubling RSS. Writes bench_data.json and bench_data.png into --out.

    python bench/bench_data.py --quick                       # 1K and 5K samples, a few minutes on 2 cores
    python bench/bench_data.py --sizes 10000 100000 1000000  # the full run (1M samples are short ones)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
ROUNDS = 3  # alternating rounds of plain, hf-map and render for the per-core rates
WORDS = ("data model train token loss batch rank node cache shard sample mix epoch step value answer question "
         "search tool call result file line field error count share weight order plan pack row length "
         "数据 训练 模型 答案 问题").split()


def synthetic_records(n: int, seed: int, short: bool) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        turns = 1 if short or rng.random() < 0.7 else rng.randint(2, 4)
        messages = [{"role": "system", "content": "You are a careful assistant."}] if rng.random() < 0.3 else []
        for _ in range(turns):
            q = max(2, int(rng.lognormvariate(1.5 if short else 3.0, 0.6)))
            a = max(1, min(3 if short else 900, int(rng.lognormvariate(1.0 if short else 4.0, 0.5 if short else 1.1))))
            messages += [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(q))},
                         {"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(a))}]
        records.append({"messages": messages, "task_type": f"bench/{['qa', 'chat', 'tool', 'long'][i % 4]}"})
    return records


def rss() -> dict:
    """Resident memory of this process (bytes): total, anonymous (private heap), file-backed, peak, and PSS."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


# --- the probe: one training process (or one rank of two) ---------------------------------------------------

def probe(args) -> None:
    import pyarrow.ipc  # noqa: F401  (imported before the measurement: a one-off, not data)
    import torch.distributed as dist

    import core.data.sources  # noqa: F401
    from core.train import loop
    from core.train.config import TrainConfig

    marks: dict = {"start": rss()}
    peak = {"rss": 0}

    def sample():
        while not marks.get("done"):
            peak["rss"] = max(peak["rss"], rss()["VmRSS"])
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    load_data, plan_step = loop.load_data, loop.plan_step

    def load_data_measured(*a, **k):
        marks["before_data"] = rss()
        started = time.perf_counter()
        out = load_data(*a, **k)
        marks["load_data_s"] = time.perf_counter() - started
        marks["after_data"] = rss()
        return out

    steps = {"n": 0}

    def plan_step_measured(*a, **k):
        steps["n"] += 1
        if steps["n"] == 2:  # the first step has run
            marks["first_step"] = {**rss(), "sampled_peak": peak["rss"]}
        return plan_step(*a, **k)

    loop.load_data, loop.plan_step = load_data_measured, plan_step_measured
    cfg = TrainConfig(out=args.probe_out, max_steps=args.steps, micro_batch_size=8, progress=False, seed=1)
    cfg.data.paths, cfg.data.cache_dir, cfg.data.max_len = [args.probe], args.cache, 1024
    cfg.data.eval_split = 0.01
    loop.fit(cfg)
    marks["steady"] = rss()
    marks["done"] = True
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(f"{args.probe_out}.rank{rank}.json", "w") as f:
        json.dump(marks, f)


def run_probe(data: str, cache: str, out: str, steps: int, ranks: int) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO, "TOKENIZERS_PARALLELISM": "false"}
    script = [os.path.abspath(__file__), "--probe", data, "--cache", cache, "--probe-out", out, "--steps", str(steps)]
    if ranks == 1:
        cmd = [sys.executable, *script]
    else:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={ranks}", f"--master-port={port}", *script]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"probe failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    results = []
    for r in range(ranks):
        with open(f"{out}.rank{r}.json") as f:
            results.append(json.load(f))
    return results


# --- the per-core rates: a fresh process, as a trainer renders (not one holding a million synthetic records) ---

def rates(args) -> None:
    from datasets import Dataset

    from core.data.config import DataConfig
    from core.data.records import read_records
    from core.data.sources import load_source
    from core.model.loading import load_tokenizer

    tokenizer = load_tokenizer("tiny")
    records = read_records(args.rates)
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in records]
    dataset = Dataset.from_list([{"messages": r["messages"]} for r in records])

    def plain() -> float:
        started = time.perf_counter()
        tokens = sum(len(ids) for k in range(0, len(texts), 1000)
                     for ids in tokenizer(texts[k : k + 1000], add_special_tokens=False)["input_ids"])
        return tokens / (time.perf_counter() - started)

    def hf_map() -> float:
        started = time.perf_counter()
        mapped = dataset.map(lambda ex: tokenizer.apply_chat_template(
            ex["messages"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True),
            remove_columns=["messages"], load_from_cache_file=False, keep_in_memory=True)
        elapsed = time.perf_counter() - started
        return sum(len(x) for x in mapped["input_ids"]) / elapsed

    def render(k: int) -> float:  # a cold cache each time
        started = time.perf_counter()
        one = load_source(args.rates, tokenizer, DataConfig(cache_dir=f"{args.cache}-{k}", num_proc=1), progress=False)
        return int(one.store.lengths.sum()) / (time.perf_counter() - started)

    rounds = [(plain(), hf_map(), render(k)) for k in range(ROUNDS)]  # alternating: drift hits all three alike
    out = dict(zip(("plain_tok_s", "hf_map_tok_s", "render_tok_s_per_core"),
                   (statistics.median(r[i] for r in rounds) for i in range(3))))
    out["ratio"] = statistics.median(r[2] / r[0] for r in rounds)
    out["ratio_rounds"] = [round(r[2] / r[0], 3) for r in rounds]
    print(json.dumps(out))


def run_rates(subset: str, cache: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--rates", subset, "--cache", cache], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"rates failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the side-by-side ---------------------------------------------------------------------------------------

def measure(n: int, work: str, steps: int, rate_sample: int) -> dict:
    from core.data.config import DataConfig
    from core.data.records import write_records
    from core.data.sources import load_source, num_proc
    from core.model.loading import load_tokenizer

    short = n >= 500_000
    records = synthetic_records(n, seed=n, short=short)
    path = os.path.join(work, f"chat{n}.jsonl")
    write_records(path, records)
    tokenizer = load_tokenizer("tiny")
    sub = records[:rate_sample]
    row: dict = {"samples": n, "short": short}

    subset = os.path.join(work, f"chat{n}.sub.jsonl")
    write_records(subset, sub)
    row.update(run_rates(subset, os.path.join(work, f"rates{n}")))

    cache = os.path.join(work, f"cache{n}")
    row["cores"] = num_proc(DataConfig())
    started = time.perf_counter()
    full = load_source(path, tokenizer, DataConfig(cache_dir=cache), progress=False)
    row["render_all_cores_s"] = time.perf_counter() - started
    row["tokens"] = int(full.store.lengths.sum())
    row["render_all_cores_tok_s"] = row["tokens"] / row["render_all_cores_s"]
    started = time.perf_counter()
    again = load_source(path, tokenizer, DataConfig(cache_dir=cache), progress=False)
    row["reload_s"] = time.perf_counter() - started
    row["reload_s_per_10M_tokens"] = row["reload_s"] / row["tokens"] * 1e7
    assert len(again.store) == len(full.store)
    del records, sub

    single = run_probe(path, cache, os.path.join(work, f"probe{n}-1"), steps, 1)[0]
    row["growth_bytes_per_token"] = (single["after_data"]["VmRSS"] - single["before_data"]["VmRSS"]) / row["tokens"]
    row["growth_anon_bytes_per_token"] = (single["after_data"]["RssAnon"] - single["before_data"]["RssAnon"]) / row["tokens"]
    row["peak_to_first_step_mb"] = single["first_step"]["sampled_peak"] / 2**20
    row["steady_rss_mb"] = single["steady"]["VmRSS"] / 2**20
    pair = run_probe(path, cache, os.path.join(work, f"probe{n}-2"), steps, 2)
    row["two_ranks_growth_mb"] = [(r["after_data"]["VmRSS"] - r["before_data"]["VmRSS"]) / 2**20 for r in pair]
    row["two_ranks_growth_anon_mb"] = [(r["after_data"]["RssAnon"] - r["before_data"]["RssAnon"]) / 2**20 for r in pair]
    row["two_ranks_steady_rss_mb"] = [r["steady"]["VmRSS"] / 2**20 for r in pair]
    row["one_rank_growth_mb"] = (single["after_data"]["VmRSS"] - single["before_data"]["VmRSS"]) / 2**20
    return row


def report(rows: list[dict], out: str) -> None:
    print(f"{'samples':>9} {'tokens':>11} | {'render/core':>11} {'plain':>9} {'hf-map':>9} {'ratio':>6} | "
          f"{'all cores':>10} | {'reload s':>8} {'s/10M':>6} | {'B/token':>7} {'anon':>5} | {'peak MB':>7} "
          f"{'steady':>6} | {'1 rank MB':>9} {'2 ranks MB (each)':>18}")
    for r in rows:
        print(f"{r['samples']:>9} {r['tokens']:>11} | {r['render_tok_s_per_core']:>11.0f} {r['plain_tok_s']:>9.0f} "
              f"{r['hf_map_tok_s']:>9.0f} {r['ratio']:>6.2f} | "
              f"{r['render_all_cores_tok_s']:>10.0f} | {r['reload_s']:>8.3f} {r['reload_s_per_10M_tokens']:>6.3f} | "
              f"{r['growth_bytes_per_token']:>7.3f} {r['growth_anon_bytes_per_token']:>5.2f} | "
              f"{r['peak_to_first_step_mb']:>7.0f} {r['steady_rss_mb']:>6.0f} | {r['one_rank_growth_mb']:>9.1f} "
              f"{' / '.join(f'{x:.1f}' for x in r['two_ranks_growth_mb']):>18}")
    print(f"render/core, plain, hf-map: tokens/s on one core, medians of {ROUNDS} alternating rounds; ratio = median of the "
          "rounds' render / plain; all cores: data.num_proc default; "
          "B/token: resident growth over loading the data, per token (anon: its private part); 2 ranks: each "
          "rank's growth (the mapped samples are shared pages)")
    with open(os.path.join(out, "bench_data.json"), "w") as f:
        json.dump(rows, f, indent=1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{r['samples']:,}" for r in rows]
    width = 0.27
    for k, (key, name) in enumerate([("render_tok_s_per_core", "sft-suites render"), ("plain_tok_s", "plain batch tokenize"),
                                     ("hf_map_tok_s", "datasets.map(apply_chat_template)")]):
        axes[0].bar([i + (k - 1) * width for i in range(len(rows))], [r[key] for r in rows], width, label=name)
    axes[0].set_xticks(range(len(rows)), labels)
    axes[0].set_ylabel("tokens/s, one core")
    axes[0].set_xlabel("samples")
    axes[0].legend(fontsize=8)
    axes[1].bar(labels, [r["growth_bytes_per_token"] for r in rows], color="tab:green")
    axes[1].axhline(1.0, color="red", linestyle="--", label="target: 1 byte/token")
    axes[1].set_ylabel("resident growth, bytes per token of data")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench_data.png"), dpi=120)
    print(f"wrote {os.path.join(out, 'bench_data.json')} and bench_data.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="1K and 5K samples")
    parser.add_argument("--steps", type=int, default=6, help="training steps of the memory probe")
    parser.add_argument("--rate-sample", type=int, default=5000, help="records timed for the per-core rates")
    parser.add_argument("--out", default="runs/bench_data")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--rates", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--probe-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.probe:
        probe(args)
        return
    if args.rates:
        rates(args)
        return
    sizes = [1000, 5000] if args.quick else args.sizes
    rate_sample = min(args.rate_sample, 1000) if args.quick else args.rate_sample
    os.makedirs(args.out, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for n in sizes:
            rows.append(measure(n, work, args.steps, min(rate_sample, n)))
            print(json.dumps(rows[-1]), flush=True)
    report(rows, args.out)


if __name__ == "__main__":
    main()
