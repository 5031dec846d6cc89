"""Load models and tokenizers (a local HF checkpoint or the embedded tiny default), set the RoPE base,
add special tokens."""

from __future__ import annotations

import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedModel
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from core.errors import UserError

TINY = "tiny"
ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
TINY_TOKENIZER_DIR = os.path.join(ASSETS_DIR, "tokenizer")
TINY_CONFIG_PATH = os.path.join(ASSETS_DIR, "tiny_config.json")


def _check_local(path: str) -> None:
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f'model "{path}" is neither "{TINY}" nor a local directory (nothing is downloaded at run time; '
            "pass the path of a local Hugging Face checkpoint)"
        )


def _check_has(path: str, names: tuple[str, ...], what: str) -> None:
    """A folder that is not a checkpoint fails here in one line, not deep inside transformers with a message
    about sentencepiece or tiktoken."""
    if not any(os.path.exists(os.path.join(path, n)) for n in names):
        raise UserError(f"not a {what} folder (none of {', '.join(names)} in it)", file=path)


def load_config(name_or_path: str = TINY, trust_remote_code: bool = False):
    """The model's config alone (cheap: sizes, RoPE base), for checks made before the weights are loaded."""
    if name_or_path == TINY:
        return tiny_config()
    _check_local(name_or_path)
    _check_has(name_or_path, ("config.json",), "model")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(name_or_path, local_files_only=True, trust_remote_code=trust_remote_code)


def load_tokenizer(name_or_path: str = TINY, trust_remote_code: bool = False):
    path = TINY_TOKENIZER_DIR if name_or_path == TINY else name_or_path
    _check_local(path)
    _check_has(path, ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"), "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: a fast tokenizer (tokenizer.json) is required for exact loss masks")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tiny_config(**overrides) -> LlamaConfig:
    config = LlamaConfig.from_json_file(TINY_CONFIG_PATH)
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def load_model(
    name_or_path: str = TINY,
    dtype: torch.dtype = torch.float32,
    attn_implementation: str = "sdpa",
    seed: int = 0,
    trust_remote_code: bool = False,
    **config_overrides,
) -> PreTrainedModel:
    """The tiny default is random-initialised from `seed` without touching the global RNG."""
    if name_or_path == TINY:
        config = tiny_config(**config_overrides)
        config._attn_implementation = attn_implementation
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = LlamaForCausalLM(config)
        model = model.to(dtype)
    else:
        _check_local(name_or_path)
        _check_has(name_or_path, ("config.json",), "model")
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path,
            dtype=dtype,
            attn_implementation=attn_implementation,
            local_files_only=True,
            trust_remote_code=trust_remote_code,
            **config_overrides,
        )
    model.config.use_cache = False
    return model


def rotary_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(getattr(m, "inv_freq", None), torch.Tensor)]


def default_inv_freq(theta: float, head_dim: int) -> torch.Tensor:
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def rope_base(model: PreTrainedModel) -> float:
    params = getattr(model.config, "rope_parameters", None) or {}
    return float(params.get("rope_theta", getattr(model.config, "rope_theta", 10000.0)))


def set_rope_base(model: PreTrainedModel, theta: float) -> torch.Tensor:
    """Set the RoPE base where transformers 5 reads it (config.rope_parameters["rope_theta"]), recompute every
    rotary module's inv_freq, and verify it against the formula. Returns the new inv_freq."""
    config = model.config
    params = dict(getattr(config, "rope_parameters", None) or {"rope_type": "default"})
    params["rope_theta"] = float(theta)
    config.rope_parameters = params
    modules = rotary_modules(model)
    if not modules:
        raise ValueError(f"{type(model).__name__} has no rotary embedding module with an inv_freq buffer")
    for module in modules:
        rope_type = module.config.rope_parameters.get("rope_type", "default")
        if rope_type == "default":
            inv_freq, scaling = module.compute_default_rope_parameters(module.config)
        else:
            inv_freq, scaling = ROPE_INIT_FUNCTIONS[rope_type](module.config)
        module.inv_freq = inv_freq.to(module.inv_freq.device, module.inv_freq.dtype)
        module.original_inv_freq = module.inv_freq.clone()
        module.attention_scaling = scaling
    if params.get("rope_type", "default") == "default":
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        expected = default_inv_freq(theta, head_dim)
        for module in modules:
            if not torch.allclose(module.inv_freq.float().cpu(), expected, rtol=1e-6, atol=0):
                raise RuntimeError(f"RoPE base {theta} did not reach {type(module).__name__}.inv_freq")
    return modules[0].inv_freq


def add_special_tokens(model: PreTrainedModel, tokenizer, tokens: list[str]) -> int:
    """Add tokens the tokenizer lacks as special tokens and resize the embeddings (new rows start at the mean
    embedding). Returns how many were added."""
    added = tokenizer.add_tokens([t for t in tokens if t not in tokenizer.get_vocab()], special_tokens=True)
    if added and len(tokenizer) > model.get_input_embeddings().num_embeddings:  # padded vocabularies have room
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return added
