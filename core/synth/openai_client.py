"""An OpenAI-compatible chat endpoint as a teacher: concurrent requests, retries with exponential backoff
and jitter (honouring Retry-After), a per-request timeout, and an on-disk cache keyed by the request.

The API key is read from an environment variable and only ever sent in the Authorization header: it is
not part of the cache key or the cache files, and it is redacted from every log line and error message.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from tqdm import tqdm

from core.errors import UserError

log = logging.getLogger("core.synth.teacher")
RETRY_STATUS = {429, 500, 502, 503, 504}


class TeacherError(UserError, RuntimeError):
    pass


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class TeacherStats:
    conversations: int = 0  # replies asked for
    cache_hits: int = 0  # answered from the cache (or by an identical request in the same call)
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    failures: int = 0  # conversations still failing after the last retry
    truncated: int = 0  # replies cut at max_tokens (finish_reason "length")
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in
                ("conversations", "cache_hits", "requests", "retries", "failures", "truncated")}


@dataclass
class OpenAIConfig:
    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key_env: str = "OPENAI_API_KEY"  # no key in the environment: no Authorization header
    concurrency: int = 8
    timeout_s: float = 120.0  # socket timeout of one request (connect and each read)
    max_retries: int = 5  # on 429, 5xx, timeouts and connection errors
    backoff_base_s: float = 1.0  # wait before retry k (0-based): base * 2**k, capped, times a jitter in [0.5, 1]
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0  # a server's Retry-After is honoured up to this
    cache_dir: str | None = ".cache/sft-suites/teacher"  # None turns the cache off
    extra_body: dict = field(default_factory=dict)  # more request fields (top_p, stop, ...); part of the key
    progress: bool = True

    def __post_init__(self):
        problems = []
        if self.concurrency < 1:
            problems.append(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout_s <= 0:
            problems.append(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            problems.append(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            problems.append("backoff_base_s must be >= 0 and backoff_max_s >= backoff_base_s")
        reserved = sorted(set(self.extra_body) & {"model", "messages", "max_tokens", "temperature", "seed"})
        if reserved:
            problems.append(f"extra_body must not set {reserved}; they are complete() arguments")
        if problems:
            raise ValueError("invalid teacher configuration: " + "; ".join(problems))


def check_conversations(conversations) -> None:
    if not isinstance(conversations, list):
        raise TypeError(f"conversations must be a list of message lists, got {type(conversations).__name__}")
    for i, conversation in enumerate(conversations):
        if not isinstance(conversation, list) or not conversation:
            raise ValueError(f"conversations[{i}]: expected a non-empty list of messages")
        for j, message in enumerate(conversation):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise ValueError(f"conversations[{i}][{j}]: expected a message with a string 'role'")


def to_openai_messages(conversation: list[dict]) -> list[dict]:
    """Record-shaped messages -> the chat completions shape: tool-call arguments as JSON strings, call ids
    (tool results are linked to the calls in order when they carry no tool_call_id), no "train" flags."""
    out, pending = [], []
    for turn, message in enumerate(conversation):
        message = {k: v for k, v in message.items() if k != "train"}
        if message.get("tool_calls"):
            calls = []
            for j, call in enumerate(message["tool_calls"]):
                function = dict(call["function"])
                if not isinstance(function.get("arguments"), str):
                    function["arguments"] = json.dumps(function.get("arguments", {}), ensure_ascii=False)
                calls.append({"id": call.get("id") or f"call_{turn}_{j}", "type": "function", "function": function})
            message["tool_calls"] = calls
            pending = [c["id"] for c in calls]
        elif message["role"] == "tool" and "tool_call_id" not in message and pending:
            message["tool_call_id"] = pending.pop(0)
        out.append(message)
    return out


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RequestCache:
    """One JSON file per request, named by the SHA-256 of the canonical request; written atomically."""

    def __init__(self, directory: str):
        self.directory = directory

    @staticmethod
    def key(url: str, body: dict) -> str:
        canonical = json.dumps({"url": url, "body": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], f"{key}.json")

    def get(self, key: str) -> dict | None:
        try:
            with open(self.path(key), encoding="utf-8") as f:
                entry = json.load(f)
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("teacher cache: %s is unreadable; asking the endpoint again", self.path(key))
            return None
        return entry if isinstance(entry.get("reply"), str) else None

    def put(self, key: str, entry: dict) -> None:
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, path)


class OpenAITeacher:
    def __init__(self, config: OpenAIConfig):
        self.config = config
        self.name = f"openai:{config.base_url}#{config.model}"
        self.url = f"{config.base_url}/chat/completions"
        self.cache = RequestCache(config.cache_dir) if config.cache_dir else None
        self.stats = TeacherStats()
        self._api_key = os.environ.get(config.api_key_env) or None

    def __repr__(self) -> str:
        return f"OpenAITeacher({self.name!r})"

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def complete(
        self, conversations: list[list[dict]], max_tokens: int = 512, temperature: float = 0.7, seed: int = 0
    ) -> list[str]:
        check_conversations(conversations)
        bodies = [
            {"model": self.config.model, "messages": to_openai_messages(c), "max_tokens": max_tokens,
             "temperature": temperature, "seed": seed, **self.config.extra_body}
            for c in conversations
        ]
        before = self.stats.as_dict()
        keys = [RequestCache.key(self.url, body) for body in bodies]
        replies: dict[str, str] = {}
        if self.cache:
            for key in set(keys):
                entry = self.cache.get(key)
                if entry is not None:
                    replies[key] = entry["reply"]
        todo = {k: body for k, body in zip(keys, bodies) if k not in replies}  # identical requests sent once
        self.stats.add(conversations=len(conversations), cache_hits=len(conversations) - len(todo))
        errors: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool, tqdm(
            total=len(todo), desc=f"teacher {self.config.model}", disable=not self.config.progress or not todo
        ) as bar:
            futures = {pool.submit(self._request, body): key for key, body in todo.items()}
            for future in as_completed(futures):
                key = futures[future]
                try:
                    replies[key] = future.result()
                except TeacherError as e:
                    errors[key] = str(e)
                bar.update(1)
        failed = [i for i, key in enumerate(keys) if key in errors]
        self.stats.add(failures=len(failed))
        if self.config.progress:
            now = self.stats.as_dict()
            print(f"[teacher] {self.summary({k: now[k] - before[k] for k in now})}", file=sys.stderr)
        if failed:
            n_ok = len(conversations) - len(failed)
            saved = (f" The {n_ok} answered are cached; a re-run asks only for the failed ones."
                     if self.cache and n_ok else "")
            raise TeacherError(
                f"{len(failed)} of {len(conversations)} conversations failed at {self.url} (model "
                f"{self.config.model}); first, conversations[{failed[0]}]: {errors[keys[failed[0]]]}.{saved}"
            )
        return [replies[key] for key in keys]

    def summary(self, counts: dict[str, int] | None = None) -> str:
        """One line of counts: those given (e.g. one call's), else the totals since this teacher was built."""
        s = counts or self.stats.as_dict()
        return (f"{self.config.model} at {self.config.base_url}: {s['conversations']} conversations, "
                f"{s['cache_hits']} cache hits, {s['requests']} requests ({s['retries']} retries), "
                f"{s['failures']} failed, {s['truncated']} cut at max_tokens")

    def _backoff(self, attempt: int) -> float:
        c = self.config
        return min(c.backoff_max_s, c.backoff_base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def _request(self, body: dict) -> str:
        c = self.config
        attempts = c.max_retries + 1
        for attempt in range(attempts):
            try:
                reply, finish_reason, usage = self._post(body)
                break
            except _Retryable as e:
                if attempt == c.max_retries:
                    raise TeacherError(f"gave up after {attempts} attempts; last: {self.redact(str(e))}") from None
                wait = self._backoff(attempt)
                if e.retry_after is not None:
                    wait = min(e.retry_after, c.max_retry_after_s)
                self.stats.add(retries=1)
                log.warning("teacher %s: %s; retry %d/%d in %.2f s", c.model, self.redact(str(e)), attempt + 1,
                            c.max_retries, wait)
                time.sleep(wait)
        if finish_reason == "length":
            self.stats.add(truncated=1)
        if self.cache:
            self.cache.put(RequestCache.key(self.url, body),
                           {"request": body, "url": self.url, "reply": reply, "finish_reason": finish_reason,
                            "usage": usage})
        return reply

    def _post(self, body: dict) -> tuple[str, str | None, dict | None]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        self.stats.add(requests=1)
        timeout = self.config.timeout_s
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as e:
            detail = self.redact(e.read()[:300].decode("utf-8", "replace"))
            if e.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {e.code}: {detail}", parse_retry_after(e.headers.get("Retry-After"))) from None
            hint = f" (is ${self.config.api_key_env} set?)" if e.code in (401, 403) else ""
            raise TeacherError(f"{self.url}: HTTP {e.code}{hint}: {detail}") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                raise _Retryable(f"no answer within the {timeout} s timeout") from None
            raise _Retryable(f"cannot connect to {self.url}: {e.reason}") from None
        except TimeoutError:
            raise _Retryable(f"no answer within the {timeout} s timeout") from None
        except (ConnectionError, http.client.HTTPException) as e:
            raise _Retryable(f"connection to {self.url} broke: {type(e).__name__}: {e}") from None
        try:
            data = json.loads(payload)
            choice = data["choices"][0]
            reply = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise TeacherError(
                f"{self.url}: not a chat completion response: {self.redact(payload[:300].decode('utf-8', 'replace'))}"
            ) from None
        return reply, choice.get("finish_reason"), data.get("usage")
