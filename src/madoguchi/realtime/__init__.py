"""WebSocket hub: per-client event streams, resume from last_event_id, fan-out by audience."""
