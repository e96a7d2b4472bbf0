"""Conditional requests: whether a client's If-None-Match names the representation it would get."""

from __future__ import annotations


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names this representation: `*`, or the tag by weak comparison (RFC 9110, 13.1.2).

    Call it only for a resource that exists: `*` means "any current representation".
    """
    if header is None:
        return False
    tags = {tag.strip() for tag in header.split(",")}
    # Weak comparison: W/"x" and "x" are the same tag; a cache that revalidates may have weakened ours.
    return "*" in tags or _opaque(etag) in {_opaque(tag) for tag in tags}


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")
