"""Teachers: where suites get answers and responses they do not write from templates.

    load_teacher(None | "template")                  -> None (the suite uses its own templates)
    load_teacher("hf:tiny" | "hf:/path/to/checkpoint") -> a local transformers model
    load_teacher("openai:http://host:port/v1#model")  -> an OpenAI-compatible endpoint (vLLM, SGLang, ...)

Every teacher answers ``complete(conversations, max_tokens, temperature, seed) -> list[str]``: one reply
per conversation (a list of chat messages ending before the reply), in the caller's order.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

from core.errors import UserError
from core.synth.openai_client import (
    OpenAIConfig,
    OpenAITeacher,
    TeacherError,
    TeacherStats,
    check_conversations,
)

__all__ = [
    "HFTeacher",
    "OpenAIConfig",
    "OpenAITeacher",
    "Teacher",
    "TeacherError",
    "TeacherStats",
    "add_teacher_args",
    "load_teacher",
    "parse_openai_spec",
    "teacher_from_args",
]


@runtime_checkable
class Teacher(Protocol):
    name: str
    stats: TeacherStats

    def complete(
        self, conversations: list[list[dict]], max_tokens: int = 512, temperature: float = 0.7, seed: int = 0
    ) -> list[str]: ...


@dataclass
class HFTeacher:
    """A local transformers model answering through core.model.generation (greedy when temperature is 0).

    Replies are cut at the end-of-turn token and keep special tokens such as ``<tool_call>``. With sampling,
    a reply depends on the seed and on which conversations share its batch; the same call gives the same
    replies."""

    path: str
    batch_size: int = 8
    progress: bool = True
    name: str = ""
    stats: TeacherStats = field(default_factory=TeacherStats)

    def __post_init__(self):
        from core.model.loading import load_model, load_tokenizer

        self.name = self.name or f"hf:{self.path}"
        self.tokenizer = load_tokenizer(self.path)
        self.model = load_model(self.path)
        self.model.eval()

    def complete(
        self, conversations: list[list[dict]], max_tokens: int = 512, temperature: float = 0.7, seed: int = 0
    ) -> list[str]:
        from core.model.generation import generate_replies

        check_conversations(conversations)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        replies = generate_replies(
            self.model,
            self.tokenizer,
            [{"messages": list(conversation)} for conversation in conversations],
            max_new_tokens=max_tokens,
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else 1.0,
            batch_size=self.batch_size,
            seed=seed,
            progress=self.progress,
        )
        self.stats.conversations += len(conversations)
        self.stats.requests += len(conversations)
        return [samples[0] for samples in replies]


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """'openai:http://host:port/v1#model-name' -> ('http://host:port/v1', 'model-name')."""
    rest = spec[len("openai:") :]
    base_url, sep, model = rest.partition("#")
    if not sep or not model:
        raise ValueError(f'teacher "{spec}": name the model after "#", e.g. openai:http://127.0.0.1:8000/v1#my-model')
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f'teacher "{spec}": the endpoint must start with http:// or https://')
    return base_url.rstrip("/"), model


def load_teacher(spec: str | None, **options) -> Teacher | None:
    """Build a teacher from its spec. `options` tune it: for "hf:" batch_size and progress; for "openai:"
    any OpenAIConfig field (concurrency, timeout_s, max_retries, cache_dir, api_key_env, ...)."""
    if spec is None or spec == "template":
        if options:
            raise UserError(f"teacher options {sorted(options)} need a teacher; the spec is {spec!r}")
        return None
    if spec.startswith("hf:"):
        path = spec[len("hf:") :]
        if not path:
            raise UserError('teacher "hf:" needs a model: hf:tiny or hf:/path/to/checkpoint')
        allowed = {"batch_size", "progress"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise UserError(f"options {unknown} do not apply to a local teacher (allowed: {sorted(allowed)})")
        return HFTeacher(path, **options)
    if spec.startswith("openai:"):
        base_url, model = parse_openai_spec(spec)
        known = {f.name for f in fields(OpenAIConfig)} - {"base_url", "model"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UserError(f"options {unknown} do not apply to an OpenAI-compatible teacher")
        return OpenAITeacher(OpenAIConfig(base_url=base_url, model=model, **options))
    raise UserError(
        f'unknown teacher "{spec}": use "template", "hf:tiny", "hf:/path/to/checkpoint" or '
        '"openai:http://host:port/v1#model-name"'
    )


def add_teacher_args(parser: argparse.ArgumentParser, default: str = "template") -> None:
    group = parser.add_argument_group("teacher")
    group.add_argument("--teacher", default=default,
                       help='"template", "hf:tiny", "hf:PATH" or "openai:http://host:port/v1#model-name"')
    group.add_argument("--teacher-concurrency", type=int, default=8, help="parallel requests (openai)")
    group.add_argument("--teacher-timeout", type=float, default=120.0, help="seconds per request (openai)")
    group.add_argument("--teacher-retries", type=int, default=5, help="retries on 429/5xx/timeouts (openai)")
    group.add_argument("--teacher-cache", default=OpenAIConfig.cache_dir,
                       help='request cache folder (openai); "" turns the cache off')
    group.add_argument("--teacher-api-key-env", default="OPENAI_API_KEY",
                       help="environment variable holding the API key (openai)")


def teacher_from_args(args: argparse.Namespace) -> Teacher | None:
    spec = args.teacher
    if spec is None or spec == "template":
        return None
    if spec.startswith("openai:"):
        return load_teacher(
            spec,
            concurrency=args.teacher_concurrency,
            timeout_s=args.teacher_timeout,
            max_retries=args.teacher_retries,
            cache_dir=args.teacher_cache or None,
            api_key_env=args.teacher_api_key_env,
        )
    return load_teacher(spec)

