"""The API's rules for each line of a restore: what no request could have stored, no file can plant either.

An export is moved between machines, kept in backups and sent by vendors; whoever could edit it on its way must
not get past a restore what the API refuses. So every line goes through the API's own validators (never a copy
of them), and a line they refuse refuses the restore, naming the line; the restore's one transaction then leaves
the database as it was. A file Parlour exported passes unchanged: what the validators clean, it holds clean.

Where a database may rightly hold what a request today could not, the rule is the one that let it in:
imported comments may be longer than the site's limit (as `parlour import` takes them), and names are held to
the 64 characters any site may allow, not to the site's current limit. An admin's allowance of private networks
for a webhook is not taken from a file at all: no line can prove an admin gave it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from parlour.accounts.users import valid_staff_email
from parlour.comments.schemas import READER_EMAIL, AuthorIn
from parlour.comments.service import valid_author, valid_body
from parlour.db.tables import CommentStatus, Site
from parlour.errors import InvalidInput, ParlourError
from parlour.sites.schemas import MAX_NAME_CHARS, SiteSettings
from parlour.sites.service import allowed_story_url
from parlour.transfer.placing import Node, place
from parlour.transfer.prepare import MAX_IMPORTED_CHARS
from parlour.webhooks.addresses import Resolver, check_target, parse_target

# Per comment restored: its story, parent and depth (about 0.2 GB a million comments), to place its replies.
Thread = tuple[int, int | None, int]


@dataclass
class LineChecks:
    """What a restore remembers to check each line as the API would: the site's rules and the threads so far."""

    resolver: Resolver
    warnings: list[str]
    site_id: int | None = None
    settings: SiteSettings = field(default_factory=SiteSettings)
    slug: str = ""
    # Only its allowed origins are set: the API's story check takes a site.
    site: Site = field(default_factory=Site)
    stories: set[int] = field(default_factory=set)
    threads: dict[int, Thread] = field(default_factory=dict)
    # Comments longer than the site's limit, by id: (line, length); each must turn out to be an imported one.
    long_bodies: dict[int, tuple[int, int]] = field(default_factory=dict)
    moved: int = 0  # comments whose parent or depth the file gave otherwise than the thread does

    def restored_site(self, number: int, site_id: Any, slug: str, settings: SiteSettings, origins: list[str]) -> None:
        """The site line, checked already: its rules apply to the lines after it."""
        if self.site_id is not None:
            raise InvalidInput(f"line {number}: a second site; an export holds one site.")
        if not _whole(site_id):
            raise InvalidInput(f"line {number}: the site's id must be a whole number.")
        self.site_id, self.slug, self.settings = site_id, slug, settings
        self.site = Site(allowed_origins=origins)

    def check(self, kind: str, values: dict[str, Any], number: int) -> None:
        """Refuse (naming the line) or clean one row as the API would; lines of other kinds pass as they are."""
        checks: dict[str, Callable[[dict[str, Any], int], None]] = {
            "staff_user": self._staff_user,
            "story": self._story,
            "author": self._author,
            "mail_address": self._mail_address,
            "comment": self._comment,
            "webhook_endpoint": self._webhook_endpoint,
            "imported_item": self._imported_item,
        }
        if kind in checks:
            checks[kind](values, number)

    def finish(self) -> None:
        """After the last line: a comment over the site's limit that no imported_item line names is refused."""
        if self.long_bodies:
            comment_id, (number, length) = min(self.long_bodies.items(), key=lambda item: item[1][0])
            raise InvalidInput(
                f"line {number}: comment {comment_id}'s body is {length:,} characters long; the site's limit is "
                f"{self.settings.max_body_chars:,}, and only imported comments may be longer (if the limit was "
                "lowered after it was posted, raise max_body_chars in the site's line)."
            )
        if self.moved:
            self.warnings.append(
                f"{self.moved:,} comment(s) had a parent or depth in the file that their thread does not give them "
                f"(deeper than the site's max_depth of {self.settings.max_depth}, or a depth that was wrong): they "
                "were placed as the API places a reply, at the depth cap under their parent's parent."
            )

    # --- one kind of line each -----------------------------------------------------------------------------

    def _staff_user(self, values: dict[str, Any], number: int) -> None:
        # The role is one of the known ones already: column_values refuses any other by name.
        email = values.get("email")
        try:
            values["email"] = valid_staff_email(email if isinstance(email, str) else "")
        except InvalidInput as exc:
            what = f"staff_user {values.get('id')}"
            raise InvalidInput(f"line {number}: {what}'s email is refused: {exc.detail}") from exc

    def _story(self, values: dict[str, Any], number: int) -> None:
        what = f"story {values.get('id')}"
        self._on_site(values, number, what)
        if not _whole(values.get("id")):
            raise InvalidInput(f"line {number}: a story's id must be a whole number.")
        url = values.get("url")
        try:
            values["url"] = allowed_story_url(site=self.site, url=url if isinstance(url, str) else "")
        except ParlourError as exc:
            raise InvalidInput(f"line {number}: {what}'s url is refused: {exc.detail}") from exc
        self.stories.add(values["id"])

    def _author(self, values: dict[str, Any], number: int) -> None:
        what = f"author {values.get('id')}"
        self._on_site(values, number, what)
        if values.get("deleted_at") is not None and values.get("display_name") == "":
            return  # a reader who deleted their account: the row stays, nameless
        try:
            given = AuthorIn.model_validate({"name": values.get("display_name"), "website": values.get("website")})
            author = valid_author(given, max_name_chars=MAX_NAME_CHARS)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise InvalidInput(f"line {number}: {what}'s {_column(error['loc'])} is refused: {error['msg']}.") from exc
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {what}'s {_column(exc.field)} is refused: {exc.detail}") from exc
        values["display_name"], values["website"] = author.name, author.website

    def _mail_address(self, values: dict[str, Any], number: int) -> None:
        what = f"mail_address {values.get('id')}"
        self._on_site(values, number, what)
        if values.get("staff_user_id") is not None:
            # An export never holds one; planted, it would send a staff member's digest to another address.
            raise InvalidInput(f"line {number}: {what} is a staff member's own address, which no export holds.")
        # When it was confirmed is kept (the times' form is checked with every column): the newsroom's own record
        # of the reader's double opt-in, which a restore of its backup must not make them repeat.
        try:
            READER_EMAIL.validate_python(values.get("email"))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise InvalidInput(f"line {number}: {what}'s email is refused: {error['msg']}.") from exc

    def _comment(self, values: dict[str, Any], number: int) -> None:
        comment_id = values.get("id")
        what = f"comment {comment_id}"
        self._on_site(values, number, what)
        if not _whole(comment_id):
            raise InvalidInput(f"line {number}: a comment's id must be a whole number.")
        if values.get("story_id") not in self.stories:
            raise InvalidInput(
                f"line {number}: {what} refers to story {values.get('story_id')}, which no line before it holds."
            )
        self._check_body(values, number, what)
        self._place(values, number, what)

    def _webhook_endpoint(self, values: dict[str, Any], number: int) -> None:
        what = f"webhook_endpoint {values.get('id')}"
        self._on_site(values, number, what)
        given = values.get("url")
        url = given if isinstance(given, str) else ""
        allowed = bool(values.get("allow_private_network"))
        try:
            # With the allowance, the API checks the URL's form only; that much holds here too.
            if allowed:
                target = parse_target(url)
            else:
                target = check_target(url, allow_private_network=False, resolver=self.resolver)
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {what}'s url is refused: {exc.detail}") from exc
        values["url"] = str(target.url)
        if allowed:
            values["allow_private_network"], values["active"] = False, False
            self.warnings.append(
                f"Webhook endpoint {values.get('id')} ({values['url']}) was allowed private networks, which only an "
                "admin may allow and no file can prove: it was restored inactive and without that allowance. If it "
                f"is yours, allow it again with the admin key: PATCH /api/v1/sites/{self.slug}/webhooks/"
                f"{values.get('id')} with allow_private_network and active true."
            )

    def _imported_item(self, values: dict[str, Any], number: int) -> None:
        if values.get("kind") == "comment" and _whole(values.get("target_id")):
            # Imported: `parlour import` takes comments longer than the site's limit (MAX_IMPORTED_CHARS).
            self.long_bodies.pop(values["target_id"], None)

    # --- shared ------------------------------------------------------------------------------------------------

    def _on_site(self, values: dict[str, Any], number: int, what: str) -> None:
        if self.site_id is None:
            raise InvalidInput(f"line {number}: {what} comes before the site's line.")
        if values.get("site_id") != self.site_id:
            raise InvalidInput(
                f"line {number}: {what} belongs to site {values.get('site_id')}, not to the site restored "
                f"({self.site_id})."
            )

    def _check_body(self, values: dict[str, Any], number: int, what: str) -> None:
        """The text as the API stores it; over the site's limit only if an imported_item line names the comment."""
        body = values.get("body")
        if not isinstance(body, str):
            raise InvalidInput(f"line {number}: a comment's body must be text.")
        if body == "" and values.get("status") == CommentStatus.DELETED.value:
            return  # a deleted comment's text, erased after the site's deleted_text_days
        try:
            values["body"] = valid_body(body, max_chars=MAX_IMPORTED_CHARS)
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {what}'s body is refused: {exc.detail}") from exc
        if len(values["body"]) > self.settings.max_body_chars:
            self.long_bodies[values["id"]] = (number, len(values["body"]))

    def _place(self, values: dict[str, Any], number: int, what: str) -> None:
        """Parent and depth from the thread, as the API places a reply; the file's depth is not taken."""
        comment_id, story_id, parent_id = values["id"], values["story_id"], values.get("parent_id")
        parent: Node | None = None
        if parent_id is not None:
            if parent_id == comment_id:
                # The database takes a row that refers to itself; the threads and counts would loop on it.
                raise InvalidInput(f"line {number}: {what} is its own parent.")
            found = self.threads.get(parent_id) if _whole(parent_id) else None
            if found is None:
                raise InvalidInput(
                    f"line {number}: {what} replies to comment {parent_id}, which no line before it holds."
                )
            if found[0] != story_id:
                raise InvalidInput(f"line {number}: {what} replies to comment {parent_id}, which is on another story.")
            parent = self._node(parent_id)
        placed, depth = place(parent, self.settings.max_depth, self._node)
        placed_id = placed.id if placed is not None else None
        if (placed_id, depth) != (parent_id, values.get("depth")):
            self.moved += 1
        values["parent_id"], values["depth"] = placed_id, depth
        self.threads[comment_id] = (story_id, placed_id, depth)

    def _node(self, comment_id: int) -> Node:
        story_id, parent_id, depth = self.threads[comment_id]
        # Placing reads the thread only; status and replies play no part in it.
        return Node(comment_id, story_id, parent_id, depth, CommentStatus.APPROVED, 0)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _column(where: Any) -> str:
    """The column a validator's error is about: AuthorIn's name is the row's display_name."""
    last = str(where[-1] if isinstance(where, tuple) and where else where or "").rpartition(".")[2]
    return {"name": "display_name"}.get(last, last)
