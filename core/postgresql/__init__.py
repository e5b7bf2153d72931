"""Django's PostgreSQL backend with an answer timeout (core.database_timeouts)."""
