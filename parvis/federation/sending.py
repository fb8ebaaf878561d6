"""The sending half of delivery: signs and posts claimed deliveries, reports outcomes.

:mod:`parvis.federation.delivery` queues, claims and records deliveries and decides
their retries; it hands each claimed delivery (a :class:`_Job`) to a :class:`_Sender`
and gets an :class:`_Outcome` back for each. The sender runs an asyncio event loop in a
helper thread and posts through the guarded
:class:`~parvis.core.http_async.AsyncSession` (connections reused per host, a global and
a per-host cap on requests in flight, a deadline per request). It never touches the
database: Django's connection belongs to the task's thread, where outcomes are recorded.

Within one run the sender also remembers, per host, which signature scheme answered
after a 401 (double-knocking) and whether the host failed at the network level: the
host's other deliveries are then not attempted, and come back as skipped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import uvloop
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from parvis.core import http
from parvis.core.http_async import AsyncSession
from parvis.federation.signatures import sign_cavage, sign_rfc9421

logger = logging.getLogger(__name__)

ACTIVITY_TYPE = "application/activity+json"


@dataclass(slots=True)
class _Job:
    """A claimed delivery, as the sending thread needs it."""

    pk: int
    inbox: str
    host_id: int
    host: str
    scheme: str
    attempts: int
    created_at: datetime


@dataclass(slots=True)
class _Outcome:
    """What became of one attempt: an answer, a network failure, or not attempted."""

    job: _Job
    status: int | None = None
    error: str = ""
    retry_after: timedelta | None = None
    switched_to: str | None = None
    skipped: str = ""


class _Skip(Exception):
    """Raised, before sending, for a delivery whose host failed earlier in the run."""


class _Sender:
    """Signs and posts deliveries concurrently; outcomes come back through a queue.

    The event loop runs in a helper thread, so that the database (whose Django
    connection belongs to the task's thread) is never touched from async code.
    ``timeout`` is each request's deadline; a request still unanswered after
    ``slow_after`` seconds counts in :attr:`slow` until it ends.
    """

    def __init__(
        self,
        *,
        body: bytes,
        key: rsa.RSAPrivateKey,
        key_id: str,
        domain: str | None,
        concurrency: int,
        per_host: int,
        timeout: float,
        slow_after: float,
    ) -> None:
        self._body = body
        self._key = key
        self._key_id = key_id
        self._domain = domain
        self._concurrency = concurrency
        self._per_host = per_host
        self._timeout = timeout
        self._slow_after = slow_after
        # uvloop (libuv): a request of the fan-out costs about half its CPU on asyncio's
        # loop (decision 0008).
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="parvis-delivery", daemon=True
        )
        self._outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: AsyncSession | None = None
        # Per host, within this run: a scheme that worked after a 401, a failure.
        self._schemes: dict[str, str] = {}
        self._tripped: dict[str, str] = {}
        # Written by the loop thread, read by the task's thread (an int under the GIL).
        self.slow = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()

    async def _open(self) -> None:
        self._session = AsyncSession(
            max_concurrency=self._concurrency,
            per_host=self._per_host,
            domain=self._domain,
            max_idle_origins=128,
        )

    def submit(self, jobs: list[_Job]) -> None:
        if jobs:
            self._loop.call_soon_threadsafe(self._spawn, jobs)

    def collect(self, timeout: float) -> list[_Outcome]:
        """The outcomes that arrived, waiting up to ``timeout`` for the first one."""
        outcomes: list[_Outcome] = []
        try:
            outcomes.append(
                self._outcomes.get(timeout=timeout) if timeout else self._outcomes.get_nowait()
            )
        except queue.Empty:
            return outcomes
        while True:
            try:
                outcomes.append(self._outcomes.get_nowait())
            except queue.Empty:
                return outcomes

    def close(self) -> None:
        """Cancel what is still in flight (its leases will expire) and stop the loop."""
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.aclose()

    def _spawn(self, jobs: list[_Job]) -> None:
        for job in jobs:
            task = self._loop.create_task(self._send(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _mark_slow(self, marked: list[bool]) -> None:
        marked.append(True)
        self.slow += 1

    async def _send(self, job: _Job) -> None:
        marked: list[bool] = []
        timer = self._loop.call_later(self._slow_after, self._mark_slow, marked)
        try:
            outcome = await self._attempt(job)
        except Exception as exc:  # a bug must cost one attempt, not the whole run
            logger.exception("delivery %s to %s failed unexpectedly", job.pk, job.inbox)
            outcome = _Outcome(job, error=f"{type(exc).__name__}: {exc}")
        finally:
            timer.cancel()
            if marked:
                self.slow -= 1
        self._outcomes.put(outcome)

    async def _attempt(self, job: _Job) -> _Outcome:
        host = job.host
        if host in self._tripped:
            return _Outcome(job, skipped=self._tripped[host])
        scheme = self._schemes.get(host, job.scheme)
        switched = None
        try:
            response = await self._post(job, scheme)
            if response.status == 401:
                # Double-knocking: the host may only accept the other signature scheme.
                other = "rfc9421" if scheme == "cavage" else "cavage"
                retried = await self._post(job, other)
                if retried.status < 300:
                    self._schemes[host] = switched = other
                response = retried
        except _Skip as skip:
            return _Outcome(job, skipped=str(skip))
        except http.FetchError as error:
            # Unreachable or silent: the host's other deliveries of this run wait for
            # their next retry instead of each spending a slot for the full deadline.
            self._tripped.setdefault(host, f"not attempted: host failed ({error.reason})"[:1000])
            return _Outcome(job, error=str(error)[:1000])
        wait = _retry_after(response) if response.status == 429 else None
        return _Outcome(job, status=response.status, retry_after=wait, switched_to=switched)

    async def _post(self, job: _Job, scheme: str) -> http.Response:
        assert self._session is not None

        def signed_headers() -> dict[str, str]:
            # Called once the request holds its slot, so the signed Date is fresh.
            if job.host in self._tripped:
                raise _Skip(self._tripped[job.host])
            headers = {"Content-Type": ACTIVITY_TYPE, "Accept": ACTIVITY_TYPE}
            sign = sign_rfc9421 if scheme == "rfc9421" else sign_cavage
            headers.update(sign("POST", job.inbox, headers, self._body, self._key_id, self._key))
            return headers

        return await self._session.fetch(
            job.inbox,
            method="POST",
            headers=signed_headers,
            body=self._body,
            timeout=self._timeout,
            max_redirects=0,
            max_bytes=64 * 1024,
            domain=self._domain,
        )


def _retry_after(response: http.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=min(int(value), 24 * 3600))
    try:
        return max(parsedate_to_datetime(value) - timezone.now(), timedelta(0))
    except (TypeError, ValueError):
        return None
