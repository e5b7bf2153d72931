"""The witnesses the log submits its checkpoints to, and the policy its served checkpoints meet.

Read from ``RS_WITNESSES`` and ``RS_WITNESS_POLICY`` (docs/witnessing.md) once per process, and
checked as each process starts (:func:`witnesses_validate`, from ``TransparencyConfig.ready``):
a key or policy that does not parse stops the service there, not at the first submission.

``RS_WITNESSES`` holds one witness per line (or per ``;``): ``[NAME] VKEY URL``. ``NAME`` is the
witness's name in the policy (default: its key's name), ``VKEY`` its cosigner verifier key
(C2SP tlog-cosignature, type 0x04), ``URL`` its submission prefix (``<URL>/add-checkpoint``).
``RS_WITNESS_POLICY`` holds the policy's ``group`` and ``quorum`` lines over those names: the
``witness`` lines are made from ``RS_WITNESSES``, so each witness is named once. Without a policy
a majority of the witnesses is the quorum; without witnesses, ``quorum none``.

The policy served at ``/log/witness-policy`` (:func:`policy_served`) is that policy with a
``log`` line for the log's own key: what a client pins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from resolution.protocol.cosignature import (
    CosignatureError,
    CosignatureVerifier,
    parse_cosigner_key,
)
from resolution.protocol.policy import NONE, Policy, PolicyError, format_policy, parse_policy

DEFAULT_GROUP: Final = "majority"
"""The name of the default quorum's group: more than half of the witnesses."""

_URL_MAX: Final = 512


class WitnessConfigError(ValueError):
    """``RS_WITNESSES`` or ``RS_WITNESS_POLICY`` is malformed; the message says where."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A configured witness: its name in the policy, its cosigner key and submission prefix."""

    name: str
    verifier: CosignatureVerifier
    url: str  # without a trailing slash

    @property
    def add_checkpoint_url(self) -> str:
        return self.url + "/add-checkpoint"


@dataclass(frozen=True)
class WitnessConfig:
    """The witnesses, and the policy over them (no ``log`` line: see :func:`policy_served`)."""

    witnesses: tuple[WitnessEndpoint, ...]
    policy: Policy

    @property
    def quorum_required(self) -> bool:
        """Whether served checkpoints must meet a quorum (``quorum`` is not ``none``)."""
        return self.policy.quorum != NONE

    def endpoint_by_key(self, vkey: str) -> WitnessEndpoint | None:
        for witness in self.witnesses:
            if witness.verifier.vkey == vkey:
                return witness
        return None


def _items(text: str) -> list[tuple[int, list[str]]]:
    """Non-empty items of a setting (lines or ``;``-separated), numbered from 1, comments cut."""
    items = []
    for number, raw in enumerate(text.replace(";", "\n").split("\n"), 1):
        fields = raw.split("#", 1)[0].split()
        if fields:
            items.append((number, fields))
    return items


def _url_check(url: str, where: str) -> str:
    parts = urlsplit(url)
    if (
        len(url) > _URL_MAX
        or not all("!" <= char <= "~" for char in url)
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise WitnessConfigError(
            f"{where}: {url[:80]!r} is not an http(s) URL of a submission prefix "
            "(scheme, host, optional port and path; no user, query or fragment)"
        )
    return url.rstrip("/")


def witnesses_parse(witnesses: str, policy: str) -> WitnessConfig:
    """The configuration ``RS_WITNESSES`` = ``witnesses`` and ``RS_WITNESS_POLICY`` = ``policy``
    describe; ``WitnessConfigError`` names the setting and item at fault."""
    endpoints: list[WitnessEndpoint] = []
    for number, fields in _items(witnesses):
        where = f"RS_WITNESSES item {number}"
        if len(fields) not in (2, 3):
            raise WitnessConfigError(f"{where}: want '[NAME] VKEY URL', not {len(fields)} field(s)")
        *name, vkey, url = fields
        try:
            verifier = parse_cosigner_key(vkey)
        except CosignatureError as error:
            raise WitnessConfigError(f"{where}: not a witness verifier key: {error}") from None
        endpoints.append(
            WitnessEndpoint(
                name=name[0] if name else verifier.name,
                verifier=verifier,
                url=_url_check(url, where),
            )
        )
    rules = _items(policy)
    for number, fields in rules:
        if fields[0] not in ("group", "quorum"):
            raise WitnessConfigError(
                f"RS_WITNESS_POLICY item {number}: only 'group' and 'quorum' lines belong here "
                f"(witnesses are RS_WITNESSES), not {fields[0]!r}"
            )
    if not rules:
        rules = list(enumerate(_default_rules(endpoints)))
    lines = [f"witness {w.name} {w.verifier.vkey} {w.url}" for w in endpoints]
    lines += [" ".join(fields) for _, fields in rules]
    try:
        parsed = parse_policy("\n".join(lines) + "\n")
    except PolicyError as error:
        raise WitnessConfigError(
            f"RS_WITNESSES and RS_WITNESS_POLICY make no valid policy: {error} (the policy's "
            f"lines: one 'witness' line per RS_WITNESSES item, then RS_WITNESS_POLICY's)"
        ) from None
    return WitnessConfig(witnesses=tuple(endpoints), policy=parsed)


def _default_rules(endpoints: list[WitnessEndpoint]) -> list[list[str]]:
    """The default policy's lines: a majority of the witnesses; ``quorum none`` without any."""
    if not endpoints:
        return [["quorum", NONE]]
    names = [w.name for w in endpoints]
    threshold = len(names) // 2 + 1
    return [["group", DEFAULT_GROUP, str(threshold), *names], ["quorum", DEFAULT_GROUP]]


@functools.cache
def witness_config() -> WitnessConfig:
    """The configuration from the settings (parsed once; ``witnesses_validate`` checked it)."""
    return witnesses_parse(settings.RS_WITNESSES, settings.RS_WITNESS_POLICY)


@receiver(setting_changed)
def _forget_on_setting_changed(*, setting: str, **_: Any) -> None:
    # Tests change the settings; a deployment reads them once.
    if setting in ("RS_WITNESSES", "RS_WITNESS_POLICY"):
        witness_config.cache_clear()


def witnesses_validate() -> None:
    """Raise ImproperlyConfigured for ``RS_WITNESSES`` or ``RS_WITNESS_POLICY`` that does not
    parse, saying what is wrong. Run as each process starts."""
    witness_config.cache_clear()
    try:
        witness_config()
    except WitnessConfigError as error:
        raise ImproperlyConfigured(str(error)) from None


def policy_served(*, log_vkey: str, log_url: str) -> str:
    """The policy clients pin: a ``log`` line for the log's note verifier key (``log_vkey``)
    and its URL, each witness with its URL, the groups and the quorum (C2SP / Sigsum form)."""
    config = witness_config()
    body = format_policy(config.policy)
    return format_policy(parse_policy(f"log {log_vkey} {log_url}\n" + body))
