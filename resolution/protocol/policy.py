"""Witness policies: which logs are known, which witnesses, and which sets of their cosignatures
make a checkpoint trustworthy (a quorum).

The format is Sigsum's policy file (sigsum-go ``doc/policy.md``) with keys written as signed-note
verifier keys, as torchwood's ``ParsePolicy`` and Tessera's witness policies do.  One item per
line, separated by white space; ``#`` starts a comment::

    log <log vkey, type 0x01> [<url>]
    witness <name> <cosigner vkey, type 0x04> [<url>]
    group <name> <k>|any|all <member name>...
    quorum <name>|none

A group is satisfied when at least ``k`` of its members are (``any`` is 1, ``all`` every member);
a witness is satisfied when it cosigned.  Names are local to the policy, share one namespace with
``none`` predefined, and must be defined on a line before the one that uses them, so groups
cannot form cycles.  Exactly one ``quorum`` line.  As in Sigsum, a checkpoint signed by any one
of the ``log`` lines (with the key named as its origin, as torchwood requires) is from a known
log.

Public API: ``PolicyError``, ``PolicyLog``, ``PolicyWitness``, ``PolicyGroup``, ``Quorum``,
``Policy``, ``parse_policy``, ``format_policy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from resolution.protocol.cosignature import (
    CosignatureError,
    CosignatureVerifier,
    parse_cosigner_key,
)
from resolution.protocol.note import NoteError, Verifier, parse_verifier_key, verifier_key

NONE: Final = "none"
"""The predefined name of the empty quorum: no cosignature required."""

_GROUP_SHORTHANDS: Final = ("any", "all")


class PolicyError(ValueError):
    """A policy is malformed; the message names the line."""


@dataclass(frozen=True)
class PolicyLog:
    """A ``log`` line: the log's note verifier (its name is the checkpoint origin) and URL."""

    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness`` line: local name, cosigner key, and the URL of its submission prefix."""

    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """A ``group`` line: satisfied when ``threshold`` of ``members`` are.  ``spelling`` keeps
    how the threshold was written (``any``, ``all`` or the number), to write the policy back."""

    name: str
    threshold: int
    members: tuple[str, ...]
    spelling: str


@dataclass(frozen=True)
class Quorum:
    """The verdict of ``Policy.evaluate``: whether the quorum holds, the witnesses whose
    cosignatures counted, the policy's witnesses missing from the quorum's groups, and one
    line per unsatisfied group saying how many more it needs."""

    satisfied: bool
    cosigned: tuple[str, ...]
    missing: tuple[str, ...]
    shortfalls: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.satisfied:
            return f"quorum met (cosigned by {', '.join(self.cosigned) or 'no witness'})"
        return "quorum not met: " + "; ".join(self.shortfalls)


@dataclass(frozen=True)
class Policy:
    """A parsed policy.  ``quorum`` is ``"none"`` or the name of a witness or group."""

    logs: tuple[PolicyLog, ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, PolicyGroup]
    quorum: str
    _order: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def witness_verifiers(self) -> tuple[CosignatureVerifier, ...]:
        """The cosigner keys of every witness, to open a checkpoint's note with."""
        return tuple(w.verifier for w in self.witnesses.values())

    def log_for(self, origin: str) -> Verifier | None:
        """The key of the known log whose name is ``origin``, if any."""
        for log in self.logs:
            if log.verifier.name == origin:
                return log.verifier
        return None

    def evaluate(self, cosigners: Iterable[tuple[str, bytes]]) -> Quorum:
        """Does a checkpoint whose *verified* cosignatures are by ``cosigners`` (key name and key
        ID pairs, e.g. from ``CosignedCheckpoint.cosignatures``) meet the quorum?"""
        present = {(name, bytes(kid)) for name, kid in cosigners}
        cosigned = {
            name
            for name, w in self.witnesses.items()
            if (w.verifier.name, w.verifier.key_id) in present
        }
        if self.quorum == NONE:
            return Quorum(True, tuple(sorted(cosigned)), ())
        shortfalls: list[str] = []
        satisfied = self._satisfied(self.quorum, cosigned, shortfalls)
        wanted = self._witnesses_under(self.quorum)
        missing = tuple(sorted(wanted - cosigned))
        ordered = tuple(sorted(cosigned))
        return Quorum(satisfied, ordered, () if satisfied else missing, tuple(shortfalls))

    def _satisfied(self, name: str, cosigned: set[str], shortfalls: list[str]) -> bool:
        if name in self.witnesses:
            if name not in cosigned and name == self.quorum:
                shortfalls.append(f"witness {name} has not cosigned")
            return name in cosigned
        group = self.groups[name]
        count = sum(self._satisfied(member, cosigned, []) for member in group.members)
        if count >= group.threshold:
            return True
        # Explain the group itself, and below it only the members that are groups.
        shortfalls.append(
            f"group {name} needs {group.threshold} of {len(group.members)}, has {count}"
        )
        for member in group.members:
            if member in self.groups:
                self._satisfied(member, cosigned, shortfalls)
        return False

    def _witnesses_under(self, name: str) -> set[str]:
        if name in self.witnesses:
            return {name}
        return set().union(*(self._witnesses_under(m) for m in self.groups[name].members))


def _log_key(text: str, number: int) -> Verifier:
    try:
        return parse_verifier_key(text)
    except NoteError as exc:
        raise PolicyError(f"line {number}: log key: {exc}") from None


def _witness_key(text: str, number: int) -> CosignatureVerifier:
    try:
        return parse_cosigner_key(text)
    except CosignatureError as exc:
        raise PolicyError(f"line {number}: witness key: {exc}") from None


def _define(name: str, number: int, defined: set[str]) -> None:
    if name == NONE or name in defined:
        raise PolicyError(f"line {number}: the name {name!r} is already defined")
    defined.add(name)


def parse_policy(text: str) -> Policy:
    """Parse a policy; ``PolicyError`` names the first bad line."""
    logs: list[PolicyLog] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, PolicyGroup] = {}
    defined: set[str] = set()
    order: list[str] = []
    keys: dict[tuple[str, bytes], str] = {}
    quorum: str | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        keyword, args = fields[0], fields[1:]
        if keyword == "log":
            if len(args) not in (1, 2):
                raise PolicyError(f"line {number}: want 'log <vkey> [<url>]'")
            log = _log_key(args[0], number)
            if any(other.verifier == log for other in logs):
                raise PolicyError(f"line {number}: log {log.name} is listed twice")
            logs.append(PolicyLog(log, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise PolicyError(f"line {number}: want 'witness <name> <vkey> [<url>]'")
            name = args[0]
            verifier = _witness_key(args[1], number)
            ident = (verifier.name, verifier.key_id)
            if ident in keys:
                raise PolicyError(f"line {number}: the key of {name} is also {keys[ident]}'s")
            _define(name, number, defined)
            keys[ident] = name
            witnesses[name] = PolicyWitness(name, verifier, args[2] if len(args) == 3 else None)
            order.append(name)
        elif keyword == "group":
            if len(args) < 3:
                raise PolicyError(f"line {number}: want 'group <name> <k>|any|all <member>...'")
            name, spelling, members = args[0], args[1], tuple(args[2:])
            for member in members:
                if member not in defined:
                    raise PolicyError(f"line {number}: {member!r} is not defined above")
            if len(set(members)) != len(members):
                raise PolicyError(f"line {number}: group {name} lists a member twice")
            if spelling == "any":
                threshold = 1
            elif spelling == "all":
                threshold = len(members)
            elif spelling.isascii() and spelling.isdigit() and spelling[0] != "0":
                threshold = int(spelling)
                if threshold > len(members):
                    raise PolicyError(
                        f"line {number}: group {name} needs {threshold} of {len(members)}"
                    )
            else:
                raise PolicyError(f"line {number}: group threshold {spelling!r} is not k|any|all")
            _define(name, number, defined)
            groups[name] = PolicyGroup(name, threshold, members, spelling)
            order.append(name)
        elif keyword == "quorum":
            if len(args) != 1:
                raise PolicyError(f"line {number}: want 'quorum <name>|none'")
            if quorum is not None:
                raise PolicyError(f"line {number}: a second quorum line")
            if args[0] != NONE and args[0] not in defined:
                raise PolicyError(f"line {number}: quorum {args[0]!r} is not defined above")
            quorum = args[0]
        else:
            raise PolicyError(f"line {number}: unknown keyword {keyword!r}")
    if quorum is None:
        raise PolicyError("the policy has no quorum line")
    return Policy(
        tuple(logs),
        MappingProxyType(witnesses),
        MappingProxyType(groups),
        quorum,
        tuple(order),
    )


def format_policy(policy: Policy) -> str:
    """Write a policy back in the form ``parse_policy`` reads (definitions in their order)."""
    lines = []
    for log in policy.logs:
        vkey = verifier_key(log.verifier.name, log.verifier.public_key)
        lines.append(" ".join(part for part in ("log", vkey, log.url) if part))
    for name in policy._order:
        if name in policy.witnesses:
            w = policy.witnesses[name]
            parts = ("witness", name, w.verifier.vkey, w.url)
            lines.append(" ".join(part for part in parts if part))
        else:
            g = policy.groups[name]
            lines.append(" ".join(("group", name, g.spelling, *g.members)))
    lines.append(f"quorum {policy.quorum}")
    return "\n".join(lines) + "\n"
