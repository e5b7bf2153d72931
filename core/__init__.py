"""Cross-cutting parts: problem responses, API-key auth, throttles, logging, health, tasks."""
