from datetime import UTC, datetime, timedelta

from parvis.core.ids import id_time, min_id_for, time_id


def test_ids_sort_by_creation_time_and_fit_in_64_bits() -> None:
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    ids = [time_id(start + timedelta(milliseconds=i)) for i in range(0, 50, 5)]
    assert ids == sorted(ids)
    assert all(0 < i < 2**63 for i in ids)
    assert abs((id_time(ids[0]) - start).total_seconds()) < 0.002
    assert min_id_for(start) <= ids[0]
