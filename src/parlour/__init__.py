"""Parlour: a self-hosted commenting platform for news sites."""

__version__ = "0.1.0"
