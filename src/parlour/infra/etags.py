"""Conditional requests: whether a client's If-None-Match names the representation it would get."""

from __future__ import annotations


def none_match(header: str | None, etag: str, *, exists: bool = True) -> bool:
    """Whether If-None-Match names this representation: `*`, or the tag by weak comparison (RFC 9110, 13.1.2).

    `exists`: whether the representation is known to exist; `*` ("any current representation") needs it, so a
    request that would be refused is never answered 304.
    """
    if header is None:
        return False
    tags = {tag.strip() for tag in header.split(",")}
    # Weak comparison: W/"x" and "x" are the same tag; a cache that revalidates may have weakened ours.
    return ("*" in tags and exists) or _opaque(etag) in {_opaque(tag) for tag in tags}


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")
