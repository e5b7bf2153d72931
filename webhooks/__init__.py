"""Webhooks: providers register HTTPS endpoints and are told, signed as Standard Webhooks say,
when a certificate or a handler changes under a number they hold (DESIGN §7.2).

An event is written in the transaction of its change, with a delivery per endpoint concerned
and an outbox message per delivery (outbox): a crash or a broker outage loses none, and each is
retried on a schedule over more than a day. See docs/webhooks.md.
"""
