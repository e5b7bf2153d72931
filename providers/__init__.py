"""Providers (app vendors), their API keys, and API-key authentication."""
