"""Accounts: staff users, passwords, and (later) sessions and SSO."""
