"""Integrator throughput: entries hashed into tiles and checkpointed per second.

    .venv/bin/python bench/integrator.py [--entries 200000] [--rounds 3]

Each round appends ``--entries`` new entries to the log (written with COPY, so only the
integrator is measured), then times ``log_integrate()`` catching up on all of them:
reading leaf hashes, building tiles, the consistency check against the last checkpoint,
signing and storing. Target: at least 20,000 entries/s.
"""

from __future__ import annotations

import argparse
import statistics

from common import Timer, copy_entries, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django("rs_bench_integrator", fresh=True)
    from transparency.services import log_integrate

    rates = []
    for round_ in range(args.rounds):
        copy_entries(round_ * args.entries, args.entries)
        with Timer() as timer:
            checkpoint = log_integrate()
        assert checkpoint is not None and checkpoint.size == (round_ + 1) * args.entries
        rates.append(args.entries / timer.seconds)
        print(
            f"round {round_ + 1}: {args.entries:,} entries in {timer.seconds:.2f} s "
            f"= {rates[-1]:,.0f} entries/s (tree size {checkpoint.size:,})"
        )
    print(
        f"integrator: median {statistics.median(rates):,.0f} entries/s over {args.rounds} rounds "
        f"(target >= 20,000)"
    )


if __name__ == "__main__":
    main()
