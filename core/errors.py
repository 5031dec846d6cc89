"""Errors a user can fix, and the one wrapper every command-line entry point runs under.

`run_cli(prog, main)` turns the project's `UserError`s and the usual OS / decode / config / JSON errors into
one line on stderr, ``prog: error: <file>:<line>: <field>: <what>``, with a non-zero exit. ``--debug`` (or
``SFT_DEBUG=1``) shows the traceback instead; in a multi-process run only rank 0 prints. Anything else is an
internal bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class UserError(ValueError):
    """A mistake the user can fix. Give `file`, `line` and `field` where known: ``file:line: field: what``."""

    def __init__(self, message: str = "", file: str | None = None, line: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.where = (file, line, field)  # subclasses keep their own attributes (RecordError.line, ...)
        self.message = message

    def __str__(self) -> str:
        file, line, field = getattr(self, "where", (None, None, None))
        where = ":".join(str(x) for x in (file, line) if x is not None)
        return ": ".join([p for p in (where, field) if p] + [super().__str__()])


class ConfigError(UserError):
    """A bad option, flag combination or config file."""


class OutputError(UserError):
    """An output that would destroy an input or an earlier result, or cannot be written."""


class Interrupted(UserError):
    """Ctrl-C or SIGTERM; the message says what finished work was kept and where."""


DEBUG_ENV = "SFT_DEBUG"
_debug = False


def debug_enabled() -> bool:
    return _debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line(text: str) -> str:
    """Multi-line messages (a list of config problems) joined into one line."""
    lines = [x.strip() for x in str(text).splitlines() if x.strip()]
    if not lines:
        return "failed"
    head, rest = lines[0], lines[1:]
    return head + (" " if head.endswith(":") else "; ") + "; ".join(rest) if rest else head


def describe(e: BaseException) -> str | None:
    """The one-line text for a user-fixable exception, or None for an internal bug."""
    if isinstance(e, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
    if isinstance(e, OSError) and not isinstance(e, (BlockingIOError, InterruptedError)):
        name = e.filename if e.filename is not None else ""
        what = e.strerror or str(e)
        return f"{name}: {what}" if name else what
    if isinstance(e, UserError):
        return str(e)
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno})"
    try:
        import yaml

        if isinstance(e, yaml.YAMLError):
            return f"invalid YAML: {one_line(str(e))}"
    except ImportError:  # pragma: no cover - yaml is a dependency
        pass
    return None


def _rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _say(prog: str, text: str) -> None:
    if _rank() == 0:
        text = one_line(text)
        if text.startswith(f"{prog}: "):
            text = text[len(prog) + 2:]
        if text.startswith("error: "):
            text = text[len("error: "):]
        print(f"{prog}: error: {text}", file=sys.stderr, flush=True)


class _ArgError(UserError):
    pass


def _parser_error(self: argparse.ArgumentParser, message: str):
    raise _ArgError(f"{message} (see {self.prog} --help)")


@contextlib.contextmanager
def _one_line_argparse() -> Iterator[None]:
    """argparse's usage block + error line becomes one error line (`--help` still prints the usage)."""
    saved = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _parser_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = saved  # type: ignore[method-assign]


def _term_as_interrupt(signum, frame):  # SIGTERM gets the same clean-up as Ctrl-C (partial files, one line)
    raise KeyboardInterrupt


# --- outputs named on the command line --------------------------------------------------------------

OUT_FLAGS = ("--out", "--report")

_session: dict = {"prog": None, "overwrite": False, "inputs": []}


def session_out(flag: str = "--out") -> str | None:
    """The command line's value of `flag` (an output), or None."""
    return _session.get("outs", {}).get(flag)


def session_prog() -> str | None:
    """The command running under run_cli, or None (a programmatic call)."""
    return _session["prog"]


def overwrite_allowed() -> bool:
    return bool(_session["overwrite"])


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _flag_values(argv: list[str], flags: Iterable[str]) -> list[tuple[int, str, str]]:
    """(index of the value in argv, flag, value) for every `--flag V` and `--flag=V`."""
    found = []
    for i, arg in enumerate(argv):
        for flag in flags:
            if arg == flag and i + 1 < len(argv):
                found.append((i + 1, flag, argv[i + 1]))
            elif arg.startswith(flag + "="):
                found.append((i, flag, arg.split("=", 1)[1]))
    return found


def check_writable(path: str, flag: str = "--out") -> None:
    """The nearest existing folder above `path` must be a writable folder (files and folders are created later)."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError(f"cannot write here: {parent} is not a folder", file=path, field=flag)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write here: {parent} is not writable", file=path, field=flag)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputError("cannot write here: not writable", file=path, field=flag)


def check_output(path: str, inputs: Iterable[str] = (), overwrite: bool | None = None, flag: str = "--out",
                 resumable: bool = False) -> None:
    """Refuse an output that is one of the inputs, that exists (unless overwrite), or that cannot be written."""
    overwrite = overwrite_allowed() if overwrite is None else overwrite
    for source in inputs:
        if os.path.exists(source) and os.path.exists(path) and _same(source, path):
            raise OutputError(f"is also an input ({source}); write somewhere else", file=path, field=flag)
    if os.path.exists(path) and not overwrite and not (os.path.isdir(path) and not os.listdir(path)):
        hint = "pass --overwrite to replace it" + (", or --resume to continue the run" if resumable else "")
        raise OutputError(f"already exists; {hint}", file=path, field=flag)
    check_writable(path, flag)


def refuse_input(path: str) -> None:
    """Within a command: writing `path` would destroy one of the files named on its command line."""
    for source in _session["inputs"]:
        if os.path.isfile(source) and os.path.exists(path) and _same(source, path):
            raise OutputError(f"is also an input ({source}); write somewhere else", file=path)


@contextlib.contextmanager
def cli_session(prog: str, argv: list[str], overwrite: bool) -> Iterator[None]:
    """Set by run_cli for one command: --overwrite, and the command line's existing paths (the inputs)."""
    saved = dict(_session)
    outs = _flag_values(argv, OUT_FLAGS)
    out_positions = {i for i, _, _ in outs}
    inputs = [a.split("=", 1)[-1] if a.startswith("-") else a for i, a in enumerate(argv)
              if i not in out_positions and (not a.startswith("-") or "=" in a)]
    inputs = [a for a in inputs if a and os.path.exists(a)]
    _session.update(prog=prog, overwrite=overwrite, inputs=inputs, outs={flag: value for _, flag, value in outs})
    try:
        resumable = "--resume" in argv
        for _, flag, value in outs:
            if resumable and flag == "--out":
                check_output(value, inputs, overwrite=True, flag=flag)
            else:
                check_output(value, inputs, flag=flag, resumable=flag == "--out" and prog.endswith("core.train"))
        yield
    finally:
        _session.clear()
        _session.update(saved)



def run_cli(prog: str, main: Callable[[list[str]], Any], argv: list[str] | None = None) -> Any:
    """Run `main(argv)` as a command: user errors exit with one line (status 2 for usage, else 1), Ctrl-C with
    status 130. ``--debug`` and ``--overwrite`` are taken out of argv here, for every entry point (see
    cli_session for what --overwrite allows). Returns main's result when it succeeds (for in-process callers)."""
    global _debug
    argv = list(sys.argv[1:] if argv is None else argv)
    _debug = "--debug" in argv
    overwrite = "--overwrite" in argv
    argv = [a for a in argv if a not in ("--debug", "--overwrite")]
    saved_term = None
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            saved_term = signal.signal(signal.SIGTERM, _term_as_interrupt)
    try:
        with _one_line_argparse(), cli_session(prog, argv, overwrite):
            result = main(argv)
        if isinstance(result, int) and not isinstance(result, bool) and result:
            raise SystemExit(result)
        return result
    except SystemExit as e:
        if isinstance(e.code, str):  # raise SystemExit("message"): one line, status 1
            if debug_enabled():
                raise
            _say(prog, e.code)
            raise SystemExit(1) from None
        raise
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        _say(prog, "interrupted")
        raise SystemExit(130) from None
    except BaseException as e:
        text = describe(e)
        if text is None or debug_enabled():
            if _rank() != 0 and text is not None:
                raise SystemExit(1) from None
            raise
        if isinstance(e, Interrupted):
            _say(prog, text)
            raise SystemExit(130) from None
        _say(prog, text)
        raise SystemExit(2 if isinstance(e, _ArgError) else 1) from None
    finally:
        _debug = False
        if saved_term is not None:
            signal.signal(signal.SIGTERM, saved_term)
