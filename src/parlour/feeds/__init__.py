"""Atom feeds of the latest published comments, per site and per story."""
