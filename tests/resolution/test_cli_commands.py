"""``rs`` against the real service (pytest-django's live server), driven in-process.

Each command runs as ``resolution.cli.main([...])`` with ``RS_URL``, ``RS_API_KEY`` and
``RS_CONFIG_DIR`` set, the way an app's operator would run it; SMS codes come from the locmem
backend's outbox.  The log is integrated in-process after each commit, so entries are in a
checkpoint when a request returns.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ca.choices import RevocationReason
from ca.models import Certificate, Dispute
from ca.services.revocation import certificate_revoke
from ca.sms import locmem
from directory.models import Handler
from providers.services import api_key_create
from resolution.cli import main
from resolution.client.store import Store
from resolution.protocol.note import generate_signer, verifier_key
from resolution.protocol.promise import Promise, sign_promise
from tests.ca.flow import NUMBER, code_sent
from tests.factories import ProviderFactory
from transparency.keys import log_keys

pytestmark = pytest.mark.django_db(transaction=True)

CALLEE = "+33698765432"


@dataclass
class Result:
    code: int
    out: str
    err: str


class Rs:
    """Runs ``rs`` as one holder: their API key and config folder."""

    def __init__(self, capsys: Any, monkeypatch: Any, url: str, key: str, folder: Path) -> None:
        self.capsys, self.monkeypatch = capsys, monkeypatch
        self.url, self.key, self.folder = url, key, folder

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setenv("RS_URL", self.url)
        self.monkeypatch.setenv("RS_API_KEY", self.key)
        self.monkeypatch.setenv("RS_CONFIG_DIR", str(self.folder))
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def server(live_server: Any, settings: Any, crl: Any) -> str:
    # PASSporTs name their chain by x5u (RS_PUBLIC_URL/ca/certs/<id>.pem): make it this server, so
    # that an offline verifier can fetch it.
    settings.RS_PUBLIC_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def holder(capsys, monkeypatch, server, issued_key, tmp_path) -> Rs:
    return Rs(capsys, monkeypatch, server, issued_key.secret, tmp_path / "holder")


@pytest.fixture
def hijacker(capsys, monkeypatch, server, tmp_path) -> Rs:
    """Another app, at another provider, that receives the holder's SMS (a SIM swap)."""
    issued = api_key_create(provider=ProviderFactory(slug="hijack-chat"), label="test")
    return Rs(capsys, monkeypatch, server, issued.secret, tmp_path / "hijacker")


def register(rs: Rs, outbox: list[Any], number: str = NUMBER) -> Result:
    started = rs("register", number)
    assert started.code == 0, started.err
    assert f"rs register {number} --code CODE" in started.out
    return rs("register", number, "--code", code_sent(outbox, number))


def test_register_publish_lookup_passport_hijack_monitor_revoke(
    holder, hijacker, sms_outbox, tmp_path
):
    # register: a key made here, the code from the SMS, certificate and log entry checked.
    started = holder("register", NUMBER)
    assert started.code == 0, started.err
    assert "pinned the log keys" in started.err and "pinned the CA root" in started.err
    registered = holder("register", NUMBER, "--code", code_sent(sms_outbox))
    assert registered.code == 0, registered.err
    assert "verified: key, TNAuthList and chain to the pinned CA root" in registered.out
    assert "verified: log entry" in registered.out
    folder = tmp_path / "holder" / "numbers" / NUMBER
    for name in ("key.pem", "certificate.pem", "chain.pem", "number.json"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    assert not (folder / "key.pending.pem").exists()

    # publish, then lookup: shown only once verified against the pinned log keys.
    published = holder("publish", NUMBER, "messaging", "sip:alice@chat.example", "--priority", "10")
    assert published.code == 0, published.err
    assert holder("publish", NUMBER, "voice", "tel:+33612345678").code == 0
    looked_up = holder("lookup", NUMBER)
    assert looked_up.code == 0, looked_up.err
    assert "verified against checkpoint testserver/log" in looked_up.out
    assert "sip:alice@chat.example  priority 10" in looked_up.out
    assert "tel:+33612345678" in looked_up.out
    as_json = json.loads(holder("lookup", NUMBER, "--service", "messaging", "--json").out)
    assert as_json["verified"] is True
    assert [(h["service"], h["uri"]) for h in as_json["handlers"]] == [
        ("messaging", "sip:alice@chat.example")
    ]

    # A PASSporT signed here, verified by the service and offline against the pinned root.
    signed = holder("passport", "sign", "--from", NUMBER, "--to", CALLEE)
    assert signed.code == 0, signed.err
    token = signed.out.strip()
    # Its x5u is the one the certificate response gave: the certificate's id, not its serial.
    meta = json.loads((folder / "number.json").read_text())
    encoded_header = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(encoded_header + "=" * (-len(encoded_header) % 4)))
    repository_id = Certificate.objects.get(serial=meta["serial"]).repository_id
    assert header["x5u"] == meta["x5u"] == f"{holder.url}/ca/certs/{repository_id}.pem"
    verified = holder("passport", "verify", token)
    assert verified.code == 0, verified.out + verified.err
    assert verified.out.startswith(f"valid: {NUMBER} -> {CALLEE}")
    offline = holder("passport", "verify", token, "--offline")
    assert offline.code == 0, offline.out + offline.err
    assert offline.out.startswith(f"valid: {NUMBER} -> {CALLEE}")
    # The service accepts a PASSporT once per provider: a replay is refused.
    replayed = holder("passport", "verify", token)
    assert (replayed.code, replayed.out.strip()) == (1, "invalid: replayed")

    # The first monitor run scans the whole log: only the holder's own certificate.
    quiet = holder("monitor", NUMBER)
    assert quiet.code == 0, quiet.err
    assert "(own key)" in quiet.out and "FOREIGN" not in quiet.out
    assert "handler messaging by" in quiet.out

    # The hijacker receives the SMS and gets a certificate for the number, with its own key.
    stolen = register(hijacker, sms_outbox)
    assert stolen.code == 0, stolen.err

    # The holder's monitor sees it in the log, and keeps alarming until it is resolved.
    alarm = holder("monitor", NUMBER)
    assert alarm.code == 1, alarm.out + alarm.err
    assert "issued by hijack-chat" in alarm.out and "(FOREIGN KEY)" in alarm.out
    assert "ALERT" in alarm.err and "not yours" in alarm.err
    again = holder("monitor", NUMBER)
    assert again.code == 1
    assert "no new log entries" in again.out and "ALERT" in again.err

    # The holder revokes its certificate: its handlers go with it.
    revoked = holder("revoke", NUMBER, "--reason", "keyCompromise")
    assert revoked.code == 0, revoked.err
    assert "keyCompromise" in revoked.out and "promised by" in revoked.out
    after = holder("lookup", NUMBER)
    assert after.code == 0, after.err
    assert "no handlers" in after.out and "sip:alice" not in after.out
    # ... and what is left of it is refused locally.
    refused = holder("publish", NUMBER, "messaging", "sip:alice@chat.example")
    assert refused.code == 2 and "revoked" in refused.err
    # The monitor reports the revocation and the removals; the foreign certificate remains.
    later = holder("monitor", NUMBER, "--json")
    assert later.code == 1
    report = json.loads(later.out)
    kinds = [change["kind"] for change in report["changes"]]
    assert kinds.count("revocation") == 1 and kinds.count("handler_removed") == 2
    assert [f["provider"] for f in report["outstanding"]] == ["hijack-chat"]


def test_monitor_flags_an_intruders_certificate_and_its_handler(holder, hijacker, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    # An honest history: every entry opens, every handler is authorised by the holder's key.
    honest = holder("monitor", NUMBER, "--json")
    assert honest.code == 0, honest.out + honest.err
    report = json.loads(honest.out)
    assert not report["flagged"] and report["outstanding"] == []
    assert [c["kind"] for c in report["changes"]] == ["certificate", "handler"]
    assert not any(c["foreign"] or c["intruder"] or c["unopened"] for c in report["changes"])

    # Someone else answers an SMS challenge, then publishes a handler with its own certificate.
    assert register(hijacker, sms_outbox).code == 0
    assert hijacker("publish", NUMBER, "messaging", "sip:mallory@hijack.example").code == 0
    intruded = hijacker.folder / "numbers" / NUMBER / "number.json"
    intruder_serial = json.loads(intruded.read_text())["serial"]

    alarm = holder("monitor", NUMBER)
    assert alarm.code == 1, alarm.out + alarm.err
    assert "issued by hijack-chat" in alarm.out and "(FOREIGN KEY)" in alarm.out
    assert f"authorised by certificate {intruder_serial} (NOT YOUR CERTIFICATE)" in alarm.out
    assert f"was authorised by certificate {intruder_serial}, which is not yours" in alarm.err
    assert "not yours: someone else answered an SMS challenge" in alarm.err
    # Both stay flagged on the next run, though it reads no new entry.
    again = holder("monitor", NUMBER)
    assert again.code == 1 and "no new log entries" in again.out
    assert f"was authorised by certificate {intruder_serial}, which is not yours" in again.err


def test_message_passport_is_bound_to_its_body(holder, sms_outbox, tmp_path):
    assert register(holder, sms_outbox).code == 0
    body = tmp_path / "message.txt"
    body.write_bytes(b"Hello from the resolution service\n")
    token = holder("passport", "sign", "--from", NUMBER, "--to", CALLEE, "--msg", str(body))
    assert token.code == 0, token.err

    valid = holder("passport", "verify", token.out.strip(), "--body", str(body), "--offline")
    assert valid.code == 0, valid.out + valid.err
    assert "(msg)" in valid.out
    # Signing needs the stored key, not the service.
    holder.monkeypatch.delenv("RS_URL")
    assert main(["passport", "sign", "--from", NUMBER, "--to", CALLEE, "--msg", str(body)]) == 0
    body.write_bytes(b"Hello from someone else\n")
    tampered = holder("passport", "verify", token.out.strip(), "--body", str(body), "--json")
    assert tampered.code == 1
    assert json.loads(tampered.out)["reasons"] == ["msgi-mismatch"]


def test_a_wrong_code_is_an_api_error_and_the_challenge_stays_pending(holder, sms_outbox):
    assert holder("register", NUMBER).code == 0
    code = code_sent(sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    refused = holder("register", NUMBER, "--code", wrong)
    assert refused.code == 3
    assert "challenge-code-wrong" in refused.err and "4 attempts left" in refused.err
    assert holder("register", NUMBER, "--code", code).code == 0


def test_a_changed_log_key_is_a_loud_verification_failure(holder, sms_outbox, tmp_path):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    known = tmp_path / "holder" / "known_logs"
    server, _, vrf_key = known.read_text().split()
    impostor = generate_signer("testserver/log")
    known.write_text(f"{server} {verifier_key(impostor.name, impostor.public_key)} {vrf_key}\n")

    result = holder("lookup", NUMBER)
    assert result.code == 1
    assert "THE LOG KEYS OF" in result.err and "HAVE CHANGED" in result.err
    assert "sip:alice" not in result.out and "verified" not in result.out


def test_usage_and_network_errors_have_their_exit_codes(holder, monkeypatch, tmp_path):
    assert holder("publish", NUMBER, "messaging", "sip:a@b.example").code == 2  # no key stored
    assert holder("register", NUMBER, "--code", "123456").code == 2  # nothing pending
    monkeypatch.delenv("RS_URL", raising=False)
    monkeypatch.setenv("RS_CONFIG_DIR", str(tmp_path))
    assert main(["lookup", NUMBER]) == 2
    unreachable = main(["lookup", NUMBER, "--url", "http://127.0.0.1:9", "--timeout", "2"])
    assert unreachable == 4
    with pytest.raises(SystemExit) as exc:
        main(["lookup", "0612345678"])  # not E.164
    assert exc.value.code == 2


def test_api_errors_exit_3_with_the_problem_type(holder):
    bad_key = Rs(holder.capsys, holder.monkeypatch, holder.url, "rs_wrong", holder.folder)
    result = bad_key("lookup", NUMBER)
    assert result.code == 3
    assert "401" in result.err and "invalid-credentials" in result.err
    assert len(result.err.strip().splitlines()) == 2  # the pin notice, then one error line


def test_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for line in ("0  success", "1  verification failed", "2  usage error", "3  the service"):
        assert line in out
    assert "4  network error" in out and "RS_API_KEY" in out


def test_lookup_json_reports_pending_handlers_apart(holder, sms_outbox, settings):
    assert register(holder, sms_outbox).code == 0
    # With a broker configured and none running, nothing integrates: the entry stays pending.
    settings.CELERY_BROKER_URL = "redis://integration-deferred.invalid:6379/0"
    assert holder("publish", NUMBER, "web", "https://alice.example/").code == 0
    answer = json.loads(holder("lookup", NUMBER, "--json").out)
    assert answer["verified"] is True
    assert [h["uri"] for h in answer["pending"]] == ["https://alice.example/"]
    assert base64.b64decode(answer["checkpoint"]["root_hash"])


# --- The number lock ------------------------------------------------------------------------------


def stored_serial(rs: Rs, number: str = NUMBER) -> str:
    return str(json.loads((rs.folder / "numbers" / number / "number.json").read_text())["serial"])


def held_back(rs: Rs, outbox: list[Any]) -> str:
    """Register while another holder's lock holds: the id of the request kept."""
    result = register(rs, outbox)
    assert result.code == 5, result.out + result.err
    assert f"{NUMBER} is locked by another holder: certificate request" in result.out
    assert f"rs register {NUMBER} --resume" in result.out
    meta = json.loads((rs.folder / "numbers" / NUMBER / "number.json").read_text())
    return str(meta["pending"]["request"])


class Terminal:
    """Standard input on a terminal, answering the prompt with the code of the last SMS."""

    def __init__(self, outbox: list[Any]) -> None:
        self.outbox = outbox

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return code_sent(self.outbox) + "\n"


def test_a_locked_holder_refuses_and_the_intruder_never_gets_a_certificate(
    holder, hijacker, sms_outbox
):
    assert register(holder, sms_outbox).code == 0
    locked = holder("lock", NUMBER)
    assert locked.code == 0, locked.err
    assert f"locked {NUMBER} with certificate {stored_serial(holder)}" in locked.out
    assert holder("monitor", NUMBER).code == 0

    request = held_back(hijacker, sms_outbox)
    waiting = hijacker("register", NUMBER, "--resume")
    assert waiting.code == 5 and "still waits" in waiting.out
    assert hijacker("register", NUMBER, "--code", "123456").code == 2  # the challenge is spent

    listed = holder("requests", NUMBER)
    assert listed.code == 0, listed.err
    assert f"request {request} for {NUMBER} by hijack-chat, pending" in listed.out
    assert "(NOT made here)" in listed.out and f"'rs refuse {request}'" in listed.out
    document = json.loads(holder("requests", "--json").out)
    assert [(r["id"], r["made_here"]) for r in document["requests"]] == [(request, False)]
    own_view = hijacker("requests")
    assert "(made here: yours)" in own_view.out and f"rs register {NUMBER} --resume" in own_view.out

    # The monitor alarms while the request is pending, and says what to do.
    alarm = holder("monitor", NUMBER)
    assert alarm.code == 1, alarm.out + alarm.err
    assert "(FOREIGN KEY), held back by the number's lock" in alarm.out
    assert f"certificate request {request} for {NUMBER}" in alarm.err
    assert f"Refuse it with 'rs refuse {request}'" in alarm.err
    assert holder("monitor", NUMBER).code == 1  # run after run

    refused = holder("refuse", request)
    assert refused.code == 0, refused.err
    assert f"refused request {request} for {NUMBER} (by hijack-chat)" in refused.out
    quiet = holder("monitor", NUMBER)
    assert quiet.code == 0, quiet.out + quiet.err
    assert f"request {request} refused by a locked holder" in quiet.out
    assert holder("requests", NUMBER).out.strip() == f"no pending certificate requests for {NUMBER}"

    # The intruder learns it was refused, and never holds a certificate.
    ended = hijacker("register", NUMBER, "--resume")
    assert ended.code == 3
    assert ended.err.strip() == (
        f"rs register: certificate request {request} for {NUMBER} was refused by the number's "
        f"locked holder: no certificate will be issued for it; if the number is yours, ask its "
        f"holder, or dispute their certificate"
    )
    assert hijacker("register", NUMBER, "--resume").code == 2  # nothing pending any more
    assert not (hijacker.folder / "numbers" / NUMBER / "key.pem").exists()
    # A refused request cannot be answered again.
    again = holder("approve", request)
    assert again.code == 3 and "409 certificate-request-closed" in again.err


def test_an_approved_second_app_collects_its_certificate(holder, sms_outbox, capsys, monkeypatch):
    assert register(holder, sms_outbox).code == 0
    assert holder("lock", NUMBER).code == 0
    second = Rs(capsys, monkeypatch, holder.url, holder.key, holder.folder.parent / "second")
    request = held_back(second, sms_outbox)

    approved = holder("approve", request)
    assert approved.code == 0, approved.err
    assert f"approved request {request} for {NUMBER}" in approved.out

    collected = second("register", NUMBER, "--resume")
    assert collected.code == 0, collected.out + collected.err
    assert f"certificate request {request} for {NUMBER} was issued (approved)" in collected.err
    assert f"registered {NUMBER}: certificate" in collected.out
    assert "verified: key, TNAuthList and chain to the pinned CA root" in collected.out
    assert "verified: log entry" in collected.out
    folder = second.folder / "numbers" / NUMBER
    assert (folder / "key.pem").exists() and not (folder / "key.pending.pem").exists()
    # The second app's certificate works as any: it publishes.
    assert second("publish", NUMBER, "messaging", "sip:alice@second.example").code == 0


def test_a_renewal_keeps_the_key_the_lock_and_the_handlers(holder, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    assert holder("lock", NUMBER).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    first = stored_serial(holder)
    key = (holder.folder / "numbers" / NUMBER / "key.pem").read_bytes()

    started = holder("register", NUMBER)
    assert f"renewing certificate {first} of {NUMBER}" in started.err
    renewed = holder("register", NUMBER, "--code", code_sent(sms_outbox))

    assert renewed.code == 0, renewed.out + renewed.err
    assert "locked: the lock of the certificate it renews carried over" in renewed.out
    assert f"renewed {first}: 1 handler(s) carried over" in renewed.out
    second = stored_serial(holder)
    assert second != first
    assert (holder.folder / "numbers" / NUMBER / "key.pem").read_bytes() == key
    # The lock went over to the new certificate: the service says so, and nothing waits.
    assert Certificate.objects.get(serial=second).locked_at is not None
    assert holder("requests", NUMBER).out.strip() == f"no pending certificate requests for {NUMBER}"
    assert Handler.objects.values_list("certificate__serial", flat=True).get() == second

    # A new key: the renewal is signed with the old one, so the lock does not hold it back.
    started = holder("renew", NUMBER, "--new-key")
    assert started.code == 0, started.err
    rotated = holder("renew", NUMBER, "--code", code_sent(sms_outbox))
    assert rotated.code == 0, rotated.out + rotated.err
    assert (holder.folder / "numbers" / NUMBER / "key.pem").read_bytes() != key
    assert Handler.objects.values_list("certificate__serial", flat=True).get() == stored_serial(
        holder
    )


def test_renew_all_runs_unattended_with_a_code_command(holder, sms_outbox, monkeypatch, tmp_path):
    assert register(holder, sms_outbox).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    first = stored_serial(holder)
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    class Gateway(list[Any]):
        """The SMS sent, each code also left where the code command reads it."""

        def append(self, message: Any) -> None:
            super().append(message)
            (inbox / message.to).write_text(code_sent([message], message.to) + "\n")

    monkeypatch.setattr(locmem, "outbox", Gateway())
    nothing = holder("renew", "--all")  # a 30-day certificate does not end within 7 days
    assert nothing.code == 0 and "nothing to renew" in nothing.out
    assert json.loads(holder("renew", "--all", "--json").out) == {"renewed": [], "not_renewed": []}

    renewed = holder(
        "renew", "--all", "--within", "31", "--code-command", f'cat "{inbox}/$RS_NUMBER"'
    )

    assert renewed.code == 0, renewed.out + renewed.err
    assert f"renewed {first}: 1 handler(s) carried over" in renewed.out
    assert (
        Handler.objects.values_list("certificate__serial", flat=True).get()
        == stored_serial(holder)
        != first
    )
    failing = holder("renew", "--all", "--within", "31", "--code-command", "exit 3")
    assert failing.code == 1 and "the code command failed (exit 3)" in failing.err


def test_the_holder_locks_and_disputes_a_foreign_certificate(holder, hijacker, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    assert register(hijacker, sms_outbox).code == 0  # not locked: issued at once
    foreign = stored_serial(hijacker)

    alarm = holder("monitor", NUMBER)
    assert alarm.code == 1
    assert f"Lock your number with 'rs lock {NUMBER}'" in alarm.err
    assert f"'rs dispute {foreign} --number {NUMBER}'" in alarm.err

    # Not locked yet: the dispute goes through, and says to lock.
    started = holder("dispute", foreign, "--number", NUMBER, "--statement", "my SIM was swapped")
    assert started.code == 0, started.err
    assert f"rs dispute {foreign} --number {NUMBER} --code CODE" in started.out
    disputed = holder("dispute", foreign, "--number", NUMBER, "--code", code_sent(sms_outbox))
    assert disputed.code == 0, disputed.out + disputed.err
    assert f"disputed certificate {foreign} of {NUMBER}: dispute" in disputed.out
    assert f"run 'rs lock {NUMBER}'" in disputed.err
    assert Dispute.objects.get().statement == "my SIM was swapped"
    # Already on the queue: a second dispute, the code asked for on a terminal, is refused.
    assert holder("lock", NUMBER).code == 0
    holder.monkeypatch.setattr("sys.stdin", Terminal(sms_outbox))
    twice = holder("dispute", foreign, "--number", NUMBER)
    assert twice.code == 3 and "409 dispute-already-open" in twice.err
    assert "code sent by SMS" in twice.err

    # The foreign certificate stays flagged until an operator revokes it; the dispute is shown.
    later = holder("monitor", NUMBER)
    assert later.code == 1
    assert f"certificate {foreign} disputed by" in later.out and "operator's queue" in later.out


def test_a_certificate_revoked_since_it_was_stored_is_registered_anew(holder, hijacker, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    assert register(hijacker, sms_outbox).code == 0
    foreign = stored_serial(hijacker)
    # An operator revokes the intruder's certificate after a dispute: its folder does not know.
    certificate_revoke(
        certificate=Certificate.objects.get(serial=foreign),
        reason=RevocationReason.KEY_COMPROMISE,
        actor="admin:operator",
    )

    started = hijacker("register", NUMBER)
    again = hijacker("register", NUMBER, "--code", code_sent(sms_outbox))

    assert f"certificate {foreign} of {NUMBER} was revoked (keyCompromise)" in started.err
    assert again.code == 0, again.err
    anew = Certificate.objects.get(serial=stored_serial(hijacker))
    old = Certificate.objects.get(serial=foreign)
    assert anew.serial != foreign and anew.status == "valid"
    assert bytes(anew.public_key_sha256) != bytes(old.public_key_sha256)  # a new key


def test_the_lock_commands_fail_with_one_line_and_their_exit_codes(holder, hijacker, sms_outbox):
    # Nothing stored here to sign with: usage errors.
    for args in (
        ("lock", NUMBER),
        ("unlock", NUMBER),
        ("dispute", "ab" * 16, "--number", NUMBER),
    ):
        result = holder(*args)
        assert result.code == 2, args
        assert result.err.strip() == (
            f"rs {args[0]}: no key stored for {NUMBER} in "
            f"{holder.folder / 'numbers' / NUMBER}: run 'rs register {NUMBER}' first"
        )
    assert holder("register", NUMBER, "--resume").code == 2
    for args in (("approve", "not-an-id"), ("dispute", "xyz", "--number", NUMBER)):
        with pytest.raises(SystemExit) as exc:
            holder(*args)
        assert exc.value.code == 2
    unknown = holder("approve", "0b0e6f4e-3f4a-4c55-9d7c-1f2e3d4c5b6a")
    assert unknown.code == 3 and "404 certificate-request-not-found" in unknown.err

    assert register(holder, sms_outbox).code == 0
    own = stored_serial(holder)
    mine = holder("dispute", own, "--number", NUMBER)
    assert mine.code == 2 and "is the one stored here" in mine.err
    nothing = holder("dispute", "ab" * 16, "--number", NUMBER, "--code", "123456")
    assert nothing.code == 2 and "no dispute of" in nothing.err
    unlocked = holder("unlock", NUMBER)
    assert unlocked.code == 0 and f"unlocked {NUMBER}" in unlocked.out

    # Someone else's lock: the holder, not locked, cannot answer the request it holds back.
    assert holder("lock", NUMBER).code == 0
    request = held_back(hijacker, sms_outbox)
    assert holder("unlock", NUMBER).code == 0
    late = holder("refuse", request)
    assert late.code == 3 and "403 holder-not-locked" in late.err
    assert len(late.err.strip().splitlines()) == 1 and late.err.startswith("rs refuse: ")


class Typed:
    """Standard input on a terminal, answering each prompt with the next of ``answers``: a
    string, or a callable that reads it then (the code of the SMS sent by then)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        answer = self.answers.pop(0)
        return str(answer() if callable(answer) else answer) + "\n"


def test_a_code_the_service_cannot_read_is_asked_again_with_its_errors(holder, sms_outbox):
    # Letters: a 400 validation problem, whose errors[] say why; no attempt is spent. Then a
    # wrong code: an attempt is spent. Then the code of the SMS.
    def wrong() -> str:
        return "000000" if code_sent(sms_outbox) != "000000" else "111111"

    holder.monkeypatch.setattr("sys.stdin", Typed("abcdef", wrong, lambda: code_sent(sms_outbox)))

    registered = holder("register", NUMBER)

    assert registered.code == 0, registered.err
    assert "the service cannot read that code:\n  code: Digits only.\n" in registered.err
    assert "no attempt was spent; type the code again" in registered.err
    assert "wrong code; 4 attempts left" in registered.err
    assert f"registered {NUMBER}: certificate" in registered.out


def test_codes_the_service_cannot_read_end_the_run_with_the_errors(holder, sms_outbox):
    holder.monkeypatch.setattr("sys.stdin", Typed("abcdef", "12", "letters"))

    refused = holder("register", NUMBER)

    assert refused.code == 3
    assert refused.err.count("the service cannot read that code:") == 2
    assert "400 validation-error" in refused.err and "code: Digits only." in refused.err
    # The challenge is kept: a later run answers it.
    assert holder("register", NUMBER, "--code", code_sent(sms_outbox)).code == 0


def test_commands_print_one_json_document_with_json(holder, sms_outbox):
    started = holder("register", NUMBER, "--json")
    assert started.code == 0, started.err
    sent = json.loads(started.out)
    assert sent["status"] == "code_sent" and sent["number"] == NUMBER
    assert sent["finish"] == f"rs register {NUMBER} --code CODE"

    registered = holder("register", NUMBER, "--code", code_sent(sms_outbox), "--json")
    assert registered.code == 0, registered.err
    certificate = json.loads(registered.out)
    assert certificate["status"] == "registered" and certificate["locked"] is False
    assert Certificate.objects.get(serial=certificate["serial"]).number == NUMBER

    published = json.loads(
        holder("publish", NUMBER, "messaging", "sip:alice@chat.example", "--json").out
    )
    assert published["uri"] == "sip:alice@chat.example" and published["visibility"] == "all"
    assert published["certificate"] == certificate["serial"]

    locked = json.loads(holder("lock", NUMBER, "--json").out)
    assert locked == {
        "number": NUMBER,
        "serial": certificate["serial"],
        "locked": True,
        "not_after": certificate["not_after"],
        "lock_log_index": locked["lock_log_index"],
        "log": {
            "leaf_hash": locked["log"]["leaf_hash"],
            "promised_by": locked["log"]["promised_by"],
        },
    }
    assert len(bytes.fromhex(locked["log"]["leaf_hash"])) == 32 and locked["log"]["promised_by"]
    assert locked["lock_log_index"] is None or isinstance(locked["lock_log_index"], int)
    assert json.loads(holder("unlock", NUMBER, "--json").out)["locked"] is False

    token = json.loads(holder("passport", "sign", "--from", NUMBER, "--to", CALLEE, "--json").out)[
        "token"
    ]
    verdict = json.loads(holder("passport", "verify", token, "--json").out)
    assert verdict["verdict"] == "valid"

    removed = json.loads(holder("remove", NUMBER, "messaging", "--json").out)
    assert removed["service"] == "messaging"
    assert removed["log"]["leaf_hash"] != published["log"]["leaf_hash"]
    assert removed["log"]["promised_by"] and published["log"]["promised_by"]
    assert not Handler.objects.filter(service="messaging").exists()

    revoked = json.loads(holder("revoke", NUMBER, "--json").out)
    assert revoked["status"] == "revoked" and revoked["serial"] == certificate["serial"]


def test_monitor_checks_the_promise_of_every_write_and_shows_a_broken_one(holder, sms_outbox):
    assert register(holder, sms_outbox).code == 0
    held = Store(holder.folder)
    before = len(held.promises_held(holder.url))
    assert holder("lock", NUMBER).code == 0
    assert holder("publish", NUMBER, "messaging", "sip:alice@chat.example").code == 0
    revoked = holder("revoke", NUMBER)
    assert revoked.code == 0 and "promised by" in revoked.out
    assert len(held.promises_held(holder.url)) == before + 3

    # Integrated in-process after each commit: every entry is in the checkpoint, so each
    # promise is kept, and forgotten.
    checked = json.loads(holder("monitor", NUMBER, "--json").out)["promises"]
    assert len(checked["kept"]) == before + 3 and checked["broken"] == []
    assert held.promises_held(holder.url) == []

    # A promise the log signed for an entry it never included, its deadline long past: broken.
    broken = sign_promise(
        Promise(
            origin=log_keys().signer.name,
            leaf_hash=bytes(range(32)),
            time_ms=int((time.time() - 3600) * 1000),
            bound_seconds=10,
        ),
        log_keys().promise_signer,
    )
    held.promise_keep(holder.url, broken)
    alarm = holder("monitor", NUMBER)
    assert alarm.code == 1, alarm.out + alarm.err
    assert "broke its promise to include entry 000102" in alarm.err and broken in alarm.err
    assert held.promises_held(holder.url) == [broken]  # kept as evidence
