"""The email channel: SMTP and IMAP in, a durable outbox out, MIME parsing, threading, templates."""
