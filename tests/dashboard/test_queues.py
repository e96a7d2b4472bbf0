"""The queues as moderators work them: what each holds, filters, counts, and an item with all it needs."""

from __future__ import annotations

import re

from sqlalchemy import update

from parlour.db.tables import Story
from tests.conftest import create_test_site, post
from tests.dashboard.conftest import (
    HERALD_STORY,
    Browser,
    World,
    author_of,
    comment,
    held,
    published,
    submit_get_form,
)

OTHER_STORY = "https://news.example/sport/2026/12/01/derby"


def items(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="card[^"]*" id="item-(\d+)"', page)]


def count_of(nav: str, title: str) -> int:
    match = re.search(rf'<span class="name">{title}</span>\s*<span class="count[^"]*">(\d+)', nav)
    assert match, title
    return int(match.group(1))


def test_each_queue_holds_what_its_name_says(world: World, admin: Browser) -> None:
    pending = held(world.client, "Held by pre-moderation.")
    unseen = published(world.client, "Published, nobody looked yet.")
    reported = published(world.client, "Readers reported this.")
    world.client.post(f"/api/v1/comments/{reported}/reports", json={"reason": "abuse", "message": "rude to me"})
    flagged = published(world.client, "You are a stupid idiot and a moron, shut up.")
    rejected = held(world.client, "Rejected by a moderator.")
    admin.act(f"/admin/comments/{rejected}/reject", {"reason": "spam"})
    assert comment(world.db, flagged).flagged and comment(world.db, flagged).status.value == "approved"
    assert items(admin.get("/admin/queues/pending").text) == [pending]
    assert items(admin.get("/admin/queues/reported").text) == [reported]
    assert items(admin.get("/admin/queues/flagged").text) == [flagged]
    assert items(admin.get("/admin/queues/unmoderated").text) == [unseen, reported, flagged]  # oldest first
    assert items(admin.get("/admin/queues/approved").text) == [flagged, reported, unseen]  # newest first
    assert items(admin.get("/admin/queues/rejected").text) == [rejected]
    nav = admin.get("/admin/counts").text
    counts = {t: count_of(nav, t) for t in ("Pending", "Reported", "Flagged", "Unmoderated", "Approved", "Rejected")}
    assert counts == {"Pending": 1, "Reported": 1, "Flagged": 1, "Unmoderated": 3, "Approved": 3, "Rejected": 1}
    # The page's own navigation carries the same counts.
    assert count_of(admin.get("/admin/queues/pending").text, "Pending") == 1


def test_a_decision_moves_the_item_between_queues(world: World, ann: Browser) -> None:
    target = published(world.client, "Reviewed once.")
    assert items(ann.get("/admin/queues/unmoderated").text) == [target]
    ann.act(f"/admin/comments/{target}/approve")
    assert items(ann.get("/admin/queues/unmoderated").text) == []
    assert items(ann.get("/admin/queues/approved").text) == [target]


def test_counts_follow_the_site_filter(world: World, admin: Browser) -> None:
    held(world.client)
    published(world.client)
    assert count_of(admin.get("/admin/counts?site=courier").text, "Pending") == 0
    assert count_of(admin.get("/admin/counts?site=herald").text, "Pending") == 1
    assert count_of(admin.get("/admin/counts").text, "Approved") == 1
    assert admin.get("/admin/counts?site=Not A Slug").status_code == 422


def test_filters_by_site_story_author_reason_and_text(world: World, admin: Browser) -> None:
    create_test_site(world.db, "gazette", ["https://gazette.example"], suspect_words=["casino"])
    gazette = "https://gazette.example/a"
    a = post(world.client, "Visit my casino tonight.", site="courier", url=OTHER_STORY, name="Spammer")["id"]
    b = held(world.client, "A plain held comment.", name="Plain")
    c = held(world.client, "Another 100% plain_comment.", name="Plain")
    assert comment(world.db, a).status.value == "approved"
    # A courier story set to pre-moderation, and a story on herald.
    story_b = comment(world.db, b).story_id
    author_b = author_of(world.db, b).id
    assert items(admin.get("/admin/queues/pending?site=herald").text) == [b, c]
    assert items(admin.get("/admin/queues/pending?site=courier").text) == []
    assert items(admin.get(f"/admin/queues/pending?story={story_b}").text) == [b, c]
    assert items(admin.get(f"/admin/queues/pending?author={author_b}").text) == [b, c]
    assert items(admin.get("/admin/queues/pending?q=another").text) == [c]
    assert items(admin.get("/admin/queues/pending?q=ANOTHER 100%25").text) == [c]
    # LIKE wildcards in the search are taken literally.
    assert items(admin.get("/admin/queues/pending?q=%25").text) == [c]
    assert items(admin.get("/admin/queues/pending?q=_").text) == [c]
    assert items(admin.get("/admin/queues/pending?q=plain&author=999").text) == []
    assert items(admin.get("/admin/queues/pending?reason=mode:").text) == [b, c]
    assert items(admin.get("/admin/queues/pending?reason=word:suspect").text) == []
    d = post(world.client, "Try the casino.", site="gazette", url=gazette, name="Gambler")["id"]
    assert items(admin.get("/admin/queues/pending?reason=word:suspect").text) == [d]
    assert items(admin.get("/admin/queues/approved?q=casino").text) == [a]
    # Bad filter values are refused, not ignored.
    for bad in ("story=0", "author=-1", "offset=-5", "q=" + "x" * 201, "site=UPPER"):
        assert admin.get(f"/admin/queues/pending?{bad}").status_code == 422, bad


def test_the_text_search_folds_case_and_accents_on_either_database(world: World, admin: Browser) -> None:
    naive = held(world.client, "A naïve idea about the Øresund bridge.", name="Plain")
    decomposed = held(world.client, "Another nai\u0308ve one.", name="Plain")  # ï typed as i + combining diaeresis
    other = held(world.client, "Nothing to see.", name="Plain")
    for words in ("NAÏVE", "naive", "Naive", "NAI\u0308VE"):
        assert items(admin.get("/admin/queues/pending", params={"q": words}).text) == [naive, decomposed], words
    assert items(admin.get("/admin/queues/pending", params={"q": "øresund"}).text) == [naive]
    assert items(admin.get("/admin/queues/pending", params={"q": "ORESUND BRIDGE"}).text) == [naive]
    assert items(admin.get("/admin/queues/pending", params={"q": "to SEE"}).text) == [other]
    # A control character is refused, not read as the end of the pattern (which matched every item).
    for bad in ("%00", "a%00", "%07", "x%0Ay"):
        assert admin.get(f"/admin/queues/pending?q={bad}").status_code == 422, bad


def test_a_search_with_no_hits_says_so_and_offers_to_clear_the_filters(world: World, admin: Browser) -> None:
    held(world.client, "Held for a moderator.", name="Plain")
    page = admin.get("/admin/queues/pending?q=nowhere").text
    assert items(page) == []
    assert "No items match these filters." in page and '<a href="/admin/queues/pending">Clear the filters</a>' in page
    assert "Nothing waiting here" not in page
    assert "Nothing waiting here" in admin.get("/admin/queues/flagged").text


def test_the_filter_form_works_as_a_browser_sends_it(world: World, admin: Browser) -> None:
    # A browser sends every field of a GET form, the empty ones as `name=`: empty means no filter.
    b = held(world.client, "A plain held comment.", name="Plain")
    c = held(world.client, "Another plain comment.", name="Plain")
    page = admin.get("/admin/queues/pending").text
    assert items(admin.get(submit_get_form(page, "/admin/queues/pending")).text) == [b, c]
    searched = admin.get(submit_get_form(page, "/admin/queues/pending", q="another"))
    assert searched.status_code == 200, searched.text
    assert items(searched.text) == [c]
    # The answer's form shows the filters in force, so applying it again keeps them.
    filtered = admin.get(submit_get_form(page, "/admin/queues/pending", site="herald", q="another")).text
    assert items(filtered) == [c]
    again = submit_get_form(filtered, "/admin/queues/pending")
    assert "site=herald" in again and "q=another" in again
    assert items(admin.get(again).text) == [c]
    assert items(admin.get(submit_get_form(filtered, "/admin/queues/pending", site="courier")).text) == []


def test_pages_of_a_long_queue(world: World, hal: Browser) -> None:
    ids = [held(world.client, f"Held number {n}.") for n in range(27)]
    first = hal.get("/admin/queues/pending")
    assert items(first.text) == ids[:25]
    assert 'rel="next"' in first.text and "1–25 of 27" in first.text
    second = hal.get("/admin/queues/pending?offset=25")
    assert items(second.text) == ids[25:]
    fragment = hal.get("/admin/queues/pending?offset=25&fragment=items")
    assert fragment.text.lstrip().startswith('<ol id="items"') and items(fragment.text) == ids[25:]
    beyond = hal.get("/admin/queues/pending?offset=999").text  # a link kept after the queue emptied
    assert items(beyond) == [] and "Past the last of 27" in beyond and "1000–999" not in beyond


def test_the_comment_page_has_everything_needed_to_decide(world: World, ann: Browser) -> None:
    parent = published(world.client, "The council voted for the bridge.", name="Parent")
    target = published(world.client, "You are a stupid idiot and a moron, shut up.", name="Rude", parent_id=parent)
    world.client.post(f"/api/v1/comments/{target}/reports", json={"reason": "abuse", "message": "personal attack"})
    published(world.client, "An earlier comment by the same author.", name="Rude")
    story = comment(world.db, target).story_id
    with world.db.write() as session:
        session.execute(update(Story).where(Story.id == story).values(title="River town votes for a bridge"))
    page = ann.get(f"/admin/comments/{target}")
    assert page.status_code == 200
    text = page.text
    assert "River town votes for a bridge" in text  # the story's headline
    assert "In reply to:</span> The council voted for the bridge." in text  # the parent
    assert "· 2 approved · 0 pending" in text  # the author's history
    assert "First seen" in text
    assert "Reported by readers:" in text and "1 × abuse" in text and "personal attack" in text
    assert "Toxicity scored at least 0.5 (the threshold that flags a comment)" in text
    assert "Model scores" in text and "Insult" in text and "lexical-v1" in text
    assert '<mark title="Insult, Toxicity">stupid idiot</mark>' in text  # the words the model marked
    assert 'class="badge badge--flagged"' in text


def test_the_comment_page_shows_the_pipelines_reasons_in_words(world: World, hal: Browser) -> None:
    target = held(world.client, "Held under pre-moderation.")
    text = hal.get(f"/admin/comments/{target}").text
    assert "The story or site is in pre-moderation" in text
    assert "Audit log of this comment" in text


def test_the_comment_page_lists_its_audit_rows(world: World, ann: Browser) -> None:
    target = published(world.client)
    ann.act(f"/admin/comments/{target}/feature", {"on": "1"})
    ann.act(f"/admin/comments/{target}/reject", {"reason_choice": "Spam", "reason": "shop links"})
    text = ann.get(f"/admin/comments/{target}").text
    assert "Spam: shop links" in text and "approved → removed" in text and ">feature<" in text.replace("</td>", "<")


def test_the_author_page_shows_history_and_audit(world: World, ann: Browser) -> None:
    target = published(world.client, "Something.", name="Frequent")
    published(world.client, "Something else.", name="Frequent")
    author = author_of(world.db, target).id
    ann.act(f"/admin/comments/{target}/reject", {"reason": "off-topic"})
    ann.act(f"/admin/authors/{author}/premoderate", {"on": "1"})
    page = ann.get(f"/admin/authors/{author}").text
    assert "Frequent" in page and "always pre-moderated" in page
    assert "<dt>approved</dt><dd>1</dd>" in page and "<dt>removed</dt><dd>1</dd>" in page
    assert "off-topic" in page and ">premoderate<" in page.replace("</td>", "<")


def test_the_card_endpoint_answers_204_once_the_item_left_the_queue(world: World, ann: Browser) -> None:
    target = published(world.client)
    card = ann.get(f"/admin/comments/{target}/card?queue=unmoderated")
    assert card.status_code == 200 and f'id="item-{target}"' in card.text
    ann.act(f"/admin/comments/{target}/approve")
    assert ann.get(f"/admin/comments/{target}/card?queue=unmoderated").status_code == 204
    assert ann.get(f"/admin/comments/{target}/card").status_code == 200


def test_the_card_endpoint_answers_as_a_page_with_the_same_filters_would(world: World, admin: Browser) -> None:
    # Live updates ask for a new item's card with the page's filters: 204 when that page would not show it.
    target = held(world.client, "About the bridge.", name="Engineer")
    story, author = comment(world.db, target).story_id, author_of(world.db, target).id
    url = f"/admin/comments/{target}/card?queue=pending"
    for shown in ("q=BRIDGE", "site=herald", f"story={story}", f"author={author}", "reason=mode:", ""):
        assert admin.get(f"{url}&{shown}").status_code == 200, shown
    for hidden in ("q=tunnel", "site=courier", f"story={story + 1}", f"author={author + 1}", "reason=word:"):
        assert admin.get(f"{url}&{hidden}").status_code == 204, hidden
    assert admin.get(f"{url}&q=" + "x" * 201).status_code == 422


def test_text_in_comments_is_escaped_in_the_dashboard(world: World, hal: Browser) -> None:
    target = held(world.client, '<script>alert("x")</script> <img src=x onerror=alert(1)>', name="<b>Bold</b>")
    text = hal.get(f"/admin/comments/{target}").text
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>Bold</b>" not in text
    assert "&lt;b&gt;Bold&lt;/b&gt;" in text


def test_the_dashboard_pages_are_never_cached(world: World, ann: Browser) -> None:
    page = ann.get("/admin/queues/pending")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_herald_story_url_constant_is_on_herald(world: World) -> None:
    assert HERALD_STORY.startswith("https://herald.example/")
