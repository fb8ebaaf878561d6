"""The inboxes of the fan-out benchmark: one lean process on 127.0.0.1 (not a benchmark).

Started by ``benchmarks/fanout.py``. It listens on two loopback ports:

- the sink answers every POST ``202 Accepted`` (keep-alive), counts each delivery once
  by activity id and inbox (``Host`` + path), counts repeats as duplicates, records
  when each first arrived, and verifies the HTTP signature of one request in
  ``--verify-every`` with ``parvis.federation.signatures`` (the public key comes from
  ``--public-key``); ``GET /_stats`` returns the counts as JSON and ``POST /_reset``
  clears them;
- the black hole accepts connections and never answers (nor reads).

Plain asyncio protocols, no framework: the sink shares the machine with the worker
being measured and must cost it as little CPU as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parvis.federation import signatures  # noqa: E402 (after the path is set)

HOST = "127.0.0.1"
_HEAD_END = b"\r\n\r\n"
_ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class Stats:
    """What the sink saw since the last reset."""

    def __init__(self, public_pem: bytes, verify_every: int) -> None:
        self.key = signatures.load_public_pem(public_pem)
        self.verify_every = verify_every
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.seen: dict[tuple[str, str], int] = {}
        self.first_at: float | None = None
        self.last_new_at: float | None = None
        self.verified = 0
        self.verify_failures: list[str] = []
        self.black_hole_connections = 0

    def record(self, head: dict[str, str], target: str, body: bytes) -> None:
        now = time.time()
        self.requests += 1
        inbox = f"{head.get('host', '')}{target}"
        try:
            activity = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            activity = "(unreadable)"
        key = (activity, inbox)
        count = self.seen.get(key, 0)
        self.seen[key] = count + 1
        if count == 0:
            self.first_at = self.first_at or now
            self.last_new_at = now
        if self.requests % self.verify_every == 0:
            self._verify(head, target, body)

    def _verify(self, head: dict[str, str], target: str, body: bytes) -> None:
        try:
            signatures.verify(
                "POST", f"http://{head['host']}{target}", head, body, lambda _id: self.key
            )
            self.verified += 1
        except (signatures.SignatureError, KeyError) as exc:
            if len(self.verify_failures) < 20:
                self.verify_failures.append(f"{type(exc).__name__}: {exc}")

    def report(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        repeats = [count for count in self.seen.values() if count > 1]
        return {
            "requests": self.requests,
            "unique": len(self.seen),
            "duplicates": sum(count - 1 for count in repeats),
            "max_receipts": max(self.seen.values(), default=0),
            "first_at": self.first_at,
            "last_new_at": self.last_new_at,
            "verified": self.verified,
            "verify_failures": self.verify_failures,
            "black_hole_connections": self.black_hole_connections,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }


class Inbox(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies, enough for what Parvis sends."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(_HEAD_END)
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            head: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                head[name.strip().lower()] = value.strip()
            length = int(head.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(method, target, head, body)

    def answer(self, method: str, target: str, head: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        if method == "GET" and target == "/_stats":
            self.send_json(self.stats.report())
        elif method == "POST" and target == "/_reset":
            self.stats.reset()
            self.send_json({"reset": True})
        else:
            self.stats.record(head, target, body)
            self.transport.write(_ACCEPTED)

    def send_json(self, document: dict[str, Any]) -> None:
        assert self.transport is not None
        payload = json.dumps(document).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


class BlackHole(asyncio.Protocol):
    """Accepts, keeps the connection open, never reads past the kernel buffer, never answers."""

    def __init__(self, stats: Stats, held: set[asyncio.BaseTransport]) -> None:
        self.stats = stats
        self.held = held
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.stats.black_hole_connections += 1
        self.transport = transport
        self.held.add(transport)
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.held.discard(self.transport)


async def serve(port: int, black_hole_port: int, stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    held: set[asyncio.BaseTransport] = set()
    sink = await loop.create_server(lambda: Inbox(stats), HOST, port, backlog=4096)
    hole = await loop.create_server(
        lambda: BlackHole(stats, held), HOST, black_hole_port, backlog=4096
    )
    print("ready", flush=True)
    async with sink, hole:
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--black-hole-port", type=int, required=True)
    parser.add_argument("--public-key", type=Path, required=True)
    parser.add_argument("--verify-every", type=int, default=100)
    args = parser.parse_args()
    stats = Stats(args.public_key.read_bytes(), args.verify_every)
    asyncio.run(serve(args.port, args.black_hole_port, stats))


if __name__ == "__main__":
    main()
