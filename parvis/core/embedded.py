"""The task worker that runs inside the web process in the embedded set-up."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from parvis.core.tasks import Worker, make_worker

logger = logging.getLogger(__name__)

_worker: Worker | None = None
_thread: threading.Thread | None = None


def start() -> None:
    """Start the embedded worker thread if the settings ask for one."""
    global _worker, _thread
    if not settings.PARVIS_EMBEDDED_WORKER or _thread is not None:
        return
    _worker = make_worker(interval=1.0)
    _thread = threading.Thread(target=_worker.run, name="parvis-embedded-worker", daemon=True)
    _thread.start()
    logger.info("embedded task worker started")


def stop(timeout: float = 10.0) -> None:
    """Ask the embedded worker to stop after its current task and wait for it."""
    global _worker, _thread
    if _worker is None or _thread is None:
        return
    _worker.running = False
    _thread.join(timeout)
    _worker, _thread = None, None
