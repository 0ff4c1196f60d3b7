"""What a dismissal or a clearing hides: acts up to its time, never later ones."""

from datetime import UTC, datetime, timedelta

from services.notification.domain import Hidden

NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_a_dismissal_hides_its_group_up_to_its_time():
    hidden = Hidden({"like:1": NOON})
    assert hidden.hides(NOON, "like:1") and hidden.hides(NOON - timedelta(hours=1), "like:1")
    assert not hidden.hides(NOON + timedelta(milliseconds=1), "like:1")
    assert not hidden.hides(NOON, "like:2")


def test_clearing_hides_every_group_up_to_its_time():
    hidden = Hidden(cleared=NOON)
    assert hidden.hides(NOON, "follow") and hidden.hides(NOON, "like:9")
    assert not hidden.hides(NOON + timedelta(seconds=1), "follow")
    assert not Hidden().hides(NOON, "follow")
