"""The FAQ bot: runs an entry point's flow on a live chat, answers from the knowledge base, hands off."""
