"""Proof latency from a 1,000,000-entry log: inclusion and consistency, p50/p99.

    .venv/bin/python bench/proofs.py [--size 1000000] [--samples 3000]

Builds the log once (database ``rs_bench_log``, reused by later runs and by bench/audit.py),
then times proofs for random leaves at the latest tree size: in-process through the
selector (target p50 <= 2 ms), and through the whole HTTP stack with Django's test client.
Every proof is verified, outside the timing, against the checkpoint root.
"""

from __future__ import annotations

import argparse
import base64
import random
import time

from common import ensure_log, summary_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    ensure_log("rs_bench_log", args.size)

    from django.test import Client

    from resolution.protocol.merkle import verify_consistency, verify_inclusion
    from transparency.models import Checkpoint, Entry
    from transparency.selectors import consistency_proof, inclusion_proof

    latest = Checkpoint.objects.latest()
    size, root = latest.size, bytes(latest.root_hash)
    rng = random.Random(7)
    indices = [rng.randrange(size) for _ in range(args.samples)]
    leaves = dict(Entry.objects.filter(index__in=indices[:200]).values_list("index", "leaf_hash"))

    inclusion = []
    for index in indices:
        started = time.perf_counter()
        _, proof = inclusion_proof(index=index, size=size)
        inclusion.append(time.perf_counter() - started)
        if index in leaves:
            verify_inclusion(bytes(leaves[index]), index, size, proof, root)
    print(f"inclusion proof, in-process, tree of {size:,}: {summary_ms(inclusion)}")

    older = Checkpoint.objects.filter(size__lt=size).order_by("-size").first()
    olds = [rng.randrange(1, size) for _ in range(args.samples // 3)]
    consistency = []
    for old in olds:
        started = time.perf_counter()
        _, proof = consistency_proof(old=old, new=size)
        consistency.append(time.perf_counter() - started)
    if older is not None:
        _, proof = consistency_proof(old=older.size, new=size)
        verify_consistency(older.size, size, bytes(older.root_hash), root, proof)
    print(f"consistency proof, in-process: {summary_ms(consistency)}")

    client = Client(HTTP_HOST="127.0.0.1")
    http = []
    for index in indices[: args.samples // 3]:
        started = time.perf_counter()
        response = client.get("/v1/log/proofs/inclusion", {"index": index, "size": size})
        http.append(time.perf_counter() - started)
        assert response.status_code == 200
    body = response.json()
    verify_inclusion(
        base64.b64decode(body["leaf_hash"]),
        body["index"],
        size,
        [base64.b64decode(h) for h in body["proof"]],
        root,
    )
    print(f"inclusion proof, full HTTP stack (test client): {summary_ms(http)}")


if __name__ == "__main__":
    main()
