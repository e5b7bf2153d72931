"""The figures behind the charts: grouped queries over time, on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ca.choices import ChallengeStatus, DeliveryStatus
from ca.models import Challenge
from ca.selectors import challenge_volume_by_hour, delivery_errors
from resolution.protocol.canonical import canonical_json
from resolution.protocol.merkle import leaf_hash
from transparency.selectors import entries_by_period, log_backlog, merge_delay_by_hour
from transparency.services import log_integrate
from web.figures import EXPLORER_PERIODS, _log_figures

pytestmark = pytest.mark.django_db


def hour_start(hours_ago: int = 0) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)


def entries_inserted(kinds_at: list[tuple[str, datetime]]) -> None:
    """Entries appended at the given times: ``created_at`` is the database's clock, which a
    test cannot move, so these are written as the append would have written them then."""
    with connection.cursor() as cursor:
        cursor.execute('SELECT COALESCE(max("index") + 1, 0) FROM transparency_entry')
        (start,) = cursor.fetchone()
        for offset, (kind, at) in enumerate(kinds_at):
            data = canonical_json({"kind": kind, "n": start + offset, "v": 1})
            cursor.execute(
                'INSERT INTO transparency_entry ("index", kind, data, leaf_hash, created_at) '
                "VALUES (%s, %s, %s, %s, %s)",
                [start + offset, kind, data, leaf_hash(data), at],
            )


def test_entries_per_hour_and_kind(db: Any) -> None:
    two, one = hour_start(2), hour_start(1)
    entries_inserted(
        [
            ("certificate", two + timedelta(minutes=5)),
            ("handler", two + timedelta(minutes=6)),
            ("certificate", two + timedelta(minutes=50)),
            ("revocation", one + timedelta(minutes=1)),
        ]
    )
    rows = entries_by_period(since=two, period="hour")
    assert [(r.period, r.kind, r.entries, r.first_index, r.last_index) for r in rows] == [
        (two, "certificate", 2, 0, 2),
        (two, "handler", 1, 1, 1),
        (one, "revocation", 1, 3, 3),
    ]
    assert entries_by_period(since=one, period="hour")[0].kind == "revocation"
    day = entries_by_period(since=hour_start(48), period="day")
    assert sum(r.entries for r in day) == 4


def test_the_growth_chart_starts_from_the_size_before_the_window(db: Any) -> None:
    entries_inserted(
        [("old", hour_start(24 * 40))] * 3
        + [("certificate", hour_start(3) + timedelta(minutes=1))] * 2
        + [("handler", hour_start(1) + timedelta(minutes=1))]
    )
    figures = _log_figures(EXPLORER_PERIODS["24h"], timezone.now())
    sizes = [row.values[0] for row in figures.growth.rows]
    assert sizes[0] == "3"  # the three old entries
    assert sizes[-4:] == ["5", "5", "6", "6"]
    assert figures.appended == 3
    kinds = figures.kinds.series_names
    assert kinds == ("certificate", "handler")


def test_merge_delay_runs_from_the_append_to_the_covering_checkpoint(db: Any) -> None:
    # The checkpoint's created_at is PostgreSQL's now(): in the test's one transaction, the
    # time of its first statement, which comes after this.
    now = timezone.now()
    entries_inserted([("test", now - timedelta(seconds=4)), ("test", now - timedelta(seconds=1))])
    log_integrate()
    (hour,) = merge_delay_by_hour(since=now - timedelta(hours=1))
    assert hour.entries == 2
    assert 4 <= hour.max_seconds < 6
    assert 2.5 <= hour.mean_seconds < 4.5
    entries_inserted([("test", timezone.now() - timedelta(seconds=2))])
    backlog = log_backlog()
    assert backlog.entries == 1 and backlog.oldest is not None
    assert backlog.checkpoint_at is not None
    log_integrate()
    later = merge_delay_by_hour(since=now - timedelta(hours=1))
    assert sum(h.entries for h in later) == 3
    assert log_backlog().entries == 0


def test_merge_delay_of_an_empty_log(db: Any) -> None:
    assert merge_delay_by_hour(since=hour_start(24)) == []
    assert log_backlog().entries == 0 and log_backlog().checkpoint_at is None


def challenge(provider: Any, at: datetime, **fields: Any) -> Challenge:
    return Challenge.objects.create(
        id=uuid.uuid4(),
        provider=provider,
        number="+33612345678",
        region="FR",
        calling_code=33,
        client_ip="192.0.2.1",
        code_hmac=bytes(32),
        created_at=at,
        expires_at=at + timedelta(minutes=10),
        **fields,
    )


def test_challenges_per_hour_and_delivery_errors(provider: Any) -> None:
    two, one = hour_start(2), hour_start(1)
    challenge(provider, two + timedelta(minutes=1), status=ChallengeStatus.USED)
    challenge(provider, two + timedelta(minutes=2))
    challenge(
        provider,
        one + timedelta(minutes=3),
        delivery_status=DeliveryStatus.FAILED,
        delivery_error="30003: unreachable",
    )
    challenge(
        provider,
        one + timedelta(minutes=4),
        delivery_status=DeliveryStatus.UNDELIVERED,
        delivery_error="30003: unreachable",
    )
    challenge(provider, one + timedelta(minutes=5), delivery_status=DeliveryStatus.FAILED)
    challenge(provider, hour_start(30))  # before the window
    rows = challenge_volume_by_hour(since=two)
    assert [(r.hour, r.started, r.verified, r.delivery_failed) for r in rows] == [
        (two, 2, 1, 0),
        (one, 3, 0, 3),
    ]
    errors = delivery_errors(since=two)
    assert [(e.error, e.challenges) for e in errors] == [
        ("30003: unreachable", 2),
        ("(none given)", 1),
    ]
