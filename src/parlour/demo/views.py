"""The demo article page and the landing page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import URL
from starlette.responses import Response

from parlour.comments import reading
from parlour.comments.reading import PageShape
from parlour.comments.schemas import CommentPublic, Sort
from parlour.demo.seed import DEMO_SLUG, load_content
from parlour.errors import NotFound
from parlour.sites.service import site_settings
from parlour.sites.urls import normalise_story_url
from parlour.state import State

# Deep enough to show the whole sample discussion on the server-rendered page.
DEMO_PAGE = PageShape(limit=100, replies_preview=20, preview_depth=8)


def article_page(request: Request, state: State) -> Response:
    """The demo article with its discussion; only in demo mode."""
    if not state.settings.demo:
        raise NotFound("The demo page is served only by `parlour demo`.")
    article = load_content()["article"]
    url = normalise_story_url(article["url"])
    with state.db.read() as session:
        site, story = reading.find_site_and_story(session=session, site_slug=DEMO_SLUG, url=url)
        if site is None or story is None:
            raise NotFound("The demo site has not been seeded.")
        top = reading.read_top_level(session=session, story=story, sort=Sort.OLDEST, cursor=None, shape=DEMO_PAGE)
        comments = top.featured + top.comments  # featured first, as the widget pins them
        prompt, total = site_settings(site).prompt, story.comment_count
    context = {
        "article": article,
        "site_slug": DEMO_SLUG,
        # The server-rendered discussion stays under the widget for readers without JavaScript.
        "embed_script_url": request.app.url_path_for("embed_js") if "embed.js" in state.widget.files else None,
        "thread": [_as_template(c) for c in comments],
        "total": total,
        "prompt": prompt,
        "api_base": "/api/v1",
        # Relative links only: nothing on the page comes from the request's Host header.
        "thread_api_url": str(
            URL(request.app.url_path_for("get_thread")).include_query_params(site=DEMO_SLUG, url=url)
        ),
        "css_url": request.app.url_path_for("static", path="demo/article.css"),
    }
    return state.templates.TemplateResponse(request, "demo/article.html", context)


def home(request: Request, state: State) -> Response:
    """A landing page that says what this server is and where to go."""
    return state.templates.TemplateResponse(request, "home.html", {"demo": state.settings.demo})


def _as_template(comment: CommentPublic) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author_name": comment.author.name if comment.author else "",
        "html": comment.html,
        "created_at": comment.created_at,
        "created_iso": comment.created_at.isoformat(),
        "status": comment.status.value,
        "reaction_count": comment.reaction_count,
        "replies": [_as_template(r) for r in comment.replies],
    }
