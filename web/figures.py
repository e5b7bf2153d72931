"""The figures the pages draw: selectors' rows turned into charts over whole periods.

The explorer's charts are public, so they are kept in the cache for ``PUBLIC_SECONDS``: a
burst of visitors costs one grouped query per chart and minute, not one per visit (each visit,
while the cache is down: core.outages.cached). The operator dashboard reads afresh on every
load.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from ca.selectors import (
    CountryVolume,
    DeliveryError,
    challenge_volume_by_country,
    challenge_volume_by_hour,
    delivery_errors,
)
from core.outages import cached
from directory.metrics import lookups_by_provider_hour
from resolution.protocol.entries import EntryKind
from transparency.selectors import (
    Backlog,
    cosigning_backlog,
    entries_by_period,
    log_backlog,
    merge_delay_by_hour,
    witnesses_state,
)
from transparency.witnesses import witness_config
from web.charts import Chart, Series, bar_chart, filled, line_chart, number, periods

PUBLIC_SECONDS = 60
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MOST_PROVIDERS = 6  # lookups of the others are shown together


@dataclass(frozen=True)
class Period:
    """A window the figures cover, in hours or days."""

    name: str
    description: str
    step: timedelta
    count: int

    @property
    def unit(self) -> str:
        return "hour" if self.step == HOUR else "day"

    def starts(self, now: datetime) -> list[datetime]:
        """The starts of the window's periods, the current (partial) one last."""
        if self.step == HOUR:
            last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        else:
            last = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return periods(last - self.step * (self.count - 1), last, self.step)

    def labels(self, starts: Sequence[datetime]) -> tuple[list[str], list[str]]:
        """Short axis labels and full table labels of ``starts``."""
        if self.step == HOUR:
            short = [
                f"{s:%d/%m %H}h" if s.hour == 0 or i == 0 else f"{s:%H}h"
                for i, s in enumerate(starts)
            ]
            return short, [f"{s:%Y-%m-%d %H}:00 UTC" for s in starts]
        return [f"{s:%d/%m}" for s in starts], [f"{s:%Y-%m-%d}" for s in starts]


EXPLORER_PERIODS = {
    "24h": Period("24h", "the last 24 hours, per hour", HOUR, 24),
    "7d": Period("7d", "the last 7 days, per hour", HOUR, 24 * 7),
    "30d": Period("30d", "the last 30 days, per day", DAY, 30),
}
DASHBOARD_PERIODS = {
    "24h": EXPLORER_PERIODS["24h"],
    "7d": EXPLORER_PERIODS["7d"],
}


# --- The explorer (public) ------------------------------------------------------------------


@dataclass(frozen=True)
class LogFigures:
    growth: Chart
    kinds: Chart
    appended: int


def log_figures(period: Period) -> LogFigures:
    """The log's growth and its entries per kind over ``period`` (cached for a minute)."""
    return cached(
        f"web:log-figures:{period.name}",
        lambda: _log_figures(period, timezone.now()),
        timeout=PUBLIC_SECONDS,
    )


def _log_figures(period: Period, now: datetime) -> LogFigures:
    starts = period.starts(now)
    short, full = period.labels(starts)
    rows = entries_by_period(since=starts[0], period=period.unit)
    per_kind: dict[str, dict[datetime, float]] = defaultdict(dict)
    last_index: dict[datetime, float] = {}
    first_index: int | None = None
    for row in rows:
        per_kind[row.kind][row.period] = row.entries
        last_index[row.period] = max(last_index.get(row.period, 0), row.last_index + 1)
        if first_index is None or row.first_index < first_index:
            first_index = row.first_index
    # Before the first entry of the window the log had (about) as many entries as that
    # entry's index: the running size starts there.
    sizes = filled(starts, last_index, carry=first_index or 0)
    sizes = tuple(_running_max(sizes))
    kinds = [Series(kind, filled(starts, counts)) for kind, counts in sorted(per_kind.items())]
    growth = line_chart(
        slug="log-growth",
        title="Size of the log",
        description=f"Entries in the log at the end of each {period.unit}, over "
        f"{period.description}; it ends at {number(sizes[-1]) if sizes else 0} entries.",
        labels=short,
        table_labels=full,
        series=[Series("entries", sizes)],
    )
    chart = bar_chart(
        slug="log-kinds",
        title="Entries appended, by kind",
        description=f"Entries appended per {period.unit} over {period.description}, "
        "stacked by kind: " + (", ".join(k.name for k in kinds) or "none") + ".",
        labels=short,
        table_labels=full,
        series=kinds or [Series("entries", tuple(0.0 for _ in starts))],
    )
    return LogFigures(growth=growth, kinds=chart, appended=sum(r.entries for r in rows))


def _running_max(values: Sequence[float]) -> list[float]:
    out, top = [], 0.0
    for value in values:
        top = max(top, value)
        out.append(top)
    return out


# --- The operator dashboard (staff) -----------------------------------------------------------


@dataclass(frozen=True)
class ProviderLookups:
    provider: str
    lookups: int


@dataclass(frozen=True)
class WitnessLag:
    """One witness as the dashboard shows it: how far behind the latest checkpoint it is."""

    name: str
    url: str
    cosigned_size: int | None
    lag_entries: int | None  # the latest checkpoint's size minus the size it last cosigned
    lag_seconds: float | None  # since its last cosignature was kept
    error: str  # the last attempt's failure, "" after a success
    failed_seconds: float | None


@dataclass(frozen=True)
class Witnessing:
    """The witnesses, the policy's quorum, and how long checkpoints have waited for it."""

    witnesses: list[WitnessLag]
    quorum: str
    quorum_required: bool
    latest_size: int
    served_size: int | None
    quorum_lag_seconds: float | None  # the oldest checkpoint not served yet: since signed


def witnessing(now: datetime) -> Witnessing:
    """The witnesses' lag and errors, and the quorum's: a few queries, none without witnesses."""
    config = witness_config()
    if not config.witnesses:
        return Witnessing([], config.policy.quorum, False, 0, None, None)
    backlog = cosigning_backlog()
    urls = {w.name: w.url for w in config.witnesses}
    lags = []
    for name, row in witnesses_state():
        cosigned = row.cosigned_size if row else None
        lags.append(
            WitnessLag(
                name=name,
                url=urls[name],
                cosigned_size=cosigned,
                lag_entries=None if cosigned is None else backlog.latest_size - cosigned,
                lag_seconds=_seconds_since(now, row.cosigned_at if row else None),
                error=row.error if row else "",
                failed_seconds=_seconds_since(now, row.failed_at if row else None),
            )
        )
    return Witnessing(
        witnesses=lags,
        quorum=config.policy.quorum,
        quorum_required=config.quorum_required,
        latest_size=backlog.latest_size,
        served_size=backlog.served_size,
        quorum_lag_seconds=(
            _seconds_since(now, backlog.waiting_since) if config.quorum_required else None
        ),
    )


def _seconds_since(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


@dataclass(frozen=True)
class Dashboard:
    challenges: Chart
    challenges_started: int
    challenges_verified: int
    delivery_failed: int
    countries: list[CountryVolume]
    errors: list[DeliveryError]
    certificates: Chart
    certificates_issued: int
    certificates_revoked: int
    lookups: Chart
    lookups_by_provider: list[ProviderLookups]
    merge_delay: Chart
    merge_delay_worst: float | None
    backlog: Backlog
    backlog_seconds: float | None
    checkpoint_seconds: float | None
    witnessing: Witnessing


def dashboard_figures(period: Period) -> Dashboard:
    """Every figure of the operator dashboard over ``period``: seven queries, and those of
    ``witnessing``."""
    now = timezone.now()
    starts = period.starts(now)
    short, full = period.labels(starts)
    since = starts[0]

    hours = challenge_volume_by_hour(since=since)
    started = {h.hour: float(h.started) for h in hours}
    verified = {h.hour: float(h.verified) for h in hours}
    failed = {h.hour: float(h.delivery_failed) for h in hours}
    challenges = line_chart(
        slug="challenges",
        title="SMS challenges per hour",
        description=f"Challenges started, verified and whose SMS failed, per hour over "
        f"{period.description}.",
        labels=short,
        table_labels=full,
        series=[
            Series("started", filled(starts, started)),
            Series("verified", filled(starts, verified)),
            Series("delivery failed", filled(starts, failed)),
        ],
    )

    entries = entries_by_period(since=since, period="hour")
    issued = {r.period: float(r.entries) for r in entries if r.kind == EntryKind.CERTIFICATE}
    revoked = {r.period: float(r.entries) for r in entries if r.kind == EntryKind.REVOCATION}
    certificates = line_chart(
        slug="certificates",
        title="Certificates issued and revoked per hour",
        description=f"Number certificates issued and revoked per hour over "
        f"{period.description}, counted from the log's certificate and revocation entries.",
        labels=short,
        table_labels=full,
        series=[
            Series("issued", filled(starts, issued)),
            Series("revoked", filled(starts, revoked)),
        ],
    )

    lookup_rows = lookups_by_provider_hour(since=since)
    totals: dict[str, int] = defaultdict(int)
    for row in lookup_rows:
        totals[row.provider] += row.lookups
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    shown = [provider for provider, _ in ranked[:MOST_PROVIDERS]]
    per_provider: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for row in lookup_rows:
        name = row.provider if row.provider in shown else "others"
        per_provider[name][row.hour] += row.lookups
    names = shown + (["others"] if len(ranked) > MOST_PROVIDERS else [])
    lookups = bar_chart(
        slug="lookups",
        title="Lookups per hour, by provider",
        description=f"Number lookups made per hour over {period.description}, stacked by the "
        f"provider that made them (the {MOST_PROVIDERS} busiest, then the others).",
        labels=short,
        table_labels=full,
        series=[Series(name, filled(starts, per_provider[name])) for name in names]
        or [Series("lookups", tuple(0.0 for _ in starts))],
    )

    delays = merge_delay_by_hour(since=since)
    merge_delay = line_chart(
        slug="merge-delay",
        title="Merge delay (seconds)",
        description=f"Seconds from an entry's append to the checkpoint that covers it, mean "
        f"and worst per hour of signing, over {period.description}. The target is 1 s; "
        "it must never pass 10 s.",
        labels=short,
        table_labels=full,
        series=[
            Series("mean", filled(starts, {d.hour: round(d.mean_seconds, 3) for d in delays})),
            Series("worst", filled(starts, {d.hour: round(d.max_seconds, 3) for d in delays})),
        ],
        whole=False,
    )

    backlog = log_backlog()
    return Dashboard(
        challenges=challenges,
        challenges_started=sum(h.started for h in hours),
        challenges_verified=sum(h.verified for h in hours),
        delivery_failed=sum(h.delivery_failed for h in hours),
        countries=challenge_volume_by_country(since=since),
        errors=delivery_errors(since=since),
        certificates=certificates,
        certificates_issued=int(sum(issued.values())),
        certificates_revoked=int(sum(revoked.values())),
        lookups=lookups,
        lookups_by_provider=[ProviderLookups(p, n) for p, n in ranked],
        merge_delay=merge_delay,
        merge_delay_worst=max((d.max_seconds for d in delays), default=None),
        backlog=backlog,
        backlog_seconds=(now - backlog.oldest).total_seconds() if backlog.oldest else None,
        checkpoint_seconds=(
            (now - backlog.checkpoint_at).total_seconds() if backlog.checkpoint_at else None
        ),
        witnessing=witnessing(now),
    )
