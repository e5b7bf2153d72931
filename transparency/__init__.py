"""The transparency log: an append-only Merkle tree of entries, C2SP tiles and checkpoints."""
