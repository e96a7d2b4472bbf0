"""Migration in and out: importers (Disqus, WordPress, Isso), export and restore (JSON Lines)."""
