"""Expiring: a per-process copy loaded once, again when old or forgotten."""

from parvis.core.memo import Expiring


def test_loaded_once_then_again_when_expired_or_forgotten() -> None:
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    value = Expiring(load, 60.0)
    assert value.get() == 1 and value.get() == 1
    value.forget()
    assert value.get() == 2
    value.seconds = 0.0
    assert value.get() == 3
