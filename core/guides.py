"""The guides under ``docs/`` as HTML: ``/docs/`` lists them, ``/docs/<name>/`` shows one (web),
and each ``/problems/<slug>`` page shows that problem's section of docs/problems.md (core.views).

Markdown is CommonMark (markdown-it-py) with tables, and with raw HTML off: a ``<tag>`` in a
guide is shown as text, never passed through, so a page holds only the elements the renderer
writes and the Content-Security-Policy of the pages (core.middleware) holds. A link from one
guide to another (``hijack.md#why``) becomes the served URL (``/docs/hijack/#why``); a link to a
file the service does not serve (a screenshot, a benchmark's results) is kept as text.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

# A guide's name is its file's stem; nothing else under docs/ is ever opened.
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_GUIDE_LINK = re.compile(r"(?:\.\./)?(?:docs/)?(?P<name>[a-z0-9][a-z0-9-]*)\.md(?P<fragment>#.*)?")


@dataclass(frozen=True)
class Guide:
    name: str
    title: str
    summary: str


@dataclass(frozen=True)
class GuideRendered:
    guide: Guide
    html: str


def docs_dir() -> Path:
    return Path(settings.BASE_DIR) / "docs"


def _path(name: str) -> Path | None:
    if not _NAME.fullmatch(name):
        return None
    path = docs_dir() / f"{name}.md"
    return path if path.is_file() else None


def heading_anchor(text: str) -> str:
    """The ``id`` of a heading, as GitHub writes it, so that ``guide.md#section`` links hold."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _plain(inline: Token) -> str:
    return "".join(child.content for child in inline.children or [] if child.content)


def _headings_anchored(state: StateCore) -> None:
    tokens = state.tokens
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open":
            opening.attrSet("id", heading_anchor(_plain(inline)))


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return not (parts.scheme or parts.netloc or url.startswith(("/", "#")))


def _links_served(state: StateCore) -> None:
    for block in state.tokens:
        children = block.children or []
        for index, token in enumerate(children):
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                if not _local(href):
                    continue
                match = _GUIDE_LINK.fullmatch(href)
                if match and _path(match["name"]):
                    url = reverse("web-guide", args=[match["name"]])
                    token.attrSet("href", url + (match["fragment"] or ""))
                else:
                    token.attrs.pop("href", None)  # a file the service does not serve: text
            elif token.type == "image" and _local(str(token.attrGet("src") or "")):
                children[index] = Token("text", "", 0, content=token.content)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    md.core.ruler.push("headings_anchored", _headings_anchored)
    md.core.ruler.push("links_served", _links_served)
    return md


_MARKDOWN = _renderer()


def markdown_render(text: str) -> str:
    """Markdown to HTML, raw HTML escaped, links between guides pointed at their pages."""
    return str(_MARKDOWN.render(text))


def _guide_parse(name: str, text: str) -> Guide:
    title, summary = name, ""
    for block in text.split("\n\n"):
        block = block.strip()
        if block.startswith("# ") and title == name:
            title = block.splitlines()[0][2:].strip()
        elif block and not block.startswith(("#", "```", "|", "-", ">", "<")):
            summary = " ".join(block.split())
            break
    return Guide(name=name, title=title, summary=summary)


@functools.lru_cache(maxsize=64)
def _guide_read(path: Path, mtime_ns: int) -> GuideRendered:
    text = path.read_text(encoding="utf-8")
    return GuideRendered(guide=_guide_parse(path.stem, text), html=markdown_render(text))


def guide_rendered(name: str) -> GuideRendered | None:
    """One guide, rendered (once per version of its file), or None when there is no such guide."""
    path = _path(name)
    if path is None:
        return None
    return _guide_read(path, path.stat().st_mtime_ns)


def guides() -> list[Guide]:
    """Every guide, by title."""
    found = [guide_rendered(path.stem) for path in sorted(docs_dir().glob("*.md"))]
    return sorted((shown.guide for shown in found if shown), key=lambda guide: guide.title)


# The guide whose "## <slug>" sections give each problem type's causes and fixes.
PROBLEMS_GUIDE = "problems"


def problem_sections() -> dict[str, str]:
    """The Markdown of each ``## <slug>`` section of docs/problems.md, by slug."""
    path = _path(PROBLEMS_GUIDE)
    text = path.read_text(encoding="utf-8") if path else ""
    sections: dict[str, str] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        slug, _, body = part.partition("\n")
        sections[slug.strip()] = body.strip()
    return sections


def problem_causes(slug: str) -> str | None:
    """A problem type's causes and fixes, rendered, or None when the guide has none for it."""
    body = problem_sections().get(slug)
    return markdown_render(body) if body else None
