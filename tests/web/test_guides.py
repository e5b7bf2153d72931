"""The guides under docs/ served as pages: listed, rendered, linked to each other, and safe."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.guides import docs_dir, heading_anchor, markdown_render
from core.middleware import CONTENT_SECURITY_POLICY
from tests.web.test_pages import page

pytestmark = pytest.mark.django_db

GUIDES = sorted(path.stem for path in docs_dir().glob("*.md"))


def test_the_home_page_links_the_guides_and_the_api_references(client: Any) -> None:
    content = page(client, "/")
    for link in ('href="/docs/"', 'href="/api/docs/"', 'href="/api/redoc/"'):
        assert link in content


def test_the_index_lists_every_guide_beside_swagger_and_redoc(client: Any) -> None:
    content = page(client, "/docs/")
    for name in GUIDES:
        assert f'href="/docs/{name}/"' in content, name
    assert 'href="/api/docs/"' in content and 'href="/api/redoc/"' in content


@pytest.mark.parametrize("name", GUIDES)
def test_each_guide_is_rendered_with_the_strict_policy_and_loads_nothing_else(
    client: Any, name: str
) -> None:
    content = page(client, f"/docs/{name}/")
    title = (docs_dir() / f"{name}.md").read_text().splitlines()[0].removeprefix("# ")
    assert re.search(r"<h1 id=\"[^\"]+\">", content), name
    assert title.split("`")[0].strip() in content
    # Links may name other hosts (RFCs, C2SP); nothing is loaded from anywhere.
    assert " src=" not in content and "<script" not in content, name
    assert "](" not in re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", content, flags=re.S), name


def test_links_between_guides_point_at_their_pages_and_their_anchors_exist(client: Any) -> None:
    content = page(client, "/docs/integration/")
    assert 'href="/docs/hijack/"' in content or 'href="/docs/auditing/"' in content
    for name, fragment in re.findall(r'href="/docs/([a-z0-9-]+)/#([^"]+)"', content):
        target = page(client, f"/docs/{name}/")
        assert f'id="{fragment}"' in target, (name, fragment)
    assert ".md" not in "".join(re.findall(r'href="([^"]*)"', content))


def test_raw_html_in_a_guide_is_shown_as_text_never_run() -> None:
    rendered = markdown_render(
        "# T\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[x](javascript:alert(1)) [shot](screenshots/a.png) ![alt](screenshots/a.png)"
    )
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered
    assert "javascript:" not in rendered.split("[x]")[0].replace("&lt;", "")
    assert 'href="javascript' not in rendered and "screenshots/" not in rendered


def test_headings_get_the_anchors_github_gives_them() -> None:
    assert heading_anchor("Witnesses: the checkpoint others saw, too") == (
        "witnesses-the-checkpoint-others-saw-too"
    )


def test_an_unknown_guide_is_a_404_page(client: Any) -> None:
    response = client.get("/docs/no-such-guide/")
    assert response.status_code == 404
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert client.get("/docs/..%2fREADME/").status_code == 404
