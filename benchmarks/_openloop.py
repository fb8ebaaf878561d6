"""An open-loop HTTP load generator: requests at a fixed arrival rate, latency per request.

wrk is closed-loop: a connection sends its next request only when the previous
answer arrived, so a slow server receives fewer requests and its slowness
hides (coordinated omission). wrk2 fixes that but is not packaged in Debian.
This generator does what wrk2 does, in asyncio:

* request *i* is due at ``start + i / rate`` whatever happened before;
* it goes out on an idle keep-alive connection, or a new one while fewer than
  ``max_connections`` are open, else it waits for one;
* its latency runs from the moment it was *due* to the last byte of the answer,
  so time spent waiting for a connection, or behind a late generator, counts.

It runs in one Python thread that shares the machine with the server: the
report says how late the generator was in sending (``send_lag``), so a reader
can tell the server's latency from the generator's own.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class OpenLoopResult:
    """What an open-loop run saw: latencies in seconds, answers by status, errors."""

    rate: float
    sent: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # Seconds between a request's due time and the moment it was written.
    send_lag: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    connections: int = 0

    def percentile(self, share: float, values: Sequence[float] | None = None) -> float:
        """The ``share`` (0–1) percentile, nearest-rank, in seconds."""
        ordered = sorted(self.latencies if values is None else values)
        if not ordered:
            return float("nan")
        rank = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
        return ordered[rank]

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


class _Connection:
    """One keep-alive HTTP/1.1 connection to the server, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send one request, read its answer; the status and whether to keep the connection."""
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        keep = not lines[0].startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _sep, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection":
                keep = value.strip().lower() != "close"
            elif name == "transfer-encoding":
                raise ValueError("chunked answers are not expected from the inbox")
        if length:
            await self.reader.readexactly(length)
        return status, keep

    def close(self) -> None:
        self.writer.close()


async def _run(
    host: str,
    port: int,
    schedule: Sequence[tuple[float, bytes, int]],
    rates: Sequence[float],
    max_connections: int,
) -> list[OpenLoopResult]:
    """Send each ``(offset, request, stream)`` of ``schedule`` when due; a result per stream.

    Each stream has its own connections (at most ``max_connections``), as distinct
    clients would: one stream waiting for a connection never holds back another.
    """
    loop = asyncio.get_running_loop()
    sizes = Counter(stream for _offset, _request, stream in schedule)
    results = [OpenLoopResult(rate=rate, sent=sizes[n]) for n, rate in enumerate(rates)]
    pools = [_Pool(host, port, max_connections, result) for result in results]

    async def one(request: bytes, due: float, stream: int) -> None:
        pool, result = pools[stream], results[stream]
        connection: _Connection | None = None
        try:
            connection = await pool.acquire()
            result.send_lag.append(loop.time() - due)
            status, keep = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            result.errors[type(error).__name__] += 1
            if connection is not None:
                connection.close()
            await pool.release(None)
            return
        result.latencies.append(loop.time() - due)
        result.statuses[status] += 1
        if not keep:
            connection.close()
            connection = None
        await pool.release(connection)

    start = loop.time() + 0.05
    tasks = []
    for offset, request, stream in schedule:
        due = start + offset
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due, stream)))
    await asyncio.gather(*tasks)
    for result in results:
        result.elapsed = loop.time() - start
    for pool in pools:
        pool.close()
    return results


class _Pool:
    """The keep-alive connections of one stream."""

    def __init__(self, host: str, port: int, limit: int, result: OpenLoopResult) -> None:
        self.host, self.port, self.limit, self.result = host, port, limit, result
        self.idle: deque[_Connection] = deque()
        self.opened = 0
        self.available = asyncio.Condition()

    async def acquire(self) -> _Connection:
        async with self.available:
            while not self.idle and self.opened >= self.limit:
                await self.available.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            async with self.available:
                self.opened -= 1
                self.available.notify()
            raise
        self.result.connections += 1
        return _Connection(reader, writer)

    async def release(self, connection: _Connection | None) -> None:
        async with self.available:
            if connection is None:
                self.opened -= 1
            else:
                self.idle.append(connection)
            self.available.notify()

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


def open_loop(
    host: str, port: int, requests: Sequence[bytes], rate: float, max_connections: int = 64
) -> OpenLoopResult:
    """Send ``requests`` (raw HTTP/1.1 bytes) at ``rate`` per second; see the module doc."""
    return open_loop_streams(host, port, [(requests, rate)], max_connections)[0]


def open_loop_streams(
    host: str,
    port: int,
    streams: Sequence[tuple[Sequence[bytes], float]],
    max_connections: int = 64,
) -> list[OpenLoopResult]:
    """Several open-loop streams at once (say, ordinary traffic and a flood), each at its
    own rate over the same period; one result each."""
    schedule = sorted(
        (
            (index / rate, request, stream)
            for stream, (requests, rate) in enumerate(streams)
            for index, request in enumerate(requests)
        ),
        key=lambda item: (item[0], item[2]),
    )
    began = time.monotonic()
    results = asyncio.run(
        _run(host, port, schedule, [rate for _requests, rate in streams], max_connections)
    )
    for result in results:
        result.elapsed = result.elapsed or time.monotonic() - began
    return results
