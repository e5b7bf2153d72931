"""``rs witness keygen`` and ``rs witness serve``: run a transparency log witness
(c2sp.org/tlog-witness v1, ``resolution.client.witness``) that cosigns the checkpoints of the
logs it is told to trust, and only checkpoints consistent with those it cosigned before.

A witness needs no service, API key or config folder: a private key file, a state file, and
the verifier keys of the logs it watches.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from resolution.cli import arguments
from resolution.cli.exits import EXIT_OK, UsageError
from resolution.cli.output import info, show, show_json
from resolution.client.witness import (
    WitnessStateError,
    keygen,
    load_signer,
    witness_server,
)
from resolution.protocol.cosignature import CosignatureError


def add_parser(commands: arguments.Commands, service: argparse.ArgumentParser) -> None:
    witness = commands.add_parser(
        "witness",
        help="run a witness that cosigns logs' checkpoints (C2SP tlog-witness)",
        description=(
            "Run a transparency log witness: it cosigns a log's checkpoint only if it is "
            "consistent with every checkpoint of that log it cosigned before."
        ),
    )
    witness_commands = witness.add_subparsers(
        dest="witness_command", metavar="WITNESS_COMMAND", required=True
    )
    make = witness_commands.add_parser(
        "keygen",
        help="make the witness's Ed25519 key and print its verifier key",
        description=(
            "Write a new Ed25519 cosigner private key named NAME to FILE (mode 0600; an "
            "existing file is never overwritten) and print its verifier key "
            "NAME+<key ID>+<base64(0x04 || public key)>, for the logs' and clients' policies."
        ),
        epilog=arguments.epilog(
            (
                (
                    "rs witness keygen --name witness.example.org/w1 --key /etc/rs/witness.key",
                    "make the key once; give the verifier key printed to the logs you witness",
                ),
                (
                    "rs witness keygen --name witness.example.org/w1 --key w1.key --json",
                    "the same, printed as JSON",
                ),
            )
        ),
        formatter_class=arguments.HelpFormatter,
    )
    make.add_argument(
        "--name",
        required=True,
        metavar="NAME",
        help="the witness's name, best a URL without its scheme, e.g. witness.example.org/w1",
    )
    make.add_argument("--key", required=True, type=Path, metavar="FILE", help="where to write it")
    arguments.add_json(make)
    make.set_defaults(run=run, needs_service=False)

    serve = witness_commands.add_parser(
        "serve",
        help="answer POST /add-checkpoint with cosignatures",
        description=(
            "Serve POST /add-checkpoint (C2SP tlog-witness v1) on ADDR. The checkpoints of each "
            "log given by --log (its note verifier key; its name is the log's origin) are "
            "cosigned with the key in FILE when they are consistent with the last one cosigned, "
            "which is kept in the state file PATH: keep it, and back it up never older than it "
            "is, since a witness that loses it can be made to cosign a fork."
        ),
        epilog=arguments.epilog(
            (
                (
                    "rs witness serve --key /etc/rs/witness.key --listen 0.0.0.0:7380 "
                    "--state /var/lib/rs-witness/state.json --log @rs.example.net.vkey",
                    "cosign rs.example.net's log; keep the state file safe",
                ),
                (
                    "rs witness serve --key w1.key --listen 127.0.0.1:0 --state w1.json "
                    "--log @log.vkey --json",
                    "any free port; its address on standard output as JSON",
                ),
            )
        ),
        formatter_class=arguments.HelpFormatter,
    )
    serve.add_argument("--key", required=True, type=Path, metavar="FILE", help="the private key")
    serve.add_argument(
        "--listen",
        required=True,
        type=arguments.listen_address,
        metavar="ADDR",
        help="HOST:PORT (port 0: any)",
    )
    serve.add_argument(
        "--state", required=True, type=Path, metavar="PATH", help="the witness's state file"
    )
    serve.add_argument(
        "--log",
        dest="logs",
        required=True,
        action="append",
        type=arguments.verifier,
        metavar="VKEY",
        help="a log's verifier key <origin>+<id>+<key>, or @FILE; repeat for more logs",
    )
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    arguments.add_json(serve)
    serve.set_defaults(run=run, needs_service=False)


def run(args: argparse.Namespace) -> int:
    if args.witness_command == "keygen":
        return _keygen(args)
    return _serve(args)


def _keygen(args: argparse.Namespace) -> int:
    try:
        signer = keygen(args.name, args.key)
    except FileExistsError:
        raise UsageError(f"{args.key} exists: a witness key is never overwritten") from None
    except CosignatureError as exc:
        raise UsageError(f"cannot make a key named {args.name!r}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.key}: {exc.strerror or exc}") from None
    if args.json:
        show_json({"name": args.name, "key": str(args.key), "verifier_key": signer.verifier.vkey})
    else:
        show(signer.verifier.vkey)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    try:
        signer = load_signer(args.key)
    except (OSError, UnicodeDecodeError, CosignatureError) as exc:
        raise UsageError(f"cannot read the witness key {args.key}: {exc}") from None
    try:
        server = witness_server(signer, args.logs, args.state, args.listen, verbose=args.verbose)
    except WitnessStateError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever, which runs in this thread: ask from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    origins = ", ".join(sorted({log.name for log in args.logs}))
    info(f"witness {signer.verifier.vkey}")
    info(f"cosigning {origins}; state {args.state}")
    # The address on standard output, once bound: what a script (or a test) waits for.
    if args.json:
        show_json(
            {
                "listening": server.url,
                "witness": signer.verifier.vkey,
                "logs": sorted({log.name for log in args.logs}),
            },
            indent=None,
        )
    else:
        show(f"listening on {server.url}")
    sys.stdout.flush()
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK
