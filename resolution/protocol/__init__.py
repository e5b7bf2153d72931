"""The protocol: wire formats and cryptography, shared by the server, the SDK and the CLI.

Pure functions and value types only: no HTTP, no files, no Django (``.importlinter`` checks it),
so that each format can be read, tested against its vectors and reused alone.

- ``canonical``: canonical JSON (entries, PASSporTs, signed requests)
- ``merkle``, ``tiles``: the RFC 6962/9162 tree, proofs and C2SP tlog-tiles
- ``note``, ``checkpoint``: C2SP signed notes and tlog-checkpoint
- ``cosignature``, ``policy``, ``witness``, ``witnessed``: witness cosignatures
  (tlog-cosignature), witness policies, the tlog-witness wire format, and checkpoints checked
  against a policy's quorum
- ``vrf``: RFC 9381 ECVRF labels of numbers
- ``tnauthlist``, ``certificates``: the RFC 8226 number-certificate profile and its checks
- ``advertisements``: which resolution service serves which ranges (signed, DESIGN §7.4)
- ``jose``, ``passport``: compact JWS (ES256) and RFC 8225 PASSporTs
- ``lookup``: offline verification of a directory lookup answer
- ``directory``: the services vocabulary and the rules for handler URIs
- ``numbers``: the E.164 rule
"""
