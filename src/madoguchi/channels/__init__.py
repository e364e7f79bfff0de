"""Channel adapters behind one interface, a registry, and one sub-package per channel kind."""
