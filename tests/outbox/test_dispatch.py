"""The outbox's dispatcher: claims and their lease, backoff, dead letters, deadlines, and no
message sent twice, by one dispatcher or by several at once.

A test sender (kind ``test.note``) records what it sends and fails as each test tells it to.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from outbox import senders
from outbox.choices import MessageState
from outbox.models import Message
from outbox.senders import Sender
from outbox.services import message_enqueue, messages_retry, outbox_dispatch
from tests.api_client import committed

KIND = "test.note"
LEASE = 20  # RS_OUTBOX_LEASE_SECONDS's default


class TroubleError(Exception):
    """A failure the test sender's provider reports: worth another attempt."""


class RefusedError(Exception):
    """The provider refuses the message for good."""


# A failure that is a real database error, raised by PostgreSQL inside the send.
DIVISION_BY_ZERO = "SELECT 1 / 0"


class Killed(BaseException):  # what a SIGKILL looks like from inside the send
    """The dispatcher's process dies in the middle of the send: nothing after it runs."""


@dataclass
class Notes:
    """What the test sender did: every send, and what the outbox told it."""

    sent: list[str] = field(default_factory=list)
    failures: list[BaseException | str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    retrying: list[tuple[str, str]] = field(default_factory=list)
    receipts: list[tuple[str, str, int]] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: Message) -> str:
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, str):
                with connection.cursor() as cursor:
                    cursor.execute(failure)
            else:
                raise failure
        time.sleep(self.delay)
        with self.lock:
            self.sent.append(message.reference)
            return f"receipt-{len(self.sent)}"


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Notes:
    settings.RS_OUTBOX_LEASE_SECONDS = LEASE
    notes = Notes()
    sender = Sender(
        kind=KIND,
        send=notes.send,
        sent=lambda message, receipt: notes.receipts.append(
            (message.reference, receipt, message.attempts)
        ),
        failed=lambda message, reason: notes.failed.append((message.reference, reason)),
        retrying=lambda message, error: notes.retrying.append((message.reference, error)),
        max_attempts=lambda: 4,
        backoff_seconds=lambda: 10.0,
        permanent=(RefusedError,),
        temporary=(TroubleError,),
        describe=lambda error: f"{type(error).__name__}: {error}",
    )
    monkeypatch.setitem(senders._senders, KIND, sender)
    return notes


def _enqueued(reference: str = "n1", *, deadline: datetime | None = None) -> Message:
    """A message written in a committed transaction whose kick sent nothing (as when the broker
    is down at commit): the test's kind has no sender meanwhile, so only a later dispatch
    sends it."""
    sender = senders._senders.pop(KIND)
    try:
        with transaction.atomic():
            message = message_enqueue(
                kind=KIND, reference=reference, payload={"secret": "sealed"}, deadline=deadline
            )
    finally:
        senders._senders[KIND] = sender
    return message


def _stored(message: Message) -> Message:
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_a_message_leaves_once_its_transaction_commits(notes: Notes) -> None:
    with committed():  # the commit's kick: without a broker, a dispatch in this process
        message_enqueue(kind=KIND, reference="n1", payload={})
        assert notes.sent == []  # not before the commit
    assert notes.sent == ["n1"]
    message = Message.objects.get()
    assert message.state == MessageState.SENT
    assert message.receipt == "receipt-1" and message.sent_at is not None
    assert notes.receipts == [("n1", "receipt-1", 1)]


@pytest.mark.django_db
def test_a_rolled_back_change_sends_nothing(notes: Notes) -> None:
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        message_enqueue(kind=KIND, reference="n1", payload={})
        raise RuntimeError("the change fails")
    assert notes.sent == [] and not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_message_is_written_only_inside_its_change(notes: Notes) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        message_enqueue(kind=KIND, reference="n1", payload={})


@pytest.mark.django_db
def test_a_message_whose_kick_was_lost_is_sent_by_the_next_dispatch(notes: Notes) -> None:
    _enqueued("n1")
    _enqueued("n2")
    assert notes.sent == []
    assert outbox_dispatch()["sent"] == 2
    assert notes.sent == ["n1", "n2"]
    assert outbox_dispatch()["sent"] == 0  # sent messages are never claimed again
    assert notes.sent == ["n1", "n2"]


@pytest.mark.django_db
def test_a_dispatcher_killed_mid_send_leaves_the_message_to_the_next_after_its_lease(
    notes: Notes,
) -> None:
    message = _enqueued()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        notes.failures.append(Killed())
        with pytest.raises(Killed):
            outbox_dispatch()
        claimed = _stored(message)
        assert claimed.state == MessageState.PENDING and claimed.attempts == 1
        assert claimed.locked_until == start + timedelta(seconds=LEASE)

        clock.shift(timedelta(seconds=LEASE - 1))
        assert outbox_dispatch()["sent"] == 0  # still its dispatcher's
        clock.shift(timedelta(seconds=1))
        assert outbox_dispatch()["sent"] == 1
    assert notes.sent == ["n1"]
    assert _stored(message).attempts == 2
    assert notes.receipts == [("n1", "receipt-1", 2)]


@pytest.mark.django_db
def test_temporary_failures_back_off_exponentially_with_jitter(notes: Notes) -> None:
    message = _enqueued()
    start = timezone.now()
    notes.failures.extend([TroubleError("busy"), TroubleError("still busy")])
    with time_machine.travel(start, tick=False) as clock:
        assert outbox_dispatch()["retrying"] == 1
        first = _stored(message)
        # Attempt 1 failed: due again 5 to 10 s later (base 10 s, jitter over its upper half).
        first_due = first.next_attempt_at
        assert timedelta(seconds=5) <= first_due - start <= timedelta(seconds=10)
        assert first.locked_until is None and first.last_error == "TroubleError: busy"
        assert notes.retrying == [("n1", "TroubleError: busy")]

        clock.move_to(first_due - timedelta(milliseconds=1))
        assert outbox_dispatch() == {}  # not yet due
        clock.move_to(first_due)
        assert outbox_dispatch()["retrying"] == 1
        # Attempt 2 failed: due again 10 to 20 s after it.
        second_due = _stored(message).next_attempt_at
        assert timedelta(seconds=10) <= second_due - first_due <= timedelta(seconds=20)

        clock.move_to(second_due)
        assert outbox_dispatch()["sent"] == 1
    assert notes.sent == ["n1"]
    sent = _stored(message)
    assert sent.state == MessageState.SENT and sent.attempts == 3 and sent.last_error == ""


def test_the_jitter_spreads_retries() -> None:
    from outbox.services import MAX_BACKOFF_SECONDS, backoff_seconds

    waits = {backoff_seconds(base=2, attempt=3) for _ in range(50)}
    assert min(waits) >= 4 and max(waits) <= 8 and len(waits) > 40
    assert backoff_seconds(base=2, attempt=30_000) <= MAX_BACKOFF_SECONDS


@pytest.mark.django_db
def test_a_sender_with_its_own_schedule_waits_past_the_doubling_cap(
    notes: Notes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outbox.services import MAX_BACKOFF_SECONDS, delay_scheduled

    hours = [3600.0, 5 * 3600.0]
    scheduled = replace(
        senders._senders[KIND], retry_delay=lambda attempt: delay_scheduled(hours, attempt=attempt)
    )
    monkeypatch.setitem(senders._senders, KIND, scheduled)
    message = _enqueued()
    notes.failures.extend([TroubleError("down"), TroubleError("down"), TroubleError("down")])
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        waits = []
        for _ in range(3):
            assert outbox_dispatch()["retrying"] == 1
            due = _stored(message).next_attempt_at
            waits.append((due - timezone.now()).total_seconds())
            clock.move_to(due)
        assert outbox_dispatch()["sent"] == 1
    # An hour, then five, then five again (the schedule's last), each within a tenth.
    for wait, expected in zip(waits, [*hours, hours[-1]], strict=True):
        assert expected * 0.9 <= wait <= expected * 1.1
    assert max(waits) > MAX_BACKOFF_SECONDS


def test_the_doubling_backoff_of_a_sender_without_a_schedule_stays_capped() -> None:
    from ca.services.delivery import challenge_sms_sender
    from outbox.services import MAX_BACKOFF_SECONDS

    assert challenge_sms_sender().retry_delay is None  # an SMS backs off at most 5 minutes
    assert MAX_BACKOFF_SECONDS == 300


@pytest.mark.django_db
def test_a_permanent_failure_is_a_dead_letter_at_once(notes: Notes) -> None:
    message = _enqueued()
    notes.failures.append(RefusedError("unknown recipient"))
    start = timezone.now()
    assert outbox_dispatch()["dead"] == 1
    dead = _stored(message)
    assert dead.state == MessageState.DEAD and dead.attempts == 1
    assert dead.last_error == "RefusedError: unknown recipient"
    assert notes.failed == [("n1", "RefusedError: unknown recipient")]
    with time_machine.travel(start + timedelta(hours=1)):
        assert outbox_dispatch() == {}
    assert notes.sent == []


@pytest.mark.django_db
def test_a_message_failing_every_attempt_is_given_up_after_the_last(notes: Notes) -> None:
    message = _enqueued()
    notes.failures.extend([TroubleError(f"down {n}") for n in range(1, 5)])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):
            outbox_dispatch()
            clock.move_to(_stored(message).next_attempt_at)
    dead = _stored(message)
    assert dead.state == MessageState.DEAD and dead.attempts == 4
    assert dead.last_error == "gave up after 4 attempts: TroubleError: down 4"
    assert notes.failed == [("n1", "gave up after 4 attempts: TroubleError: down 4")]
    assert len(notes.retrying) == 3 and notes.sent == []


@pytest.mark.django_db
def test_attempts_that_died_with_their_dispatcher_count(notes: Notes) -> None:
    message = _enqueued()
    notes.failures.extend([Killed()] * 4)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):
            with pytest.raises(Killed):
                outbox_dispatch()
            clock.shift(timedelta(seconds=LEASE))
        assert outbox_dispatch()["dead"] == 1  # the fifth claim gives it up, unsent
    assert _stored(message).last_error == "gave up after 4 attempts"
    assert notes.sent == []


@pytest.mark.django_db
def test_a_message_past_its_deadline_is_never_sent(notes: Notes) -> None:
    start = timezone.now()
    message = _enqueued(deadline=start + timedelta(minutes=10))
    with time_machine.travel(start + timedelta(minutes=10)):  # no dispatch ran until then
        assert outbox_dispatch()["dead"] == 1
    assert notes.sent == []
    assert _stored(message).last_error == "expired before it could be sent"
    assert notes.failed == [("n1", "expired before it could be sent")]


@pytest.mark.django_db
def test_no_retry_is_scheduled_past_the_deadline(notes: Notes) -> None:
    message = _enqueued(deadline=timezone.now() + timedelta(seconds=4))  # a retry: 5 s at least
    notes.failures.append(TroubleError("busy"))
    with time_machine.travel(message.next_attempt_at, tick=False):
        assert outbox_dispatch()["dead"] == 1
    assert _stored(message).last_error == "no time left to retry: TroubleError: busy"
    assert notes.retrying == []


# Real commits: a database error aborts the transaction it happens in.
@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_the_send_is_retried(notes: Notes) -> None:
    message = _enqueued()
    notes.failures.append(DIVISION_BY_ZERO)
    assert outbox_dispatch()["retrying"] == 1
    assert _stored(message).last_error == "DataError: division by zero"
    with time_machine.travel(_stored(message).next_attempt_at):
        assert outbox_dispatch()["sent"] == 1
    assert notes.sent == ["n1"]


@pytest.mark.django_db
def test_retry_now_makes_a_dead_message_due_and_never_resends_a_sent_one(notes: Notes) -> None:
    dead = _enqueued("dead")
    notes.failures.append(RefusedError("no"))
    outbox_dispatch()
    sent = _enqueued("sent")
    outbox_dispatch()
    assert notes.sent == ["sent"]

    assert messages_retry(message_ids=[dead.pk, sent.pk]) == 1
    assert outbox_dispatch()["sent"] == 1
    assert notes.sent == ["sent", "dead"]
    assert _stored(dead).state == MessageState.SENT and _stored(dead).attempts == 1
    assert outbox_dispatch() == {}


@pytest.mark.django_db
def test_retry_now_leaves_a_message_being_sent_to_its_dispatcher(notes: Notes) -> None:
    message = _enqueued()
    notes.failures.append(Killed())
    with pytest.raises(Killed):
        outbox_dispatch()
    assert messages_retry(message_ids=[message.pk]) == 0
    assert _stored(message).locked_until is not None


@pytest.mark.django_db
def test_a_message_of_a_kind_without_sender_is_left_alone(notes: Notes) -> None:
    with transaction.atomic():
        message = message_enqueue(kind="test.unknown", reference="x", payload={})
    assert outbox_dispatch() == {}
    assert _stored(message).state == MessageState.PENDING and _stored(message).attempts == 0


# Real commits: each dispatcher runs in its own thread, on its own database connection.
@pytest.mark.django_db(transaction=True)
def test_dispatchers_running_at_once_send_each_message_once(notes: Notes) -> None:
    references = [f"n{n}" for n in range(30)]
    for reference in references:
        _enqueued(reference)
    notes.delay = 0.02  # a provider's round trip: the dispatchers overlap
    start = threading.Barrier(3)
    counts: list[int] = []

    def dispatcher() -> None:
        try:
            start.wait()
            counts.append(outbox_dispatch()["sent"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(notes.sent) == sorted(references)  # each once
    assert sum(counts) == 30 and len([c for c in counts if c]) >= 2  # they shared the work
    assert set(Message.objects.values_list("state", "attempts")) == {(MessageState.SENT, 1)}


# Real commits: the in-process beat closes its connection after each task.
@pytest.mark.django_db(transaction=True)
def test_the_in_process_beat_dispatches_without_a_broker(notes: Notes) -> None:
    """The embedded default (`manage.py serve`): no broker, no worker; the schedule's
    outbox-dispatch runs in the process and sends what the commit's kick did not."""
    from config.celery_app import app
    from core.scheduler import InProcessBeat

    _enqueued()
    beat = InProcessBeat(app)
    beat.tick()  # first sight of each entry: nothing is due yet
    assert notes.sent == []
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        beat.tick()
    assert notes.sent == ["n1"]


@pytest.mark.django_db
def test_old_sent_and_dead_messages_are_forgotten_pending_ones_never(
    notes: Notes, settings: Any
) -> None:
    from outbox.services import messages_prune

    settings.RS_OUTBOX_KEEP_DAYS = 14
    _enqueued("sent")
    outbox_dispatch()
    _enqueued("dead")
    notes.failures.append(RefusedError("no"))
    outbox_dispatch()
    _enqueued("pending")
    notes.failures.append(TroubleError("busy"))
    outbox_dispatch()

    with time_machine.travel(timezone.now() + timedelta(days=13)):
        assert messages_prune() == 0
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert messages_prune() == 2
    assert list(Message.objects.values_list("reference", "state")) == [
        ("pending", MessageState.PENDING)
    ]
