"""Moderation: the decision pipeline for new comments, and (later) queues and actions."""
