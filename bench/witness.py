"""A witness's add-checkpoint throughput: `rs witness serve` on loopback, cosigning growing logs.

    .venv/bin/python bench/witness.py [--logs 8] [--requests 400] [--rounds 3]

Starts the real `rs witness serve` (its state in a temporary folder), then, each round, one
client thread per log (keep-alive connections) submits that log's checkpoints one after
another, each one entry larger than the last with its consistency proof, so every request
checks a signature and a proof, writes the state durably (fsync of the file and the folder)
and cosigns.  The bodies are built before the clock starts.  Prints requests/s per round, the
median, and the latency percentiles; every answer is checked to be 200 and, outside the
timing, its cosignature verified.  Run once with --logs 1 for a single log's sequential rate.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from common import ROOT, percentile

from resolution.client.witness import keygen
from resolution.protocol.checkpoint import Checkpoint, sign_checkpoint
from resolution.protocol.cosignature import add_cosignatures, open_cosigned_checkpoint
from resolution.protocol.merkle import NodeId, consistency_proof, leaf_hash, node_hash
from resolution.protocol.note import Signer, generate_signer, verifier_key
from resolution.protocol.witness import AddCheckpoint, format_add_checkpoint


def log_requests(signer: Signer, count: int) -> list[tuple[bytes, bytes]]:
    """(add-checkpoint body, signed checkpoint) for sizes 1..count, each from the size before."""
    levels = [[leaf_hash(f"entry {i}".encode()) for i in range(count)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def node(ids: Sequence[NodeId]) -> list[bytes]:
        return [levels[level][index] for level, index in ids]

    def root(size: int) -> bytes:
        # The right edge folds the perfect subtrees of [0, size), largest first.
        hashes, start = [], 0
        for level in reversed(range(size.bit_length())):
            if size & (1 << level):
                hashes.append(levels[level][start >> level])
                start += 1 << level
        value = hashes.pop()
        while hashes:
            value = node_hash(hashes.pop(), value)
        return value

    out = []
    for size in range(1, count + 1):
        note = sign_checkpoint(Checkpoint(signer.name, size, root(size)), signer)
        proof = tuple(consistency_proof(size - 1, size, node)) if size > 1 else ()
        out.append((format_add_checkpoint(AddCheckpoint(size - 1, proof, note)), note))
    return out


def drive(
    address: tuple[str, int], bodies: list[tuple[bytes, bytes]], latencies: list[float]
) -> list[bytes]:
    connection = http.client.HTTPConnection(*address, timeout=30)
    answers = []
    for body, _ in bodies:
        started = time.perf_counter()
        connection.request("POST", "/add-checkpoint", body)
        response = connection.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"witness answered {response.status}: {answer!r}")
        answers.append(answer)
    connection.close()
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=8, help="logs, one client thread each")
    parser.add_argument("--requests", type=int, default=400, help="checkpoints per log a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="rs-bench-witness-"))
    witness_key = keygen("witness.bench.test", folder / "witness.key")
    logs = [
        [generate_signer(f"bench.test/r{r}/log{i}") for i in range(args.logs)]
        for r in range(args.rounds)
    ]
    print(f"building {args.rounds * args.logs * args.requests} requests ...", file=sys.stderr)
    bodies = [[log_requests(log, args.requests) for log in round_logs] for round_logs in logs]

    command = [sys.executable, "-m", "resolution.cli", "witness", "serve"]
    command += ["--key", str(folder / "witness.key"), "--state", str(folder / "state.json")]
    command += ["--listen", "127.0.0.1:0"]
    for round_logs in logs:
        for log in round_logs:
            command += ["--log", verifier_key(log.name, log.public_key)]
    witness = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert witness.stdout is not None
        address = ("127.0.0.1", int(witness.stdout.readline().strip().rsplit(":", 1)[1]))
        rates, latencies = [], []
        for r in range(args.rounds):
            answers: list[list[bytes]] = [[] for _ in range(args.logs)]
            round_latencies: list[list[float]] = [[] for _ in range(args.logs)]

            def run(i: int, r: int = r) -> None:
                answers[i] = drive(address, bodies[r][i], round_latencies[i])  # noqa: B023

            threads = [threading.Thread(target=run, args=(i,)) for i in range(args.logs)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            total = args.logs * args.requests
            rates.append(total / elapsed)
            latencies += [x for xs in round_latencies for x in xs]
            print(f"round {r + 1}: {total} add-checkpoint in {elapsed:.2f} s, {rates[-1]:,.0f}/s")
            # Outside the timing: every answer is a valid cosignature of what was sent.
            for i, log in enumerate(logs[r]):
                for (_, note), answer in zip(bodies[r][i], answers[i], strict=True):
                    cosigned = add_cosignatures(note, [answer.decode()])
                    opened = open_cosigned_checkpoint(
                        cosigned, log.verifier, log.name, [witness_key.verifier]
                    )
                    assert len(opened.cosignatures) == 1
        print(
            f"median {statistics.median(rates):,.0f} add-checkpoint/s over {args.rounds} rounds "
            f"({args.logs} logs, one client thread each); latency "
            f"p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms"
        )
    finally:
        witness.terminate()
        witness.wait()


if __name__ == "__main__":
    main()
