"""The outbox: every message that leaves the process (a challenge's SMS, a webhook).

A change that must send something writes a row here in its own transaction; a dispatcher sends
the rows that are due, from beat and right after the commit. The row, not the broker, is the
record of the work: a broker down at commit, a worker killed mid-send or a database error in the
middle loses nothing, and a message marked sent is never sent again.
"""
