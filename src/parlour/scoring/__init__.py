"""Scoring comments for moderation: the Scorer protocol and its implementations."""
