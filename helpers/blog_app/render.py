"""Milestone 3: Markdown to HTML that is safe to put in a page."""

import nh3
from markdown_it import MarkdownIt

#: The tags and attributes Markdown produces; anything else is removed by the sanitiser.
TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
        "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text):
    """HTML for a post's Markdown: raw HTML escaped, then sanitised (allow-listed tags and
    attributes, http(s)/mailto links only, rel="nofollow noopener noreferrer" on links)."""
    html = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough").render(text)
    # Defence in depth: even if a Markdown feature or a parser bug lets markup through,
    # only allow-listed tags, attributes and URL schemes survive.
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="nofollow noopener noreferrer")
