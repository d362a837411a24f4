"""A small OpenAI-compatible chat-completions server on 127.0.0.1 whose answers the test decides.

`JudgeServer(answer)` runs `http.server` in a thread; `answer(prompt, body)` returns the reply's text, or a
`Reply` (status, raw body, headers, delay) for the failures a test wants (429, 500, malformed, slow). Every
request is kept (`requests`: body and headers) so tests can count calls and read what was sent.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None
    """Raw body; None: a chat completion of `text`."""
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class JudgeServer:
    def __init__(self, answer: Callable[[str, dict], str | Reply]):
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                got = server.answer(body["messages"][-1]["content"], body)
                reply = got if isinstance(got, Reply) else Reply(text=got)
                time.sleep(reply.delay)
                data = reply.body if reply.body is not None else json.dumps({
                    "choices": [{"message": {"role": "assistant", "content": reply.text}}],
                    "usage": {"prompt_tokens": len(body["messages"][-1]["content"].split()),
                              "completion_tokens": len(reply.text.split())}}).encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "JudgeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def graded(prompt: str) -> tuple[str, str]:
    """(the criterion's name, the graded output) in a prompt of the shipped pointwise template."""
    criterion = prompt.split("Criterion: ", 1)[1].split(":", 1)[0]
    output = prompt.split("Answer to grade:\n<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
    return criterion, output


def expected_score(criterion: str, output: str) -> int:
    """The score the deterministic test judge gives (computed apart in tests from the predictions)."""
    return 1 + (len(output) + len(criterion)) % 5


def deterministic(prompt: str, body: dict) -> str:
    """A judge that grades by length: parseable and exactly predictable."""
    if "Answer A:" in prompt:
        a = prompt.split("Answer A:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
        b = prompt.split("Answer B:\n<<<\n", 1)[1].split("\n>>>", 1)[0]
        winner = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
        return f"Winner: {winner}\nReason: the longer answer says more."
    criterion, output = graded(prompt)
    return f"Score: {expected_score(criterion, output)}\nReason: graded by length."
