"""The one flow engine for bots and IVR: definitions, validation, business hours, the pure interpreter."""
