"""E-mail notifications: opt-in state, the durable outbox, the messages, and the background sender."""
