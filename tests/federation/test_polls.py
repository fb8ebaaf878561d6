"""Reading the poll of a received Question: bounded, and hostile values read as nothing."""

from __future__ import annotations

from parvis.federation.vocab.notes import MAX_POLL_OPTION_CHARS, MAX_POLL_OPTIONS, parse_poll


def choice(name: object, votes: object = 1) -> dict:
    return {"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": votes}}


def test_choices_are_bounded_and_unreadable_ones_skipped() -> None:
    poll = parse_poll(
        {
            "oneOf": [
                choice("<script>alert(1)</script>Oui"),
                choice(42),
                "not a choice",
                choice("x" * 10_000),
                *[choice(f"n{n}") for n in range(100)],
            ],
            "endTime": "2026-13-45T99:00:00Z",
            "votersCount": 5,
        }
    )
    assert poll is not None
    assert len(poll.options) == MAX_POLL_OPTIONS - 2  # two of the first twenty unreadable
    assert poll.options[0] == ("Oui", 1)  # a script is no text
    assert len(poll.options[1][0]) == MAX_POLL_OPTION_CHARS
    # An impossible date is no end; a single-answer poll counts no voters.
    assert poll.expires_at is None and poll.voters_count is None and not poll.multiple


def test_a_question_without_choices_has_no_poll() -> None:
    for question in ({}, {"oneOf": "Oui"}, {"oneOf": []}, {"anyOf": [{"type": "Note"}]}):
        assert parse_poll(question) is None, question


def test_counts_must_be_whole_and_positive() -> None:
    poll = parse_poll(
        {
            "anyOf": [choice("A", True), choice("B", 2.5), choice("C", -1), choice("D", 3)],
            "votersCount": "lots",
            "closed": "2026-11-20T10:00:00Z",
        }
    )
    assert poll is not None and poll.multiple
    assert [votes for _title, votes in poll.options] == [0, 0, 0, 3]
    assert poll.voters_count is None
    assert (
        poll.expires_at is not None and poll.expires_at.isoformat() == "2026-11-20T10:00:00+00:00"
    )
