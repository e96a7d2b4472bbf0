"""Fill a fresh database with the demo site, its article and its discussion, through the real services."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import select, update

from parlour.accounts.users import create_user
from parlour.comments import service as comments
from parlour.comments.schemas import AuthorIn, CommentCreate
from parlour.db.engine import Database
from parlour.db.tables import Comment, StaffRole, Story
from parlour.infra.ratelimit import MemoryRateLimiter, RateLimiter
from parlour.scoring.protocol import Scorer
from parlour.settings import Settings
from parlour.sites import service as sites
from parlour.sites.schemas import SiteCreate, SiteSettings, SiteSettingsUpdate, SiteUpdate, StoryCreate
from parlour.sites.urls import origin_of

DEMO_SLUG = "demo"
# The demo shows the model holding hate and threats for review, and the widget's warning before posting. A new
# site only flags (see README, "What happens to a new comment"); the demo site turns holding on once its
# discussion is seeded, as a newsroom would after looking at the Flagged queue.
DEMO_HOLD_THRESHOLDS = {"IDENTITY_ATTACK": 0.5, "THREAT": 0.5}


DEMO_MODERATOR = "moderator@demo.parlour.example"


@dataclass(frozen=True)
class DemoSite:
    slug: str
    api_key: str
    article_url: str
    # A moderator of the demo site, so /admin can be tried at once; the password is new for every demo.
    moderator_email: str
    moderator_password: str


def load_content() -> dict[str, Any]:
    text = resources.files("parlour.demo").joinpath("content.json").read_text(encoding="utf-8")
    content: dict[str, Any] = json.loads(text)
    return content


def seed(*, db: Database, scorer: Scorer, settings: Settings) -> DemoSite:
    """Create the demo site, story and discussion; reaction counts come from distinct demo readers."""
    content = load_content()
    article = content["article"]
    published = datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
    with db.write() as session:
        site, api_key = sites.create_site(
            session=session,
            data=SiteCreate(
                slug=DEMO_SLUG,
                name="The Parlour Courier (demo)",
                allowed_origins=[origin_of(article["url"]), settings.public_base_url],
                settings=SiteSettings(edit_window_seconds=7 * 86400),
            ),
        )
        sites.create_story(
            session=session,
            site=site,
            data=StoryCreate(
                url=article["url"],
                title=article["headline"],
                section=article["section"],
                author=article["byline"],
                published_at=published,
            ),
        )
    ids: dict[str, int] = {}
    limiter = MemoryRateLimiter()
    # Each demo reader posts from an address of their own (TEST-NET-2): rate limits count them apart, and one
    # reader's comments share an author (and an avatar).
    readers = {name: n % 250 + 1 for n, name in enumerate(dict.fromkeys(c["name"] for c in content["comments"]))}
    for item in content["comments"]:
        address = f"198.51.100.{readers[item['name']]}"
        ids[item["key"]] = _post(db, scorer, settings, limiter, article["url"], item, ids, address)
        _backdate(db, ids[item["key"]], published + timedelta(minutes=item["minutes_after"]))
        for reader in range(item.get("reactions", 0)):
            comments.set_reaction(db=db, comment_id=ids[item["key"]], reader_key=f"demo-reader-{reader}", on=True)
    with db.write() as session:
        demo_site = sites.get_site(session=session, slug=DEMO_SLUG)
        holding = SiteSettingsUpdate(thresholds=DEMO_HOLD_THRESHOLDS)
        sites.update_site(session=session, site=demo_site, data=SiteUpdate(settings=holding))
    password = secrets.token_urlsafe(12)
    with db.write() as session:
        create_user(
            session=session,
            email=DEMO_MODERATOR,
            display_name="Demo moderator",
            password=password,
            role=StaffRole.MODERATOR,
            site_slugs=[DEMO_SLUG],
        )
    return DemoSite(DEMO_SLUG, api_key, article["url"], DEMO_MODERATOR, password)


def _post(
    db: Database,
    scorer: Scorer,
    settings: Settings,
    limiter: RateLimiter,
    url: str,
    item: dict[str, Any],
    ids: dict[str, int],
    address: str,
) -> int:
    data = CommentCreate(
        site=DEMO_SLUG,
        url=url,
        parent_id=ids[item["parent"]] if item.get("parent") else None,
        body=item["body"],
        author=AuthorIn(name=item["name"]),
    )
    context = comments.PostContext(secret_key=settings.secret_key, limiter=limiter, client_address=address)
    result = comments.post_comment(db=db, scorer=scorer, data=data, context=context)
    comment_id: int = result.value.id
    return comment_id


def _backdate(db: Database, comment_id: int, when: datetime) -> None:
    with db.write() as session:
        session.execute(update(Comment).where(Comment.id == comment_id).values(created_at=when))
        story_id = session.scalar(select(Comment.story_id).where(Comment.id == comment_id))
        session.execute(update(Story).where(Story.id == story_id).values(version=Story.version + 1))
