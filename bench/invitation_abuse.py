"""Invitations under abuse: one provider with many certificate holders tries to invite 10,000
numbers. The SMS sent must stay within the configured budgets, and the refusals cost no SMS.

    .venv/bin/python bench/invitation_abuse.py [--holders 100] [--targets 10000] [--opted-out 50]
    RS_INVITATION_LIMIT_PROVIDER=100000/1h RS_INVITATION_LIMIT_INVITER=1000/1d \
        .venv/bin/python bench/invitation_abuse.py    # the SMS budgets shared with challenges bind

A database of its own (``rs_bench_invitations``, dropped at the next run) on the embedded
PostgreSQL (or DATABASE_URL's server), migrated and bootstrapped, with the settings' default
limits: the budgets measured are the ones a deployment gets unless it sets others. The SMS
backend is locmem: what it holds is what would have gone to Twilio.

1. The abusing provider registers ``--holders`` German mobile numbers through the real flow
   (challenge, SMS code, certificate): each a holder that may invite. Those challenges spend
   the provider's SMS budget, as they would.
2. ``--opted-out`` of the targets put themselves on the do-not-invite list (the opt-out
   service).
3. The attack: each holder in turn signs an invitation (its own JWS, ES256) for the next of
   ``--targets`` French mobile numbers, until every target has been tried once, through
   ``invitations.services.invitation_send`` in this process (the API's view calls nothing
   else); then every holder tries every target it invited again (``--again`` of them), as a
   spammer retrying would.
4. The outbox is dispatched (what a worker does) and the SMS counted.

Printed: the attempts, the invitations made, the SMS sent and the outbox messages written
(both must equal the invitations made: a refusal writes no message), the refusals by scope,
the budgets the settings give over the run's window and the most SMS they allow, and the
attempts per second (JWS check, limits, and for an accepted one the log entry and SMS).
Exit 1 if the SMS exceed a budget or a refusal cost an SMS.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter

from common import setup_django


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=100)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--opted-out", type=int, default=50)
    parser.add_argument("--again", type=int, default=1000, help="retries of invited pairs")
    args = parser.parse_args()

    import os

    os.environ["SMS_BACKEND"] = "locmem"
    setup_django("rs_bench_invitations", fresh=True)

    import phonenumbers
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.conf import settings

    from ca.limits import limits_parse
    from ca.services.challenges import challenge_start, challenge_verify
    from ca.services.issuance import IssuedCertificate, certificate_issue
    from ca.sms import locmem
    from core.problems import Problem
    from invitations.choices import OptOutSource
    from invitations.delivery import INVITATION_SMS
    from invitations.models import Invitation
    from invitations.services import invitation_send, number_opt_out
    from outbox.models import Message
    from outbox.services import outbox_dispatch
    from providers.models import Provider
    from resolution.protocol.canonical import canonical_json
    from resolution.protocol.jose import jws_sign
    from tests.ca.flow import csr_pem

    provider = Provider.objects.create(slug="spam-chat", name="Spam Chat")

    def dispatched() -> None:
        while outbox_dispatch():
            pass

    # 1. The holders, through the real flow.
    holders: list[tuple[ec.EllipticCurvePrivateKey, str]] = []
    n = 0
    while len(holders) < args.holders:
        number = f"+4915112{n:06d}"
        n += 1
        if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
            continue
        address = f"10.{len(holders) // 250}.{len(holders) % 250}.1"
        challenge = challenge_start(provider=provider, number=number, client_ip=address)
        dispatched()
        code = locmem.outbox[-1].body.rsplit("#", 1)[1]
        challenge_verify(provider=provider, challenge_id=challenge.id, code=code)
        key = ec.generate_private_key(ec.SECP256R1())
        issued = certificate_issue(provider=provider, challenge_id=challenge.id, csr=csr_pem(key))
        assert isinstance(issued, IssuedCertificate)
        holders.append((key, issued.certificate.serial))
    challenge_sms = len(locmem.outbox)
    locmem.outbox.clear()

    targets = [f"+3361{i:07d}" for i in range(args.targets)]
    for number in targets[: args.opted_out]:
        number_opt_out(number=number, source=OptOutSource.PAGE)

    def attempt(holder: tuple[ec.EllipticCurvePrivateKey, str], to: str) -> str:
        key, serial = holder
        claims = {
            "to": to,
            "service": "messaging",
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
        }
        token = jws_sign({"alg": "ES256", "kid": serial}, canonical_json(claims), key)
        try:
            invitation_send(provider=provider, token=token)
        except Problem as refused:
            return str(refused.extensions.get("scope", refused.slug))
        return "invited"

    # 3. The attack.
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for i, to in enumerate(targets):
        outcomes[attempt(holders[i % len(holders)], to)] += 1
    retried = 0
    for invitation in Invitation.objects.select_related("certificate").order_by("created_at")[
        : args.again
    ]:
        holder = next(h for h in holders if h[1] == invitation.certificate.serial)
        outcomes[attempt(holder, invitation.number)] += 1
        retried += 1
    seconds = time.perf_counter() - started
    attempts = len(targets) + retried

    # 4. What a worker sends.
    dispatched()
    made = Invitation.objects.count()
    messages = Message.objects.filter(kind=INVITATION_SMS).count()
    sent = len(locmem.outbox)

    def most(text: str, window_seconds: float) -> int:
        """The most a limit allows within a window of ``window_seconds`` (one window)."""
        return min(
            (
                limit.count
                for limit in limits_parse(text)
                if limit.window.total_seconds() >= window_seconds
            ),
            default=10**9,
        )

    window = max(seconds, 1.0)
    budgets = {
        "RS_INVITATION_LIMIT_PROVIDER": (
            settings.RS_INVITATION_LIMIT_PROVIDER,
            most(settings.RS_INVITATION_LIMIT_PROVIDER, window),
        ),
        "RS_CHALLENGE_LIMIT_PROVIDER (SMS, less the challenges)": (
            settings.RS_CHALLENGE_LIMIT_PROVIDER,
            most(settings.RS_CHALLENGE_LIMIT_PROVIDER, window) - challenge_sms,
        ),
        "RS_CHALLENGE_LIMIT_COUNTRY (SMS to +33)": (
            settings.RS_CHALLENGE_LIMIT_COUNTRY,
            most(settings.RS_CHALLENGE_LIMIT_COUNTRY, window),
        ),
        "RS_INVITATION_LIMIT_INVITER x holders": (
            settings.RS_INVITATION_LIMIT_INVITER,
            most(settings.RS_INVITATION_LIMIT_INVITER, window) * len(holders),
        ),
        "RS_INVITATION_LIMIT_TARGET x targets": (
            settings.RS_INVITATION_LIMIT_TARGET,
            most(settings.RS_INVITATION_LIMIT_TARGET, window) * len(targets),
        ),
    }
    bound = min(allowed for _, allowed in budgets.values())

    print(
        f"one provider, {len(holders)} certificate holders ({challenge_sms} challenge SMS), "
        f"{len(targets):,} targets ({args.opted_out} opted out), "
        f"{retried:,} retries of invited pairs"
    )
    print(f"attempts            {attempts:,} in {seconds:.1f} s ({attempts / seconds:,.0f}/s)")
    print(f"invitations made    {made:,}")
    print(f"SMS sent            {sent:,}")
    print(f"outbox messages     {messages:,}")
    print("refused, by scope:")
    for scope, count in sorted(outcomes.items(), key=lambda item: -item[1]):
        if scope != "invited":
            print(f"  {scope:<22}{count:,}")
    print("budgets over the run's window:")
    for name, (text, allowed) in budgets.items():
        print(f"  {name:<62}{text:<16}allows {allowed:,}")
    print(f"most SMS the budgets allow: {bound:,}; sent: {sent:,}")
    refusals = attempts - outcomes["invited"]
    print(f"SMS per refusal: {(messages - made) / max(refusals, 1):.3f} ({refusals:,} refusals)")
    ok = sent <= bound and sent == made == messages == outcomes["invited"]
    print(
        "within budgets, refusals cost no SMS" if ok else "BUDGET EXCEEDED or a refusal cost an SMS"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
