"""Long-context option checks made before anything is built: lengths, depths and shares in range, and a
length refused when the machine cannot hold it (a 100,000,000-token prompt would otherwise grow until the
kernel kills the process)."""

from __future__ import annotations

import os

from core.errors import UserError

TEXT_BYTES_PER_TOKEN = 256  # prompt text, token ids and the tokenizer's per-token offsets, with slack


def available_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def bytes_per_token(model_config=None) -> int:
    """Memory one prompt token costs: its text, and with a model its KV cache (fp32) and activations."""
    if model_config is None:
        return TEXT_BYTES_PER_TOKEN
    layers = getattr(model_config, "num_hidden_layers", 1)
    hidden = getattr(model_config, "hidden_size", 1)
    heads = getattr(model_config, "num_attention_heads", 1)
    kv_dim = getattr(model_config, "num_key_value_heads", heads) * (getattr(model_config, "head_dim", None) or hidden // heads)
    inter = getattr(model_config, "intermediate_size", 4 * hidden)
    return TEXT_BYTES_PER_TOKEN + 2 * layers * kv_dim * 4 + (4 * hidden + inter) * 4


def check_lengths(lengths: list[int], flag: str = "--lengths", model_config=None, batch: int = 1) -> None:
    bad = [n for n in lengths if n < 1]
    if bad:
        raise UserError(f"lengths must be positive token counts, got {bad[0]}", field=flag)
    need = max(lengths) * bytes_per_token(model_config) * max(batch, 1)
    have = available_memory()
    if need > have:
        raise UserError(f"{max(lengths):,} tokens need about {need / 2**30:,.1f} GiB"
                        f"{' for a batch of ' + str(batch) if batch > 1 else ''}; this machine has "
                        f"{have / 2**30:,.1f} GiB available", field=flag)


def check_depths(depths: list[float] | None, flag: str = "--depths") -> None:
    bad = [d for d in depths or [] if not 0 <= d <= 1]
    if bad:
        raise UserError(f"depths are fractions of the context in [0, 1], got {bad[0]}", field=flag)


def check_share(value: float, flag: str) -> None:
    if not 0 <= value <= 1:
        raise UserError(f"a share in [0, 1], got {value}", field=flag)


def check_positive(**values: int) -> None:
    """check_positive(n=args.n, ...): each must be >= 1; the flag is named from the keyword."""
    for name, value in values.items():
        if value < 1:
            raise UserError(f"must be >= 1, got {value}", field="--" + name.replace("_", "-"))
