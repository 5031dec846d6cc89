"""Files in and out without losing anything.

Writes go to a hidden file beside the target and are renamed into place once complete (`atomic_write`,
`replace_dir`), so a kill leaves the old file or the complete new one, never a mix. Ctrl-C keeps the finished
lines in ``<target>.partial`` and says so in one line. Under `core.errors.run_cli` the command's ``--out`` (and
``--report``) is checked before any work: it may not be one of the inputs, may not exist unless ``--overwrite``
(run folders: or ``--resume``), and its folder must be writable. `text_lines` reads text with every line's
number: non-UTF-8 bytes and over-long lines are errors naming file and line, a byte-order mark is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator

from core.errors import Interrupted, UserError, check_output, check_writable, overwrite_allowed, refuse_input

__all__ = ["atomic_write", "check_output", "check_writable", "overwrite_allowed", "replace_dir", "text_lines",
           "read_text", "write_text", "write_json", "save_figure", "LineError"]

MAX_LINE_MB_ENV = "SFT_MAX_LINE_MB"
DEFAULT_MAX_LINE_MB = 16.0


def _partial_lines(tmp: str) -> int:
    """Cut the aside file back to its last complete line; return how many lines it keeps."""
    with open(tmp, "rb+") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
    return data[:keep].count(b"\n")


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8", keep_partial: bool = True):
    """Open a file beside `path`; rename it over `path` only when the block finishes. On Ctrl-C / SIGTERM the
    complete lines written so far go to ``path.partial`` (one-line message); on any other error the aside file
    is removed. `path` itself is never touched until the new file is complete."""
    path = os.fspath(path)
    refuse_input(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    f = open(tmp, mode, encoding=None if "b" in mode else encoding)
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
    except KeyboardInterrupt:
        f.close()
        if keep_partial and "b" not in mode and os.path.getsize(tmp):
            lines = _partial_lines(tmp)
            partial = path + ".partial"
            os.replace(tmp, partial)
            raise Interrupted(f"interrupted: {lines} finished lines kept in {partial}; "
                              f"{'the previous file is untouched' if os.path.exists(path) else 'nothing else written'}",
                              file=path) from None
        _remove(tmp)
        raise
    except BaseException:
        f.close()
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def write_text(path: str, text: str) -> None:
    with atomic_write(path, keep_partial=False) as f:
        f.write(text)


def write_json(path: str, obj, **dump_kwargs) -> None:
    """`json.dump(obj, f, **dump_kwargs)` into `path`, aside then renamed: a kill leaves the old file or the new."""
    with atomic_write(path, keep_partial=False) as f:
        json.dump(obj, f, **dump_kwargs)


def save_figure(fig, path: str, **savefig_kwargs) -> None:
    """`fig.savefig(path)` aside then renamed. The aside name keeps the extension, so matplotlib picks the same
    format (PNG for .png) it would for `path`."""
    path = os.fspath(path)
    refuse_input(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(path))
    tmp = os.path.join(folder, f".{stem}.tmp-{os.getpid()}{ext}")
    try:
        fig.savefig(tmp, **savefig_kwargs)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def replace_dir(path: str):
    """Build a folder aside (yielded) and swap it in for `path` when the block finishes: no stale file of an older
    folder survives (an old index's dense.faiss), and a kill leaves the old folder or the new one."""
    path = os.fspath(path).rstrip("/") or "/"
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = os.path.join(parent, f".{os.path.basename(path)}.old-{os.getpid()}")
    if os.path.exists(path):
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


# --- reading ----------------------------------------------------------------------------------------------


class LineError(UserError):
    """A line that cannot be read as text: `reason` is not_utf8 or line_too_long."""

    def __init__(self, message: str, file: str, line: int, reason: str):
        super().__init__(message, file=file, line=line)
        self.reason = reason


class EmptyInput(UserError):
    """A data file with no lines: never read as "0 records" and reported as a result."""

    def __init__(self, path: str, what: str = "records"):
        super().__init__(f"is empty: no {what}", file=path)


def max_line_bytes() -> int:
    try:
        mb = float(os.environ.get(MAX_LINE_MB_ENV, DEFAULT_MAX_LINE_MB))
    except ValueError:
        mb = DEFAULT_MAX_LINE_MB
    return int(mb * (1 << 20))


def first_char(path: str) -> str:
    """The first character that is not white space (after a byte-order mark), or ""."""
    with open(path, "rb") as f:
        while block := f.read(1 << 16):
            stripped = block.removeprefix(b"\xef\xbb\xbf").lstrip()
            if stripped:
                return chr(stripped[0]) if stripped[0] < 128 else "?"
    return ""


def text_lines(path: str, on_bad: Callable[[LineError], None] | None = None,
               limit: int | None = None, yield_errors: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, a leading byte-order mark dropped. A line over `limit` bytes
    (SFT_MAX_LINE_MB, default 16 MB) or not UTF-8 raises LineError naming file and line, or goes to `on_bad`
    (lenient readers count it) and is skipped. An over-long line is skipped without being decoded."""
    path = os.fspath(path)
    limit = max_line_bytes() if limit is None else limit
    with open(path, "rb") as f:
        line_no = 0
        while True:
            raw = f.readline(limit + 1)
            if not raw:
                return
            line_no += 1
            error = None
            if len(raw) > limit and not raw.endswith(b"\n"):
                size = len(raw)
                while (chunk := f.readline(1 << 24)) and not chunk.endswith(b"\n"):
                    size += len(chunk)
                size += len(chunk)
                error = LineError(f"line of {size / (1 << 20):.1f} MB is over the {limit / (1 << 20):.0f} MB limit "
                                  f"(raise {MAX_LINE_MB_ENV} to read it)", path, line_no, "line_too_long")
            else:
                if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    error = LineError(f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                                      "re-save the file as UTF-8", path, line_no, "not_utf8")
            if error is not None:
                if yield_errors:
                    yield line_no, error
                    continue
                if on_bad is None:
                    raise error
                on_bad(error)
                continue
            yield line_no, text


def read_text(path: str) -> str:
    """A whole UTF-8 text file (a corpus document), BOM dropped; non-UTF-8 bytes are an error naming the line."""
    return "".join(text for _, text in text_lines(path, limit=1 << 62))
