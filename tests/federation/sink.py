"""A tiny inbox server on 127.0.0.1 that records what it receives (test helper)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    port: int
    received: list[Received] = field(default_factory=list)
    # Decides the status of each request (default 202); may return (status, headers).
    answer: Callable[[Received], int | tuple[int, dict[str, str]]] = lambda _r: 202
    # JSON documents served on GET, by path (a remote actor, its key…).
    documents: dict[str, dict] = field(default_factory=dict)
    # The media type of a document served on GET, when it is not ActivityStreams (WebFinger).
    content_types: dict[str, str] = field(default_factory=dict)
    # The GET requests received, to check how Parvis fetches.
    fetches: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def running_sink() -> Iterator[Sink]:
    sink = Sink(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = Received(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            sink.received.append(request)
            answer = sink.answer(request)
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            sink.fetches.append(Received(self.command, self.path, dict(self.headers.items()), b""))
            document = sink.documents.get(self.path)
            body = json.dumps(document).encode() if document is not None else b""
            self.send_response(200 if document is not None else 404)
            media_type = sink.content_types.get(self.path, "application/activity+json")
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
