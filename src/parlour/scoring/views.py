"""The Perspective-compatible endpoint: POST /v1alpha1/comments:analyze?key=KEY (the site's analyze-only key)."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from parlour.scoring import perspective
from parlour.scoring.perspective import PerspectiveError
from parlour.sites.service import site_for_analyze_key, site_for_api_key
from parlour.state import AppState, State

KEY_HELP = "The site's analyze-only key (`parlour site analyze-key`), or its staff API key."


async def analyze_comment(
    request: Request, state: State, key: str | None = Query(None, description=KEY_HELP)
) -> Response:
    """Perspective's AnalyzeComment: the same request and response JSON, scored by Parlour's local model."""
    api_key = key or request.headers.get("x-goog-api-key")
    body = await request.body()
    try:
        answer = await run_in_threadpool(_analyze, state, api_key, body)
    except PerspectiveError as error:
        return error.response()
    return JSONResponse(answer)


def _analyze(state: AppState, api_key: str | None, body: bytes) -> dict[str, Any]:
    if not api_key:
        raise PerspectiveError(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
    with state.db.read() as session:
        site = site_for_analyze_key(
            session=session, secret_key=state.settings.secret_key, key=api_key
        ) or site_for_api_key(session=session, api_key=api_key)
        if site is None:
            raise perspective.invalid("API key not valid. Please pass a valid API key.")
    analysis = perspective.analyze(scorer=state.scorer, request=perspective.parse(body))
    return perspective.response_body(analysis)
