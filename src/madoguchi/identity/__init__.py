"""Users, roles and permissions, teams, auth (sessions, API tokens), audit log."""
