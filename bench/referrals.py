"""Lookups across two services: through a referral, against a direct lookup, and with the map.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/referrals.py \
        [--lookups 200] [--rounds 5]

Starts the two services of the integration suite (tests/integration/federation_pair.py: two
gunicorn processes over HTTPS on loopback, two databases on DATABASE_URL's server, the
machine's Redis for their caches), registers and publishes one number at B with ``rs``, then,
each round, times ``--lookups`` verified lookups of it, one after another, each way:

- **direct**: the SDK asks B, the service that serves the number (``PinnedService.lookup``);
- **referral**: the SDK asks A, which refers it to B; the referral's advertisement is checked
  against B's pinned root and B is asked (``Services.lookup`` without a kept map);
- **map**: the SDK holds A's map (``rs map sync``) and goes to B at once (``Services.lookup``).

Every answer is verified (VRF label, checkpoint signature, commitments, inclusion proofs) as a
caller would. Prints the median latency of each way per round, and the ratios to direct.
Then the size of a map of 100 services and 10,000 ranges, signed as ``GET /v1/map`` signs it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import ROOT, percentile

from resolution.client.api import Client
from resolution.client.federation import Services
from resolution.client.store import Store
from resolution.client.verify import PinnedService
from resolution.protocol.advertisements import advertisement_sign
from resolution.protocol.servicemap import map_sign, map_verify
from resolution.protocol.tnauthlist import encode_tn_auth_list
from tests.integration.federation_pair import ResolutionService, pair_started
from tests.pki import Pki, p256

NUMBER = "+12015550123"  # in B's block
# Far above what the benchmark asks, so that no throttle answers 429.
UNTHROTTLED = {
    "RS_THROTTLE_LOOKUP": "1000000/minute",
    "RS_THROTTLE_API_KEY": "1000000/minute",
    "RS_THROTTLE_CLIENT_IP": "1000000/minute",
    "RS_THROTTLE_CA_READ": "100000/minute",
    # As deployed: the peers' claims read at most every 30 s per process.
    "RS_CLAIMS_CACHE_SECONDS": "30",
}


def rs(
    folder: Path, home: ResolutionService, key: str, ca_file: Path, *args: str
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "resolution.cli", *args, "--json"],
        env={
            **os.environ,
            "RS_URL": home.url,
            "RS_API_KEY": key,
            "RS_CONFIG_DIR": str(folder),
            "SSL_CERT_FILE": str(ca_file),
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"rs {' '.join(args)}: {done.stderr}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def timed(lookup: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        lookup()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def map_size(services: int, ranges: int) -> tuple[int, int]:
    """The bytes of a signed map of ``services`` services holding ``ranges`` ranges in all
    (each service its own root and range certificate), and gzipped."""
    now = datetime.now(UTC).replace(microsecond=0)
    per_service = ranges // services
    entries = []
    for position in range(services):
        pki = Pki(label=f"RS {position}")
        url = f"https://rs{position}.example.net"
        first = 33000000000 + position * per_service * 10000
        blocks = {f"1-{first + i * 10000}-10000": url for i in range(per_service)}
        key = p256()
        leaf = pki.leaf(  # as a range certificate is: issued by the root itself
            key.public_key(),
            tn_auth_list=encode_tn_auth_list([], ((str(first), per_service * 10000),)),
            issuer=pki.root,
            issuer_key=pki.root_key,
        )
        token = advertisement_sign(blocks, key, [leaf], issued_at=now)
        entries.append((url, pki.root, token, None))  # every block accepted
    signer = Pki(label="Signer")
    key = p256()
    leaf = signer.leaf(key.public_key(), issuer=signer.root, issuer_key=signer.root_key)
    token = map_sign(entries, key, [leaf], url=entries[0][0], issued_at=now)
    assert len(map_verify(token, [signer.root]).services) == services
    return len(token), len(gzip.compress(token.encode()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL server's URL (its databases are made)")

    folder = Path(tempfile.mkdtemp(prefix="rs-bench-referrals-"))
    try:
        (folder / "pair").mkdir()
        with pair_started(folder / "pair", env=UNTHROTTLED) as pair:
            a, b = pair.a, pair.b
            ca_file = pair.tls.ca_file
            holder = folder / "holder"
            started = rs(holder, b, b.api_key, ca_file, "register", NUMBER)
            code = b.sms_code(started["challenge"])
            rs(holder, b, b.api_key, ca_file, "register", NUMBER, "--code", code)
            rs(holder, b, b.api_key, ca_file, "publish", NUMBER, "messaging", "sip:b@b.example")
            key_at_b = b.manage("provider_create", "caller", "--name", "Caller").stdout.strip()
            time.sleep(1.5)  # the publish is in a checkpoint: every answer carries its proof

            os.environ["SSL_CERT_FILE"] = str(ca_file)
            # Two callers, each with its own config folder: one never keeps the map.
            stores = {way: Store(folder / way) for way in ("referral", "map")}
            for store in stores.values():
                store.api_key_save(b.url, key_at_b)

            def connect(url: str, api_key: str) -> Client:
                return Client(url, api_key)

            def services(store: Store) -> Services:
                return Services(
                    PinnedService(Client(a.url, a.api_key), store), store, connect=connect
                )

            direct = PinnedService(Client(b.url, key_at_b), stores["map"])
            referring = services(stores["referral"])
            found = referring.lookup(NUMBER)  # pins B's root through A's map, and keeps it
            assert found.url == b.url and found.lookup.handlers, found
            shutil.rmtree(stores["referral"].root / "maps")  # this caller has no map
            assert referring.lookup(NUMBER).referred_by == a.url
            mapped = services(stores["map"])
            mapped.map_sync()
            assert mapped.lookup(NUMBER).via_map

            ways: dict[str, Callable[[], object]] = {
                "direct": lambda: direct.lookup(NUMBER),
                "referral": lambda: referring.lookup(NUMBER),
                "map": lambda: mapped.lookup(NUMBER),
            }
            for way in ways.values():  # warm connections and caches
                timed(way, 20)
            medians: dict[str, list[float]] = {way: [] for way in ways}
            p99: dict[str, list[float]] = {way: [] for way in ways}
            print(f"{args.lookups} verified lookups per way per round (ms per lookup)")
            for number in range(1, args.rounds + 1):
                line = []
                for name, way in ways.items():
                    samples = timed(way, args.lookups)
                    medians[name].append(statistics.median(samples))
                    p99[name].append(percentile(samples, 0.99))
                    line.append(f"{name} {medians[name][-1]:.2f}")
                ratios = (
                    f"referral/direct {medians['referral'][-1] / medians['direct'][-1]:.2f}, "
                    f"map/direct {medians['map'][-1] / medians['direct'][-1]:.2f}"
                )
                print(f"round {number}: {', '.join(line)}; {ratios}")
            print("median of rounds (p99 median of rounds):")
            for name in ways:
                print(
                    f"  {name:<9} {statistics.median(medians[name]):.2f} ms "
                    f"(p99 {statistics.median(p99[name]):.2f} ms)"
                )
            direct_median = statistics.median(medians["direct"])
            print(
                f"  referral/direct {statistics.median(medians['referral']) / direct_median:.2f}, "
                f"map/direct {statistics.median(medians['map']) / direct_median:.2f}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    raw, packed = map_size(100, 10000)
    print(f"map of 100 services and 10,000 ranges: {raw:,} bytes signed, {packed:,} gzipped")


if __name__ == "__main__":
    main()
