"""Cases, contacts, messages, contact events; the contact lifecycle (states.py)."""
