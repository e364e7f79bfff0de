"""Agent profile, capacity per channel, state (states.py) and state spans."""
