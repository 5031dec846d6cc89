"""python -m core.data.convert IN [IN ...] --to records --out OUT.jsonl [--format auto|records|openai|alpaca|sharegpt]
[--task-type T] [--lenient] [--extra-roles R,...]

Reads Alpaca, ShareGPT (LLaMA-Factory's, tools and observations included), OpenAI `messages`, or the project's
own records, from JSONL, JSON arrays, parquet or Hugging Face `datasets` folders (see core.data.readers),
and writes the project's records, printing per input the format read and a count of what was mapped how.
core.train, core.data.inspect, core.curate.quality and core.curate.export read those formats directly; convert
is for keeping the mapped records (and their task_type) as a file. To go the other way, use core.curate.export.
"""

from __future__ import annotations

import argparse
import sys

from core.data.readers import add_format_arguments, iter_any
from core.data.records import ReadStats, RecordError, write_records


def convert(inputs: list[str], out: str, fmt: str = "auto", task_type: str = "", lenient: bool = False,
            extra_roles: tuple[str, ...] = ()) -> tuple[int, list[tuple[str, ReadStats]]]:
    reads: list[tuple[str, ReadStats]] = []

    def records():
        for path in inputs:
            stats = ReadStats()
            reads.append((path, stats))
            yield from iter_any(path, fmt=fmt, task_type=task_type, lenient=lenient, extra_roles=extra_roles,
                                stats=stats)

    written = write_records(out, records(), extra_roles=extra_roles)
    return written, reads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.data.convert", description=__doc__.split("\n\n")[1])
    parser.add_argument("inputs", nargs="+", metavar="IN", help="data files or Hugging Face dataset folders")
    parser.add_argument("--to", choices=["records"], default="records",
                        help="output format (other trainers' formats: python -m core.curate.export)")
    parser.add_argument("--out", required=True, help="the record JSONL file to write")
    add_format_arguments(parser)
    parser.add_argument("--lenient", action="store_true", help="skip invalid rows (counted) instead of failing")
    parser.add_argument("--extra-roles", default="", metavar="ROLE[,ROLE...]", help="custom roles besides the standard four")
    args = parser.parse_args(argv)
    try:
        written, reads = convert(args.inputs, args.out, args.format, args.task_type, args.lenient,
                                 tuple(r for r in args.extra_roles.split(",") if r))
    except (RecordError, FileNotFoundError, ValueError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    for path, stats in reads:
        print(f"[read] {path}: {stats.summary()}")
    print(f"[done] {written} records written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
