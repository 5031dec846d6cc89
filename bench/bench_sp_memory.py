"""What sequence parallelism buys, as a scale figure on the CPU: peak memory per rank of one training step
(forward, backward, AdamW) of the tiny model on one packed row, against the row's length, at sp 1 and sp 2
(gloo, 2 processes, core.model.sequence_parallel's torch reference), and the longest row each trains within a
fixed memory budget per rank. The row holds samples of --sample-len tokens (long-context SFT samples); each SP
rank holds a contiguous half of it and all-gathers K/V.

Each (sp, length) runs in fresh processes; peak memory is each rank's peak RSS (ru_maxrss), the figure an
out-of-memory killer sees. Writes bench/out/sp_memory.png and bench/out/sp_memory.json.

    python bench/bench_sp_memory.py [--budget-gb 1.5] [--max-len 131072] [--sample-len 1024] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time

import torch


def worker(args) -> None:
    import torch.distributed as dist

    from core.data.chat import RenderedSample
    from core.model.attention import enable_packed_attention
    from core.model.loading import load_model
    from core.model.sequence_parallel import sequence_parallel_group
    from core.train.batching import build_micro_batch, forward_token_losses, plan_step
    from core.train.loss import weighted_loss

    torch.set_num_threads(1)
    group = None
    if args.sp > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=args.rank,
                                world_size=args.sp)
        group = dist.new_group(list(range(args.sp)))
    model = load_model("tiny", seed=0)
    enable_packed_attention(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    samples, left = [], args.length
    while left > 0:
        n = min(args.sample_len, left)
        ids = torch.randint(40, 2000, (n,), generator=g).tolist()
        samples.append(RenderedSample(ids, [-100] + ids[1:], "bench/sp", str(len(samples))))
        left -= n
    plan = plan_step(samples, args.length, True, "truncate", 1, 1)
    batch = build_micro_batch(plan.slots[0][0], plan, {"bench/sp": 0}, "token", 0, args.rank, args.sp)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.time()
    with sequence_parallel_group(group):
        loss = weighted_loss(forward_token_losses(model, batch, 2048), batch.weights)
        loss.backward()
    optimizer.step()
    seconds = time.time() - start
    if group is not None:
        total = loss.detach().clone()
        dist.all_reduce(total)
        loss = total
        dist.destroy_process_group()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps({"peak": peak, "before": before, "seconds": seconds, "loss": float(loss),
                                  "local_tokens": int(batch.input_ids.shape[1])}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(sp: int, length: int, args) -> list[dict]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--sp", str(sp), "--rank", str(r), "--port",
                               str(port), "--length", str(length), "--sample-len", str(args.sample_len)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for r in range(sp)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=1800)
        if p.returncode:
            raise SystemExit(f"sp {sp} length {length} failed:\n{err[-3000:]}")
        results.append(json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:]))
    return results


def plot(curves: dict, budget: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for sp, points in curves.items():
        xs = [p["length"] for p in points]
        ax.plot(xs, [p["peak_gb"] for p in points], marker="o", label=f"sp {sp} (peak RSS per rank)")
    ax.axhline(budget, color="grey", linestyle="--", label=f"budget {budget:g} GB per rank")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("packed row length (tokens)")
    ax.set_ylabel("peak memory per rank (GB)")
    ax.set_title("Tiny model, one training step, CPU (gloo)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-gb", type=float, default=1.5, help="memory budget per rank (peak RSS)")
    parser.add_argument("--start", type=int, default=4096)
    parser.add_argument("--max-len", type=int, default=131072, help="longest row tried")
    parser.add_argument("--sample-len", type=int, default=1024)
    parser.add_argument("--out", default="bench/out")
    parser.add_argument("--quick", action="store_true", help="smoke run: rows of 1K and 2K tokens")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sp", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.start, args.max_len, args.sample_len = 1024, 2048, 512
    curves, longest = {}, {}
    for sp in (1, 2):
        curves[sp], longest[sp], length = [], 0, args.start
        while length <= args.max_len:  # double until a step's peak per rank exceeds the budget
            ranks = measure(sp, length, args)
            peak = max(r["peak"] for r in ranks) / 1e9
            curves[sp].append({"length": length, "peak_gb": peak, "baseline_gb": max(r["before"] for r in ranks) / 1e9,
                               "seconds": max(r["seconds"] for r in ranks), "loss": ranks[0]["loss"]})
            print(f"sp {sp}  row {length:>7,}  peak per rank {peak:5.2f} GB  (before the step "
                  f"{curves[sp][-1]['baseline_gb']:.2f} GB)  step {curves[sp][-1]['seconds']:6.1f} s  "
                  f"loss {ranks[0]['loss']:.4f}", flush=True)
            if peak > args.budget_gb:
                break
            longest[sp] = length
            length *= 2
    same = [(a["length"], a["loss"], b["loss"]) for a in curves[1] for b in curves[2] if a["length"] == b["length"]]
    worst = max((abs(x - y) for _, x, y in same), default=0.0)
    print(f"\nlongest row within {args.budget_gb:g} GB per rank (lengths doubled from {args.start:,}, "
          f"samples of {args.sample_len:,} tokens): sp 1 {longest[1]:,} tokens, sp 2 {longest[2]:,} tokens"
          + (f" ({longest[2] / longest[1]:.1f}x)" if longest[1] else ""))
    print(f"sp 2 loss equals sp 1 at every length measured by both: max |diff| {worst:.2e}")
    os.makedirs(args.out, exist_ok=True)
    name = "sp_memory_quick" if args.quick else "sp_memory"
    plot(curves, args.budget_gb, os.path.join(args.out, f"{name}.png"))
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"budget_gb": args.budget_gb, "sample_len": args.sample_len, "curves": curves,
                   "longest": longest}, f, indent=1)
    print(f"plot: {os.path.join(args.out, name + '.png')}")


if __name__ == "__main__":
    main()
