"""The directory: providers (app vendors) and their API keys, handler records and lookups."""
