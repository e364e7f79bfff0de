"""Database infrastructure: declarative base, engine, unit of work, leases, migrations."""
