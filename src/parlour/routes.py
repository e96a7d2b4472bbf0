"""Every URL Parlour serves, in one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from parlour import health
from parlour.comments import views as comments
from parlour.comments.schemas import (
    CommentCreated,
    CommentOwn,
    CommentWithAncestors,
    Counts,
    DraftChecked,
    ReactionState,
    RepliesPage,
    ReportCreated,
    ThreadPage,
)
from parlour.dashboard import live as dashboard_live
from parlour.dashboard import login as dashboard_login
from parlour.dashboard import people as dashboard_people
from parlour.dashboard import queues as dashboard_queues
from parlour.dashboard import records as dashboard_records
from parlour.demo import views as demo
from parlour.embedding import views as embedding
from parlour.errors import PROBLEM_TYPE
from parlour.feeds import views as feeds
from parlour.identity import views as identity
from parlour.identity.schemas import Deleted, MyComments, NotificationSettings, Profile, SessionCreated
from parlour.notifications import views as mail
from parlour.scoring import views as scoring
from parlour.sites import views as sites
from parlour.sites.schemas import SiteConfigPublic, SiteCreated, SitePublic, StoryList, StoryPublic
from parlour.webhooks import views as webhooks
from parlour.webhooks.schemas import (
    DeliveryList,
    DeliveryPublic,
    WebhookCreated,
    WebhookList,
    WebhookPublic,
    WebhookSecret,
)

API = "/api/v1"
ADMIN = "/admin"
WEBHOOKS = f"{API}/sites/{{slug}}/webhooks"
READER = f"{API}/reader"
WEBHOOK = f"{WEBHOOKS}/{{webhook_id}}"


class EventStream(Response):
    media_type = "text/event-stream"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: Callable[..., Any]
    model: Any = None
    status: int = 200
    tags: list[str] = field(default_factory=list)
    response_class: Any = None
    errors: tuple[int, ...] = (422,)


ROUTES: list[Route] = [
    # Public reading and posting
    Route("GET", f"{API}/threads", comments.get_thread, ThreadPage, tags=["comments"], errors=(403, 404, 422)),
    Route("GET", f"{API}/comments/{{comment_id}}", comments.get_comment, CommentWithAncestors, tags=["comments"]),
    Route("GET", f"{API}/comments/{{comment_id}}/replies", comments.get_replies, RepliesPage, tags=["comments"]),
    Route(
        "POST",
        f"{API}/comments",
        comments.post_comment,
        CommentCreated,
        201,
        ["comments"],
        errors=(403, 404, 409, 413, 415, 422),
    ),
    Route(
        "POST",
        f"{API}/comments:check",
        comments.check_draft,
        DraftChecked,
        tags=["comments"],
        errors=(404, 413, 415, 422, 429),
    ),
    Route(
        "PATCH",
        f"{API}/comments/{{comment_id}}",
        comments.edit_comment,
        CommentOwn,
        tags=["comments"],
        errors=(403, 404, 409, 422),
    ),
    Route(
        "DELETE",
        f"{API}/comments/{{comment_id}}",
        comments.delete_comment,
        None,
        204,
        ["comments"],
        errors=(403, 404),
    ),
    Route(
        "PUT",
        f"{API}/comments/{{comment_id}}/reaction",
        comments.put_reaction,
        ReactionState,
        tags=["reactions"],
        errors=(404,),
    ),
    Route(
        "DELETE",
        f"{API}/comments/{{comment_id}}/reaction",
        comments.delete_reaction,
        ReactionState,
        tags=["reactions"],
        errors=(404,),
    ),
    Route(
        "POST",
        f"{API}/comments/{{comment_id}}/reports",
        comments.post_report,
        ReportCreated,
        201,
        ["reports"],
        errors=(404, 409, 422),
    ),
    Route("GET", f"{API}/counts", comments.get_counts, Counts, tags=["comments"], errors=(404, 422)),
    Route("GET", f"{API}/config", comments.get_config, SiteConfigPublic, tags=["comments"], errors=(404, 422)),
    Route(
        "GET",
        f"{API}/stream",
        comments.get_stream,
        None,
        tags=["comments"],
        errors=(403, 404, 422),
        response_class=EventStream,
    ),
    # Staff: sites and stories
    Route("POST", f"{API}/sites", sites.create_site, SiteCreated, 201, ["staff"], errors=(401, 409, 422)),
    Route("GET", f"{API}/sites/{{slug}}", sites.get_site, SitePublic, tags=["staff"], errors=(401,)),
    Route("PATCH", f"{API}/sites/{{slug}}", sites.update_site, SitePublic, tags=["staff"], errors=(401, 422)),
    Route("GET", f"{API}/sites/{{slug}}/stories", sites.list_stories, StoryList, tags=["staff"], errors=(401,)),
    Route(
        "POST",
        f"{API}/sites/{{slug}}/stories",
        sites.create_story,
        StoryPublic,
        201,
        ["staff"],
        errors=(401, 403, 409, 422),
    ),
    Route(
        "GET",
        f"{API}/sites/{{slug}}/stories/{{story_id}}",
        sites.get_story,
        StoryPublic,
        tags=["staff"],
        errors=(401, 404),
    ),
    Route(
        "PATCH",
        f"{API}/sites/{{slug}}/stories/{{story_id}}",
        sites.update_story,
        StoryPublic,
        tags=["staff"],
        errors=(401, 404, 422),
    ),
    Route(
        "POST",
        f"{API}/sites/{{slug}}/stories/{{story_id}}/close",
        sites.close_story,
        StoryPublic,
        tags=["staff"],
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{API}/sites/{{slug}}/stories/{{story_id}}/open",
        sites.open_story,
        StoryPublic,
        tags=["staff"],
        errors=(401, 404),
    ),
    # Staff: webhooks
    Route("GET", WEBHOOKS, webhooks.list_webhooks, WebhookList, tags=["webhooks"], errors=(401, 404)),
    Route("POST", WEBHOOKS, webhooks.create_webhook, WebhookCreated, 201, ["webhooks"], errors=(401, 403, 404, 422)),
    Route("GET", WEBHOOK, webhooks.get_webhook, WebhookPublic, tags=["webhooks"], errors=(401, 404)),
    Route("PATCH", WEBHOOK, webhooks.update_webhook, WebhookPublic, tags=["webhooks"], errors=(401, 403, 404, 422)),
    Route("DELETE", WEBHOOK, webhooks.delete_webhook, None, 204, ["webhooks"], errors=(401, 404)),
    Route(
        "POST",
        f"{WEBHOOK}/rotate-secret",
        webhooks.rotate_webhook_secret,
        WebhookSecret,
        tags=["webhooks"],
        errors=(401, 404),
    ),
    Route("POST", f"{WEBHOOK}/ping", webhooks.ping_webhook, DeliveryPublic, 202, ["webhooks"], errors=(401, 404, 409)),
    Route(
        "GET",
        f"{WEBHOOK}/deliveries",
        webhooks.list_deliveries,
        DeliveryList,
        tags=["webhooks"],
        errors=(401, 404, 422),
    ),
    Route(
        "POST",
        f"{WEBHOOK}/deliveries/{{delivery_id}}/redeliver",
        webhooks.redeliver,
        DeliveryPublic,
        202,
        ["webhooks"],
        errors=(401, 404, 409),
    ),
    # Moderation dashboard (server-rendered pages and htmx fragments; every POST checks CSRF)
    *[
        Route("GET", path, endpoint, tags=["dashboard"], response_class=HTMLResponse)
        for path, endpoint in (
            (ADMIN, dashboard_queues.dashboard_home),
            (f"{ADMIN}/", dashboard_queues.dashboard_home),  # typed by hand; without the Host-built redirect
            (f"{ADMIN}/login", dashboard_login.login_page),
            (f"{ADMIN}/queues/{{queue}}", dashboard_queues.queue_page),
            (f"{ADMIN}/counts", dashboard_queues.counts),
            (f"{ADMIN}/surges", dashboard_queues.surges),
            (f"{ADMIN}/comments/{{comment_id}}", dashboard_queues.comment_page),
            (f"{ADMIN}/comments/{{comment_id}}/card", dashboard_queues.comment_card),
            (f"{ADMIN}/authors/{{author_id}}", dashboard_people.author_page),
            (f"{ADMIN}/stories/{{story_id}}", dashboard_people.story_page),
            (f"{ADMIN}/audit", dashboard_records.audit_page),
            (f"{ADMIN}/stats", dashboard_records.stats_page),
            (f"{ADMIN}/webhooks", dashboard_records.deliveries_page),
        )
    ],
    Route("GET", f"{ADMIN}/audit.csv", dashboard_records.audit_export, tags=["dashboard"], response_class=Response),
    Route("GET", f"{ADMIN}/events", dashboard_live.admin_events, tags=["dashboard"], response_class=Response),
    *[
        Route("POST", path, endpoint, tags=["dashboard"], response_class=HTMLResponse)
        for path, endpoint in (
            (f"{ADMIN}/login", dashboard_login.login),
            (f"{ADMIN}/logout", dashboard_login.logout),
            (f"{ADMIN}/comments/{{comment_id}}/claim", dashboard_queues.claim),
            (f"{ADMIN}/comments/{{comment_id}}/approve", dashboard_queues.approve),
            (f"{ADMIN}/comments/{{comment_id}}/reject", dashboard_queues.reject),
            (f"{ADMIN}/comments/{{comment_id}}/feature", dashboard_queues.feature),
            (f"{ADMIN}/comments/{{comment_id}}/dismiss-reports", dashboard_queues.dismiss_reports),
            (f"{ADMIN}/bulk", dashboard_queues.bulk),
            (f"{ADMIN}/undo", dashboard_queues.undo),
            (f"{ADMIN}/authors/{{author_id}}/ban", dashboard_people.ban),
            (f"{ADMIN}/authors/{{author_id}}/suspend", dashboard_people.suspend),
            (f"{ADMIN}/authors/{{author_id}}/reinstate", dashboard_people.reinstate),
            (f"{ADMIN}/authors/{{author_id}}/premoderate", dashboard_people.premoderate),
            (f"{ADMIN}/stories/{{story_id}}/settings", dashboard_people.story_settings),
        )
    ],
    # Reader identity (issue 6): publisher SSO sessions and the signed-in reader's own data
    Route(
        "POST", READER + "/session", identity.start_session, SessionCreated, 201, ["readers"], errors=(401, 404, 422)
    ),
    Route("DELETE", READER + "/session", identity.end_session, None, 204, ["readers"], errors=(401,)),
    Route("GET", READER, identity.get_profile, Profile, tags=["readers"], errors=(401,)),
    Route("DELETE", READER, identity.delete_my_account, Deleted, tags=["readers"], errors=(401,)),
    Route("GET", READER + "/comments", identity.get_my_comments, MyComments, tags=["readers"], errors=(401, 422)),
    Route("DELETE", READER + "/comments", identity.delete_my_comments, Deleted, tags=["readers"], errors=(401,)),
    Route(
        "PATCH",
        READER + "/notifications",
        identity.update_notifications,
        NotificationSettings,
        tags=["readers"],
        errors=(401, 422),
    ),
    Route("GET", READER + "/data", identity.download_my_data, tags=["readers"], response_class=Response, errors=(401,)),
    # E-mail links (issue 6): signed per address and category, no login; a GET shows, a POST acts (RFC 8058)
    *[
        Route(method, path, endpoint, tags=["mail"], response_class=HTMLResponse)
        for method, path, endpoint in (
            ("GET", "/mail/confirm", mail.confirm_page),
            ("POST", "/mail/confirm", mail.confirm),
            ("GET", "/mail/unsubscribe", mail.unsubscribe_page),
            ("POST", "/mail/unsubscribe", mail.unsubscribe),
            ("GET", "/mail/manage", mail.manage_page),
            ("POST", "/mail/manage", mail.manage),
        )
    ],
    Route("GET", "/go/{comment_id}", mail.go_to_comment, tags=["mail"], response_class=Response, errors=(404,)),
    # Perspective API compatibility (Coral Talk's "custom Perspective endpoint" and other clients point here)
    Route(
        "POST",
        "/v1alpha1/comments:analyze",
        scoring.analyze_comment,
        tags=["perspective"],
        response_class=Response,
        errors=(400, 403),
    ),
    # Operations
    Route("GET", "/healthz", health.healthz, health.Health, tags=["operations"]),
    Route("GET", "/readyz", health.readyz, health.Health, tags=["operations"], errors=(503,)),
    Route("GET", "/metrics", health.metrics, tags=["operations"], response_class=Response, errors=(401,)),
    # Feeds
    *[
        route
        for method in ("GET", "HEAD")  # a feed reader may ask HEAD before it fetches
        for route in (
            Route(method, "/feeds/{site}/comments.atom", feeds.site_comments, tags=["feeds"], response_class=Response),
            Route(
                method,
                "/feeds/{site}/stories/{story_id}.atom",
                feeds.story_comments,
                tags=["feeds"],
                response_class=Response,
                errors=(404, 422),
            ),
        )
    ],
    # The widget's files
    Route("GET", "/embed.js", embedding.embed_js, tags=["widget"], response_class=Response),
    Route("GET", "/count.js", embedding.count_js, tags=["widget"], response_class=Response),
    Route("GET", "/widget/{version}/{path:path}", embedding.widget_asset, tags=["widget"], response_class=Response),
    # Pages
    Route("GET", "/demo", demo.article_page, tags=["pages"], response_class=HTMLResponse),
    Route("GET", "/", demo.home, tags=["pages"], response_class=HTMLResponse),
]


def _problem_responses(codes: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "example": PROBLEM_TYPE + "invalid-input"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        code: {"description": "Problem", "content": {"application/problem+json": {"schema": schema}}} for code in codes
    }


def install(app: FastAPI) -> None:
    router = APIRouter()
    for route in ROUTES:
        # A path parameter that does not parse (`/comments/abc`) is a 422 problem, whatever the route's own errors.
        errors = route.errors if "{" not in route.path or 422 in route.errors else (*route.errors, 422)
        extra: dict[str, Any] = {}
        if route.response_class is not None:
            extra["response_class"] = route.response_class
            extra["include_in_schema"] = route.response_class is EventStream
        router.add_api_route(
            route.path,
            route.endpoint,
            methods=[route.method],
            response_model=route.model,
            status_code=route.status,
            tags=list(route.tags),
            responses=_problem_responses(errors),
            **extra,
        )
    app.include_router(router)
