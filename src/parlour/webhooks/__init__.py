"""Webhooks: signed JSON deliveries of comment and author events to URLs that sites register."""
