"""CRM profile, identities per channel, merge, timeline."""
