"""Substance guides: sanitized Markdown, drafts, moderated comments and the admin pages."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from finder.accounts.models import Role
from finder.changes.models import ChangeEntry
from finder.extensions import db
from finder.guides.models import CommentStatus, Guide, GuideComment, GuideStatus
from finder.guides.operations import submit_comment
from finder.guides.rendering import render_markdown
from finder.guides.seed import GUIDES, SEED_REVIEWED_ON, seed_guides
from tests.conftest import dispose, make_app
from tests.factories import make_pool, make_tracking_number
from tests.staff_helpers import add_small_directory, csrf_token, logged_in_client, row_counts

HELPLINE = "+18005550144"
DANGEROUS_BODY = """## Safe heading

<script>document.title = "owned"</script>
<p onclick="steal()">Click me</p>
[a trap](javascript:alert(1)) and [a fine link](https://example.org/help)
<style>body { display: none }</style>
<img src="x" onerror="alert(2)">
"""
GUIDE_FORM = {
    "title": "Cannabis",
    "slug": "cannabis",
    "summary": "What cannabis is and when to get help.",
    "body": "## What it is\n\nA plant.\n\n- one\n- two\n",
    "status": "published",
    "last_reviewed_on": "2026-11-01",
    "related_services": "dt, sa",
}


@pytest.fixture
def app(databases, migrated_template):
    """An empty database with a small taxonomy, a helpline, and room for many comments."""
    app = make_app(databases.new(template=migrated_template),
                   COMMENT_RATE_LIMIT="100 per hour")
    add_small_directory(app)
    with app.app_context():
        make_tracking_number(db.session, pool=make_pool(db.session), number=HELPLINE)
        db.session.commit()
    yield app
    dispose(app)


def add_guide(app, **fields) -> int:
    values = dict(slug="benzodiazepines", title="Benzodiazepines", summary="About benzos.",
                  body="## What they are\n\nMedicines.", status=GuideStatus.PUBLISHED,
                  last_reviewed_on=date(2026, 11, 2), related_services=["DT"])
    values.update(fields)
    with app.app_context():
        guide = Guide(**values)
        db.session.add(guide)
        db.session.commit()
        return guide.id


def add_comment(app, guide_id: int, body: str, status=CommentStatus.PENDING,
                name: str | None = None) -> int:
    with app.app_context():
        comment = submit_comment(db.session, db.session.get(Guide, guide_id), display_name=name,
                                 body=body)
        comment.status = status
        db.session.commit()
        return comment.id


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def comment_rows(app) -> list[GuideComment]:
    with app.app_context():
        rows = db.session.execute(select(GuideComment).order_by(GuideComment.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def entries(app, **where) -> list[ChangeEntry]:
    with app.app_context():
        rows = db.session.execute(
            select(ChangeEntry).filter_by(**where).order_by(ChangeEntry.id)
        ).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def post_comment(client, slug: str, **data):
    page = client.get(f"/guides/{slug}")
    assert page.status_code == 200
    fields = {"csrf_token": csrf_token(page.data), "display_name": "", "body": "", "website": ""}
    return client.post(f"/guides/{slug}/comments", data={**fields, **data})


# -- rendering --------------------------------------------------------------------------------

def test_markdown_is_sanitized_to_a_few_plain_tags():
    html = str(render_markdown(DANGEROUS_BODY + "\n# Big title\n\n**bold** *it* [t](tel:988)"))
    assert "<h2>Safe heading</h2>" in html
    assert "<script" not in html and "document.title" not in html
    assert "<style" not in html and "display: none" not in html
    assert "onclick" not in html and "onerror" not in html and "<img" not in html
    assert "javascript:" not in html
    assert '<a href="https://example.org/help" rel="noopener nofollow">a fine link</a>' in html
    assert '<a href="tel:988" rel="noopener nofollow">t</a>' in html
    assert "<h1>" not in html and "Big title" in html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert render_markdown(None) == ""


def test_a_dangerous_body_never_reaches_the_page(app):
    add_guide(app, body=DANGEROUS_BODY)
    html = app.test_client().get("/guides/benzodiazepines").get_data(as_text=True)
    assert "document.title" not in html and "steal()" not in html and "alert(" not in html
    assert "javascript:" not in html and "display: none" not in html
    assert "<p>Click me</p>" in html


# -- public pages -----------------------------------------------------------------------------

def test_published_guides_show_and_drafts_are_404_for_visitors(app):
    add_guide(app)
    draft_id = add_guide(app, slug="draft-guide", title="Unfinished", status=GuideStatus.DRAFT)
    client = app.test_client()
    index = client.get("/guides")
    assert index.status_code == 200
    assert "Benzodiazepines" in text_of(index) and "Unfinished" not in text_of(index)
    assert "Published · Last reviewed November 2, 2026" in text_of(index)
    page = client.get("/guides/benzodiazepines")
    assert page.status_code == 200
    assert "Published · Last reviewed November 2, 2026" in text_of(page)
    assert client.get("/guides/draft-guide").status_code == 404
    assert client.get("/guides/no-such-guide").status_code == 404
    assert client.get(f"/staff/guides/{draft_id}/preview").status_code == 302  # to log in
    admin, _ = logged_in_client(app, Role.ADMIN)
    preview = admin.get(f"/staff/guides/{draft_id}/preview")
    assert preview.status_code == 200
    assert "Draft: not visible to visitors" in text_of(preview)
    operator, _ = logged_in_client(app, Role.OPERATOR)
    assert operator.get(f"/staff/guides/{draft_id}/preview").status_code == 200


def test_a_guide_shows_the_helpline_and_searches_its_services_near_the_visitor(app):
    add_guide(app, related_services=["DT", "SA"])
    client = app.test_client()
    html = client.get("/guides/benzodiazepines").get_data(as_text=True)
    wrapper = re.search(r'<span class="helpline-number">.*?</span></p>', html, re.S).group()
    assert 'href="tel:+18005550144"' in wrapper
    assert "Answered by licensed treatment facilities that pay to advertise on finder." in wrapper
    assert "Who answers?" in wrapper and "/where-do-calls-go" in wrapper
    assert 'href="tel:988"' in html and "1-800-662-4357" in html
    form = re.search(r'<form class="search-form" action="/search" method="get".*?</form>',
                     html, re.S).group()
    assert re.findall(r'name="service" value="(\w+)"', form) == ["DT", "SA"]
    assert 'name="location"' in form
    assert "Detox, or Substance use treatment" in text_of(client.get("/guides/benzodiazepines"))
    # What the form submits is a search the directory understands.
    assert client.get("/search?location=22902&radius=25&service=DT&service=SA").status_code \
        == 200


# -- comments ---------------------------------------------------------------------------------

def test_a_comment_waits_for_approval_and_is_shown_escaped_once_approved(app):
    guide_id = add_guide(app)
    client = app.test_client()
    response = post_comment(client, "benzodiazepines", display_name="Sam",
                            body="<b>This</b> helped.\r\nThank you.")
    assert response.status_code == 201
    assert "It will appear on the guide once finder staff have read it." in text_of(response)
    [comment] = comment_rows(app)
    assert comment.status == CommentStatus.PENDING and comment.guide_id == guide_id
    assert comment.body == "<b>This</b> helped.\nThank you." and comment.display_name == "Sam"
    assert "This</b> helped" not in client.get("/guides/benzodiazepines").get_data(as_text=True)
    admin, email = logged_in_client(app, Role.ADMIN)
    queue = admin.get("/staff/guides/comments")
    assert "&lt;b&gt;This&lt;/b&gt; helped." in queue.get_data(as_text=True)
    approve = admin.post(f"/staff/guides/comments/{comment.id}/approve",
                         data={"csrf_token": csrf_token(queue.data)})
    assert approve.status_code == 303
    html = client.get("/guides/benzodiazepines").get_data(as_text=True)
    assert "&lt;b&gt;This&lt;/b&gt; helped.\nThank you." in html and "<b>This</b>" not in html
    assert "Sam" in html
    [entry] = entries(app, entity="guide_comment")
    assert entry.action == "approve" and entry.actor == email
    assert entry.before == {"status": "pending"} and entry.after["status"] == "approved"


def test_rejected_comments_are_never_shown(app):
    guide_id = add_guide(app)
    rejected = add_comment(app, guide_id, "Buy cheap pills now")
    shown = add_comment(app, guide_id, "A kind comment", CommentStatus.APPROVED)
    admin, _ = logged_in_client(app, Role.ADMIN)
    token = csrf_token(admin.get("/staff/guides/comments").data)
    assert admin.post(f"/staff/guides/comments/{rejected}/reject",
                      data={"csrf_token": token}).status_code == 303
    # A rejected comment cannot be approved afterwards.
    refused = admin.post(f"/staff/guides/comments/{rejected}/approve",
                         data={"csrf_token": token}, follow_redirects=True)
    assert "cannot be approved" in text_of(refused)
    # An approved comment can still be taken down.
    assert admin.post(f"/staff/guides/comments/{shown}/reject",
                      data={"csrf_token": token}).status_code == 303
    statuses = {c.id: c.status for c in comment_rows(app)}
    assert statuses == {rejected: CommentStatus.REJECTED, shown: CommentStatus.REJECTED}
    html = app.test_client().get("/guides/benzodiazepines").get_data(as_text=True)
    assert "Buy cheap pills" not in html and "A kind comment" not in html
    assert "No comments yet." in html
    assert [e.action for e in entries(app, entity="guide_comment")] == ["reject", "reject"]


def test_the_honeypot_gets_the_same_thanks_and_nothing_is_stored(app):
    add_guide(app)
    before = row_counts(app)
    response = post_comment(app.test_client(), "benzodiazepines", body="Great site",
                            website="http://spam.example")
    assert response.status_code == 201
    assert "We received your comment" in text_of(response)
    assert row_counts(app) == before


def test_a_comment_without_a_csrf_token_is_refused(app):
    add_guide(app)
    response = app.test_client().post("/guides/benzodiazepines/comments",
                                      data={"body": "Hello", "website": ""})
    assert response.status_code == 400
    assert comment_rows(app) == []


@pytest.mark.parametrize("data, message", [
    ({"body": "   "}, "Write a comment."),
    ({"body": "x" * 2001}, "Keep it under 2,000 characters."),
    ({"body": "Fine", "display_name": "n" * 81}, "Keep it under 80 characters."),
])
def test_invalid_comments_are_shown_again_with_errors(app, data, message):
    add_guide(app)
    response = post_comment(app.test_client(), "benzodiazepines", **data)
    assert response.status_code == 400
    assert message in text_of(response)
    assert comment_rows(app) == []


def test_comments_are_rate_limited(databases, migrated_template):
    app = make_app(databases.new(template=migrated_template), COMMENT_RATE_LIMIT="2 per hour")
    try:
        add_guide(app)
        client = app.test_client()
        for n in range(2):
            assert post_comment(client, "benzodiazepines", body=f"Comment {n}").status_code \
                == 201
        assert post_comment(client, "benzodiazepines", body="One too many").status_code == 429
        assert len(comment_rows(app)) == 2
    finally:
        dispose(app)


def test_no_comments_on_drafts(app):
    add_guide(app, status=GuideStatus.DRAFT)
    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    response = client.post("/guides/benzodiazepines/comments",
                           data={"csrf_token": token, "body": "Hi", "website": ""})
    assert response.status_code == 404
    assert comment_rows(app) == []


# -- the admin pages --------------------------------------------------------------------------

def test_an_admin_writes_a_guide_through_the_real_form(app):
    admin, email = logged_in_client(app, Role.ADMIN)
    form = admin.get("/staff/guides/new")
    assert form.status_code == 200
    response = admin.post("/staff/guides/new",
                          data={**GUIDE_FORM, "csrf_token": csrf_token(form.data)})
    assert response.status_code == 303
    with app.app_context():
        guide = db.session.execute(select(Guide).where(Guide.slug == "cannabis")).scalar_one()
        assert guide.status == GuideStatus.PUBLISHED
        assert guide.related_services == ["DT", "SA"]
        assert guide.last_reviewed_on == date(2026, 11, 1)
        guide_id = guide.id
    [entry] = entries(app, entity="guide")
    assert entry.action == "create" and entry.actor == email and entry.after["slug"] == "cannabis"
    page = app.test_client().get("/guides/cannabis")
    assert page.status_code == 200 and "<li>one</li>" in page.get_data(as_text=True)

    edit = admin.get(f"/staff/guides/{guide_id}/edit")
    assert 'value="DT, SA"' in edit.get_data(as_text=True)
    response = admin.post(f"/staff/guides/{guide_id}/edit", data={
        **GUIDE_FORM, "status": "draft", "title": "Cannabis (marijuana)",
        "csrf_token": csrf_token(edit.data)})
    assert response.status_code == 303
    update = entries(app, entity="guide")[-1]
    assert update.action == "update"
    assert update.before["status"] == "published" and update.after["status"] == "draft"
    assert "status" in update.summary and "title" in update.summary
    assert app.test_client().get("/guides/cannabis").status_code == 404


@pytest.mark.parametrize("changes, field_message", [
    ({"slug": "Cannabis Guide"}, "Use lowercase letters, digits and single hyphens"),
    ({"slug": "benzodiazepines"}, "Another guide already uses this address."),
    ({"related_services": "DT, NOPE"}, "Unknown service code: NOPE."),
    ({"related_services": "D-T"}, "Not a service code: D-T."),
    ({"title": ""}, "Give the guide a title."),
    ({"body": ""}, "Write the guide."),
    ({"status": "archived"}, "Not a valid choice"),
    ({"last_reviewed_on": "yesterday"}, "Not a valid date value"),
])
def test_invalid_guides_are_refused_with_field_errors(app, changes, field_message):
    add_guide(app)
    admin, _ = logged_in_client(app, Role.ADMIN)
    before = row_counts(app)
    form = admin.get("/staff/guides/new")
    response = admin.post("/staff/guides/new",
                          data={**GUIDE_FORM, **changes, "csrf_token": csrf_token(form.data)})
    assert response.status_code == 400
    assert field_message in text_of(response)
    assert row_counts(app) == before


def test_operators_read_the_staff_pages_but_cannot_change_anything(app):
    guide_id = add_guide(app)
    comment_id = add_comment(app, guide_id, "Pending words")
    operator, _ = logged_in_client(app, Role.OPERATOR)
    for path in ("/staff/guides/", "/staff/guides/comments", f"/staff/guides/{guide_id}/edit",
                 f"/staff/guides/{guide_id}/preview"):
        assert operator.get(path).status_code == 200, path
    queue = operator.get("/staff/guides/comments")
    assert "Pending words" in queue.get_data(as_text=True)
    assert "Approve</button>" not in queue.get_data(as_text=True)
    token = csrf_token(queue.data)
    before = row_counts(app)
    for path, data in (
        ("/staff/guides/new", GUIDE_FORM),
        (f"/staff/guides/{guide_id}/edit", GUIDE_FORM),
        (f"/staff/guides/comments/{comment_id}/approve", {}),
        (f"/staff/guides/comments/{comment_id}/reject", {}),
    ):
        assert operator.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert row_counts(app) == before
    anonymous = app.test_client()
    assert anonymous.get("/staff/guides/comments").status_code == 302


def test_an_admin_post_without_a_token_is_refused(app):
    admin, _ = logged_in_client(app, Role.ADMIN)
    before = row_counts(app)
    assert admin.post("/staff/guides/new", data=GUIDE_FORM).status_code == 400
    assert row_counts(app) == before


# -- seeding ----------------------------------------------------------------------------------

def test_seeding_adds_the_guides_once_and_leaves_admins_edits_alone(app):
    with app.app_context():
        first = seed_guides(db.session)
        db.session.commit()
        assert (first.created, first.kept) == (len(GUIDES), 0)
        guide = db.session.execute(
            select(Guide).where(Guide.slug == "benzodiazepines")).scalar_one()
        assert guide.status == GuideStatus.PUBLISHED
        assert guide.last_reviewed_on == SEED_REVIEWED_ON
        guide.title = "Benzodiazepines, edited by an admin"
        db.session.commit()
        again = seed_guides(db.session)
        db.session.commit()
        assert (again.created, again.kept) == (0, len(GUIDES))
        assert db.session.get(Guide, guide.id).title == "Benzodiazepines, edited by an admin"
        assert db.session.execute(select(db.func.count()).select_from(Guide)).scalar_one() \
            == len(GUIDES)


def test_the_seeded_guides_are_published_and_point_to_988_and_samhsa(client, national_app):
    index = client.get("/guides")
    assert index.status_code == 200
    with national_app.app_context():
        slugs = db.session.execute(select(Guide.slug)).scalars().all()
    assert {g.slug for g in GUIDES} <= set(slugs)
    benzo = client.get("/guides/benzodiazepines")
    text = text_of(benzo)
    assert "clonazepam" in text
    assert "never stop suddenly without medical help" in text.lower()
    assert "seizures" in text
    for seed in GUIDES:
        page = text_of(client.get(f"/guides/{seed.slug}"))
        assert "988" in page and "1-800-662-4357" in page, seed.slug
        assert f"Last reviewed {SEED_REVIEWED_ON:%B} {SEED_REVIEWED_ON.day}" in page
    # Every related service code is in the seeded taxonomy, so each search link works.
    for seed in GUIDES:
        query = "&".join(f"service={code}" for code in seed.related_services)
        assert client.get(f"/search?location=22902&{query}").status_code == 200, seed.slug
