"""Real witnesses for the log's tests: ``resolution.client.witness`` servers on 127.0.0.1, each
in a thread of the test process, trusting the log's key; and the settings that name them."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolution.client.witness import Witness, WitnessServer, WitnessState
from resolution.protocol.cosignature import CosignatureSigner, generate_cosigner
from resolution.protocol.note import parse_verifier_key
from transparency.keys import log_keys
from transparency.selectors import cache_clear


@dataclass
class LocalWitness:
    """A witness serving on 127.0.0.1 until ``stop``; ``start`` again serves the same key and
    state on a new port (update the settings: ``witnesses_configure``)."""

    name: str
    signer: CosignatureSigner
    state: Path
    server: WitnessServer | None = None
    url: str = ""
    witness_class: type[Witness] = Witness

    def start(self) -> LocalWitness:
        log = parse_verifier_key(log_keys().note_verifier_key)
        witness = self.witness_class(self.signer, [log], WitnessState(self.state))
        self.server = WitnessServer(("127.0.0.1", 0), witness)
        self.url = self.server.url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey

    def holds(self) -> int:
        """The size this witness holds for the log (0: none)."""
        head = WitnessState(self.state).read().get(log_keys().signer.name)
        return head.size if head else 0


def local_witness(
    tmp_path: Path, name: str, witness_class: type[Witness] = Witness
) -> LocalWitness:
    signer = generate_cosigner(f"{name}.example.test")
    return LocalWitness(name, signer, tmp_path / f"{name}.json", witness_class=witness_class)


def witnesses_configure(settings: Any, witnesses: Iterable[LocalWitness], policy: str = "") -> None:
    """Name ``witnesses`` in RS_WITNESSES (loopback permitted), with ``policy``."""
    settings.RS_WITNESSES = "\n".join(f"{w.name} {w.vkey} {w.url}" for w in witnesses)
    settings.RS_WITNESS_POLICY = policy
    settings.RS_WITNESS_PERMITTED_NETWORKS = ["127.0.0.0/8"]
    cache_clear()
