"""Errors a user can fix: every CLI reports them in one line (no traceback)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad option, flag combination or config file."""
