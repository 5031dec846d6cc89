"""A small OpenAI-compatible chat server on 127.0.0.1, answering with a local model through core.model.generation.

Used by the teacher tests, and runnable for demos: ``python tests/scripts/openai_server.py --port 8000``.
Failures can be injected: the first ``fail_first`` requests get ``fail_status`` (with a Retry-After header
when ``retry_after`` is set), and the first ``sleep_first`` requests sleep ``sleep_s`` before answering.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.model.generation import generate_replies, prompt_ids


def from_openai_messages(messages: list[dict]) -> list[dict]:
    """Chat-completions messages -> the record shape the chat template takes (dict tool-call arguments)."""
    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != "tool_call_id"}
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {"type": "function", "function": {"name": c["function"]["name"],
                                                  "arguments": json.loads(c["function"]["arguments"])}}
                for c in message["tool_calls"]
            ]
        out.append(message)
    return out


class TinyOpenAIServer:
    def __init__(self, model, tokenizer, model_name: str = "tiny", port: int = 0):
        self.model, self.tokenizer, self.model_name = model, tokenizer, model_name
        self.generate_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.reset()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reset(self, fail_first: int = 0, fail_status: int = 500, retry_after: str | None = None,
              sleep_first: int = 0, sleep_s: float = 0.0, delay_s: float = 0.0, echo_auth: bool = False) -> None:
        """New failure behaviour, and forget the requests seen so far."""
        with getattr(self, "state_lock", threading.Lock()):
            self.fail_first, self.fail_status, self.retry_after = fail_first, fail_status, retry_after
            self.sleep_first, self.sleep_s, self.delay_s, self.echo_auth = sleep_first, sleep_s, delay_s, echo_auth
            self.requests: list[dict] = []  # {"body": ..., "authorization": ...} in arrival order
            self.in_flight = 0
            self.max_in_flight = 0
            self.generation = getattr(self, "generation", 0) + 1  # requests still running from before don't count

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> TinyOpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def complete(self, body: dict) -> dict:
        record = {"messages": from_openai_messages(body["messages"])}
        max_tokens = int(body.get("max_tokens") or 128)
        temperature = float(body.get("temperature", 1.0))

        def generate(n: int) -> str:
            return generate_replies(self.model, self.tokenizer, [record], max_new_tokens=n,
                                    do_sample=temperature > 0, temperature=temperature or 1.0,
                                    seed=int(body.get("seed") or 0), progress=False)[0][0]

        with self.generate_lock:
            reply = generate(max_tokens)
            # Same seed, one token more: the same reply means the turn ended before max_tokens.
            finish_reason = "stop" if generate(max_tokens + 1) == reply else "length"
            n_prompt = len(prompt_ids(self.tokenizer, record))
            n_reply = len(self.tokenizer(reply, add_special_tokens=False)["input_ids"])
        return {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", self.model_name),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_reply,
                      "total_tokens": n_prompt + n_reply},
        }

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model_name, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                auth = self.headers.get("Authorization")
                with server.state_lock:
                    server.requests.append({"body": body, "authorization": auth})
                    n, generation = len(server.requests), server.generation
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                if server.delay_s:
                    time.sleep(server.delay_s)
                if n <= server.sleep_first:
                    time.sleep(server.sleep_s)
                if n <= server.fail_first:
                    message = f"injected failure {n}" + (f" (got Authorization: {auth})" if server.echo_auth else "")
                    status, payload = server.fail_status, {"error": {"message": message}}
                    headers = {"Retry-After": server.retry_after} if server.retry_after is not None else {}
                else:
                    status, payload, headers = 200, server.complete(body), {}
                with server.state_lock:  # before answering: the client may send its next request at once
                    if generation == server.generation:
                        server.in_flight -= 1
                self._send(status, payload, headers)

        return Handler


def main() -> None:
    from core.model.loading import load_model, load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' or a local HF checkpoint")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = TinyOpenAIServer(load_model(args.model), load_tokenizer(args.model), model_name=args.model, port=args.port)
    print(f"serving {args.model} at {server.base_url}/chat/completions", flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
