"""The demo: a sample site, an article written for the project, and a heated discussion under it."""
