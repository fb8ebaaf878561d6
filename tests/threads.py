"""Running the same database work from several threads at once, as several workers or
requests would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connections

T = TypeVar("T")


def in_threads(work: Callable[[], T], count: int) -> list[T]:
    """Run ``work`` in ``count`` threads released together; their results, in any order.

    SQLite's in-memory test database locks whole tables and answers "table is locked"
    at once, where a file database waits (busy timeout): ``work`` is tried again then,
    as a worker claims again next round. Each thread closes its connections; an error
    in a thread is raised here.
    """
    start = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            for _ in range(100):
                try:
                    results.append(work())
                    return
                except OperationalError:
                    time.sleep(0.01)
            results.append(work())
        except BaseException as error:  # handed to the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
