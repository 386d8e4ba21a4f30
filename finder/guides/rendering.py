"""Guide bodies: Markdown to HTML, then sanitized so only a few plain tags reach the page."""

from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

#: Headings start at h2: the guide's title is the page's h1.
ALLOWED_TAGS = frozenset({"p", "h2", "h3", "ul", "ol", "li", "strong", "em", "a"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
#: Links with any other scheme (javascript:, data:, ...) lose their href. Links without a
#: scheme (finder's own pages, like /where-do-calls-go) are kept.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
#: Removed with everything inside them; other disallowed tags are removed but keep their text.
DROPPED_WITH_CONTENT = frozenset({"script", "style"})
LINK_REL = "noopener nofollow"


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(source: str | None) -> Markup:
    """Safe HTML for a guide's Markdown ``source`` (marked safe only after sanitizing)."""
    html = markdown.markdown(source or "", output_format="html")
    return Markup(sanitize(html))
