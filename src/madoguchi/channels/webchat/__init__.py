"""Web chat: the embeddable widget's sessions, signed identities and conversations."""
