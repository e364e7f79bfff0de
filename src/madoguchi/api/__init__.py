"""REST API v1: includes each domain's routes.py; errors and dependency aliases live here."""
