"""Side-by-side figures for core.synth.teacher (OpenAI-compatible endpoint) and core.eval.evaluate's teacher-forced pass.

1. 32 conversations against the local tiny server with 0.2 s simulated latency per request:
   a plain sequential urllib loop (what a user would otherwise write) vs OpenAITeacher(concurrency=8),
   and the cached re-run.
2. Teacher-forced loss + answer log-prob of 256 records: one plain HF forward per record vs core.eval.evaluate's
   packed rows.
"""
import json
import os
import sys
import tempfile
import time
import urllib.request

import torch

sys.path.insert(0, os.getcwd())
from core.eval.evaluate import teacher_forced  # noqa: E402
from core.model.loading import load_model, load_tokenizer  # noqa: E402
from core.synth.teacher import load_teacher  # noqa: E402
from tests.scripts.openai_server import TinyOpenAIServer  # noqa: E402

torch.set_num_threads(1)
model, tok = load_model("tiny"), load_tokenizer("tiny")
convs = [[{"role": "user", "content": f"Question number {i}: what is {i}+{i}?"}] for i in range(32)]
with TinyOpenAIServer(model, tok) as server:
    server.reset(delay_s=0.2)
    t = time.perf_counter()
    for c in convs:
        body = json.dumps({"model": "tiny", "messages": c, "max_tokens": 4, "temperature": 0.7, "seed": 0}).encode()
        req = urllib.request.Request(server.base_url + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        json.loads(urllib.request.urlopen(req).read())["choices"][0]["message"]["content"]
    sequential = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as cache:
        teacher = load_teacher(f"openai:{server.base_url}#tiny", concurrency=8, cache_dir=cache, progress=False)
        t = time.perf_counter()
        teacher.complete(convs, max_tokens=4)
        concurrent = time.perf_counter() - t
        t = time.perf_counter()
        teacher.complete(convs, max_tokens=4)
        cached = time.perf_counter() - t
print(f"sequential urllib loop        : {sequential:6.2f} s")
print(f"OpenAITeacher concurrency 8   : {concurrent:6.2f} s  ({sequential / concurrent:.2f}x)")
print(f"OpenAITeacher cached re-run   : {cached:6.3f} s  ({sequential / cached:.0f}x), server requests 0")

import random  # noqa: E402

rng = random.Random(0)
words = "alpha beta gamma delta 你好 世界 river stone light cloud number answer question".split()
records = []
for i in range(256):
    q = " ".join(rng.choice(words) for _ in range(rng.randint(5, 120)))
    a = " ".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
    records.append((f"r{i}", {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                              "task_type": "bench/x"}))
t = time.perf_counter()
with torch.no_grad():
    plain = []
    for _, r in records:
        ids = tok(tok.apply_chat_template(r["messages"], tokenize=False), add_special_tokens=False)["input_ids"]
        logits = model(torch.tensor([ids])).logits
        plain.append(torch.nn.functional.cross_entropy(logits[0, :-1], torch.tensor(ids[1:]), reduction="sum"))
per_record = time.perf_counter() - t
t = time.perf_counter()
teacher_forced(model, tok, records, progress=False)
packed = time.perf_counter() - t
print(f"teacher-forced, 256 records: one HF forward per record {per_record:.2f} s; "
      f"core.eval.evaluate packed rows {packed:.2f} s ({per_record / packed:.2f}x)")
