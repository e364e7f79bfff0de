"""The ACD: queues, the pure Router, offers (exactly-once, accept timeout, re-offer), transfers."""
