"""The certificate authority: SMS challenges, number certificates (RFC 8226), CRL, repository."""
