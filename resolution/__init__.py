"""Wire formats and cryptography of the resolution service, shared by the server and its clients."""

__version__ = "0.1.0"
