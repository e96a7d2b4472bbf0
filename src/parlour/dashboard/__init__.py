"""The moderation dashboard at /admin: server-rendered pages and htmx fragments over the moderation services."""
