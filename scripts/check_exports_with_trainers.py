"""Opt-in check (not CI): load core.curate.export's exports with other trainers' own dataset code and compare the
tokens they train with core.data.chat's rendering and with what export_report.json says differs.

    python scripts/check_exports_with_trainers.py llamafactory|swift|axolotl

Run it through scripts/check_exports_with_trainers.sh, which installs each trainer without dependencies into
its own folder under .cache/trainer-check (with only the packages its data path imports) and sets PYTHONPATH.
Per trainer and mask it prints how many of 200 agent-suite records train exactly core's tokens plus what the
report says (LLaMA-Factory and ms-swift: the newline after <|im_end|> of each trained turn; axolotl: nothing,
and the whole token sequence equals core's), and the first records that differ otherwise. Exit status 1 if
any record differs.

- llamafactory 0.9.5: SharegptDatasetConverter with the export's dataset_info.json, its `qwen` template
  (LF_TEMPLATE), SupervisedDatasetProcessor with the export's mask_history.
- swift (ms-swift 4.6): swift.dataset.load_dataset on the export (what `swift sft --dataset FILE` runs: its
  AutoPreprocessor / MessagesPreprocessor), then template.encode in train mode of `get_template(...,
  template_type=qwen2_5 (SWIFT_TEMPLATE), agent_template="hermes" (SWIFT_AGENT_TEMPLATE), loss_scale="default")`,
  the settings swift_sft_args.txt names; the processor comes from swift.model.get_model_processor(load_model=False)
  on the tiny tokenizer with a config.json, model_type qwen2. Also checks that `channel` carries the task_type.
- axolotl 0.19: datasets.load_dataset("json") as axolotl's `ds_type: json`, then the chat_template strategy
  (axolotl.prompt_strategies.chat_template.load) built from the export's axolotl_datasets.yaml entry
  (AXOLOTL_TRAIN_ON_EOS overrides its train_on_eos), tokenize_prompt per row.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
from types import SimpleNamespace

import yaml


def trained_runs(input_ids, labels, ignore=-100):
    runs, run = [], []
    for token, label in zip(input_ids, labels):
        if label != ignore:
            run.append(token)
        elif run:
            runs.append(run)
            run = []
    return runs + ([run] if run else [])


def lf_rows(out, name, report, tokenizer, tmp):
    from llamafactory.data.converter import SharegptDatasetConverter
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
    from llamafactory.data.template import TEMPLATES

    with open(os.path.join(out, "dataset_info.json"), encoding="utf-8") as f:
        entry = json.load(f)[name]
    attr = DatasetAttr("file", name, formatting="sharegpt", **entry["columns"], **entry["tags"])
    data_args = SimpleNamespace(media_dir="", mask_history=report["row_mask"] == "last", cutoff_len=1 << 20,
                                train_on_prompt=False)
    converter = SharegptDatasetConverter(attr, data_args)
    template = copy.deepcopy(TEMPLATES[os.environ.get("LF_TEMPLATE", "qwen")])
    template.fix_special_tokens(tokenizer)
    processor = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=None, data_args=data_args)
    rows = []
    with open(os.path.join(out, f"{name}.jsonl"), encoding="utf-8") as f:
        for line in f:
            example = converter(json.loads(line))
            batch = processor.preprocess_dataset({k: [v] for k, v in example.items()})
            rows.append((batch["input_ids"][0], batch["labels"][0]) if batch["input_ids"] else ([], []))
    return rows, []


def swift_rows(out, name, report, tokenizer, tmp):
    from swift.dataset import load_dataset
    from swift.model import get_model_processor
    from swift.template import get_template

    from core.model.loading import TINY_CONFIG_PATH, TINY_TOKENIZER_DIR

    model_dir = os.path.join(tmp, "swift-model")  # the tiny tokenizer plus a config: no weights are loaded
    if not os.path.isdir(model_dir):
        shutil.copytree(TINY_TOKENIZER_DIR, model_dir)
        shutil.copy(TINY_CONFIG_PATH, os.path.join(model_dir, "config.json"))
    _, processor = get_model_processor(model_dir, load_model=False, model_type="qwen2", download_model=False)
    template = get_template(processor, template_type=os.environ.get("SWIFT_TEMPLATE", "qwen2_5"),
                            agent_template=os.environ.get("SWIFT_AGENT_TEMPLATE", "hermes"), loss_scale="default")
    template.set_mode("train")
    dataset, _ = load_dataset([os.path.join(out, f"{name}.jsonl")], strict=True)
    rows, channels = [], []
    for row in dataset:
        encoded = template.encode(row)
        rows.append((encoded["input_ids"], encoded["labels"]))
        channels.append(encoded.get("channel"))
    return rows, channels


def axolotl_rows(out, name, report, tokenizer, tmp):
    import datasets
    from axolotl.prompt_strategies.chat_template import load
    from axolotl.utils.dict import DictDefault

    with open(os.path.join(out, "axolotl_datasets.yaml"), encoding="utf-8") as f:
        ds_cfg = yaml.safe_load(f)["datasets"][0]
    if os.environ.get("AXOLOTL_TRAIN_ON_EOS"):
        ds_cfg["train_on_eos"] = os.environ["AXOLOTL_TRAIN_ON_EOS"]
    strategy = load(tokenizer, DictDefault({"sequence_len": 1 << 20, "train_on_inputs": False}), ds_cfg)
    dataset = datasets.load_dataset(ds_cfg["ds_type"], data_files=ds_cfg["path"], split="train")
    rows = []
    for row in dataset:
        encoded = strategy.tokenize_prompt(row)
        rows.append((encoded["input_ids"], encoded["labels"]))
    return rows, []


TRAINERS = {"llamafactory": lf_rows, "swift": swift_rows, "axolotl": axolotl_rows}
NEWLINE_PER_TURN = {"llamafactory": True, "swift": True, "axolotl": False}  # what export_report.json says


def check(trainer: str, records: list[dict], tokenizer, tmp: str, mask: str) -> bool:
    from core.curate.export import export
    from core.curate.export_formats import train_flags
    from core.data.chat import render_record

    src, out = os.path.join(tmp, "agent.jsonl"), os.path.join(tmp, f"{trainer}-{mask}")
    report = export([src], trainer, out, mask=mask)
    rows, channels = TRAINERS[trainer](out, "agent", report, tokenizer, tmp)
    owners = []  # which record each row came from
    for k, record in enumerate(records):
        flags = train_flags(record, mask)
        n = sum(f and m["role"] == "assistant" for m, f in zip(record["messages"], flags))
        owners += [k] * (n if report["layout"] == "split" else 1)
    runs_by_record: dict[int, list] = {}
    ids_by_record: dict[int, list] = {}
    for k, (ids, labels) in zip(owners, rows):
        runs_by_record.setdefault(k, []).extend(trained_runs(ids, labels))
        ids_by_record.setdefault(k, []).append(list(ids))
    newline = [tokenizer.convert_tokens_to_ids("Ċ")] if NEWLINE_PER_TURN[trainer] else []
    exact, differ, extra = 0, [], 0
    for k, record in enumerate(records):
        sample = render_record(record, tokenizer, mask=mask)
        core = trained_runs(sample.input_ids, sample.labels)
        theirs = runs_by_record.get(k, [])
        same = len(theirs) == len(core) and all(a == b + newline for a, b in zip(theirs, core))
        if not NEWLINE_PER_TURN[trainer]:  # exact: the whole sequence is core's too
            same = same and ids_by_record.get(k) == [list(sample.input_ids)]
        if same:
            exact += 1
            extra += len(newline) * len(core)
        else:
            differ.append((k, record["task_type"], core, theirs))
    said = report["extra_trained_tokens"]
    what = "+ the newline per trained turn" if newline else "exactly (whole sequence too)"
    print(f"[{trainer} mask {mask}] {len(records)} records, {len(rows)} rows ({report['layout']}): {exact} train "
          f"core's tokens {what} ({extra} extra tokens; the report says {said}), {len(differ)} differ")
    for k, task_type, core, theirs in differ[:3]:
        print(f"  record {k} ({task_type}): core {[tokenizer.decode(r) for r in core]}\n"
              f"  {' ' * len(str(k))}        {trainer} {[tokenizer.decode(r) for r in theirs]}")
    failed = bool(differ) or extra != said
    if trainer == "swift":
        wrong = sum(c != r["task_type"] for c, r in zip(channels, records))
        print(f"[swift mask {mask}] channel = task_type for {len(records) - wrong} of {len(records)} rows")
        failed |= bool(wrong)
    return failed


def main(argv: list[str]) -> int:
    from core.data.records import write_records
    from core.model.loading import load_tokenizer
    from suites.agent.generate import generate

    trainers = argv or list(TRAINERS)
    unknown = [t for t in trainers if t not in TRAINERS]
    if unknown:
        sys.exit(f"unknown trainer {unknown[0]!r} (expected {', '.join(TRAINERS)})")
    tokenizer = load_tokenizer("tiny")
    records = generate(200, 11, "mix")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        write_records(os.path.join(tmp, "agent.jsonl"), records)
        for trainer in trainers:
            for mask in ("all", "last"):
                failed |= check(trainer, records, tokenizer, tmp, mask)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
