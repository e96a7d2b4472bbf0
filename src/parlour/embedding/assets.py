"""The embed widget's files: stable loader URLs (/embed.js, /count.js) and a content-hashed folder cached forever."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.responses import Response

from parlour.errors import NotFound

ASSETS_PLACEHOLDER = "__PARLOUR_ASSETS__"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
LOADER_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"


class WidgetAssets:
    """Reads the widget folder once; its content hash names the folder, so a new release never meets an old cache."""

    def __init__(self, folder: Path, public_base_url: str) -> None:
        self.folder = folder.resolve()
        self.files = {
            path.relative_to(self.folder).as_posix(): path.read_bytes()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file() and path.suffix in CONTENT_TYPES
        }
        digest = hashlib.sha256()
        for name, content in self.files.items():
            digest.update(name.encode() + b"\0" + content + b"\0")
        self.version = digest.hexdigest()[:16]
        self.base = f"{public_base_url}/widget/{self.version}/"

    def loader(self, name: str) -> Response:
        """/embed.js or /count.js: short cache, the hashed folder's URL written in."""
        content = self.files.get(name)
        if content is None:
            raise NotFound(f"No widget file {name}.")
        body = content.replace(ASSETS_PLACEHOLDER.encode(), self.base.encode())
        return self._response(name, body, cache=LOADER_CACHE)

    def asset(self, version: str, path: str) -> Response:
        """A file of the hashed folder. An older version's URL gets today's file with a short cache."""
        content = self.files.get(path)
        if content is None:
            raise NotFound("No such widget file.")
        return self._response(path, content, cache=IMMUTABLE_CACHE if version == self.version else LOADER_CACHE)

    def _response(self, name: str, body: bytes, *, cache: str) -> Response:
        headers = {
            "Cache-Control": cache,
            "ETag": f'"{self.version}"',
            # Fetched cross-origin from the article's page (catalogs via fetch); public, without credentials.
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return Response(body, media_type=CONTENT_TYPES[Path(name).suffix], headers=headers)
