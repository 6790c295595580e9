"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks `/v1/chat/completions` and `/v1/completions` well enough for the `openai` client, and
answers with whatever a `responder` function returns (replayed judge texts, canned replies, or a
real local model). It can wait per request (to measure concurrency) and records every request.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class HTTPFailure:
    """Return this from a responder to answer with an HTTP error instead of a completion."""

    status: int
    message: str = "simulated failure"


Responder = Callable[[str, dict[str, Any]], "str | HTTPFailure"]


def _prompt_of(body: dict[str, Any]) -> str:
    if "messages" in body:
        parts = []
        for message in body["messages"]:
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            parts.append(str(content or ""))
        return "\n".join(parts)
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else "".join(prompt)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the connections a client opens at once (128 at
    # startup): the kernel then resets them or retries the SYN after 1 s. uvicorn (vLLM) uses 2048.
    request_queue_size = 2048


@dataclass
class OpenAICompatibleServer:
    responder: Responder = lambda prompt, body: "OK"
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def prompts(self) -> list[str]:
        with self._lock:
            return [r["prompt"] for r in self.requests]

    def start(self) -> "OpenAICompatibleServer":
        handler = _make_handler(self)
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "OpenAICompatibleServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, path: str, body: dict[str, Any], prompt: str, user_agent: str = "", authorization: str = "") -> None:
        with self._lock:
            self.requests.append({"path": path, "body": body, "prompt": prompt, "time": time.monotonic(), "user_agent": user_agent,
                                  "authorization": authorization})


def _make_handler(server: OpenAICompatibleServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real API server
        disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid the 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/stats"):  # request log, for a server in another process
                with server._lock:
                    records = [{"path": r["path"], "prompt": r["prompt"], "time": r["time"]} for r in server.requests]
                self._send(200, {"requests": records})
            elif self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "bad JSON"}})
                return
            path = self.path.rstrip("/")
            chat = path.endswith("/chat/completions")
            if not chat and not path.endswith("/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            prompt = _prompt_of(body)
            server._record(path, body, prompt, self.headers.get("User-Agent", ""), self.headers.get("Authorization", ""))
            if server.delay_s:
                time.sleep(server.delay_s)
            reply = server.responder(prompt, body)
            if isinstance(reply, HTTPFailure):
                self._send(reply.status, {"error": {"message": reply.message, "type": "server_error"}})
                return
            usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(reply.split())}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            common = {"id": f"cmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": body.get("model", "test-model"), "usage": usage}
            if chat:
                choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                self._send(200, {**common, "object": "chat.completion", "choices": [choice]})
            else:
                choice = {"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}
                self._send(200, {**common, "object": "text_completion", "choices": [choice]})

    return Handler


def main() -> None:
    """Serve a canned reply from its own process: `python -m redinstruct._testing.openai_server --delay 0.2`."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait per request")
    parser.add_argument("--reply", default="OK")
    parser.add_argument("--vary", action="store_true", help="end each reply with its request number (no two alike)")
    parser.add_argument("--harmfulqa", action="store_true", help="answer HARMFULQA stage prompts in the format each stage parses")
    args = parser.parse_args()
    counter = itertools.count(1)

    def responder(prompt: str, body: dict[str, Any]) -> str:
        if args.harmfulqa:
            from .harmfulqa_replies import usable_reply

            return usable_reply(prompt)
        return f"{args.reply} ({next(counter)})" if args.vary else args.reply

    server = OpenAICompatibleServer(responder=responder, delay_s=args.delay)
    server._server = _Server(("127.0.0.1", args.port), _make_handler(server))
    print(server.base_url, flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
