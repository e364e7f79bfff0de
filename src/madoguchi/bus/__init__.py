"""The event bus: in-process by default, Redis across instances."""
