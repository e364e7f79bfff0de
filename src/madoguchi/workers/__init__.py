"""One small idempotent worker per job kind."""
