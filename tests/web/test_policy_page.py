"""The policy page as a gov.cn page has it: attachments served safely, print, share,
related policies, search on the list, and 关怀版's first screen; uploads by staff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.conftest import CONTENT, make_settings
from tests.web.test_publishing_api import auth, call, publish

DIBAO = "/policies/qmf-2023-9-dibao-procedure"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


@pytest.fixture
async def site(db_url: str, fake_wechat: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    from tests.web.test_publishing_api import TOKENS

    tokens = [{"token": t, "role": role, "name": f"{role}-li"} for role, t in TOKENS.items()]
    settings = make_settings(
        db_url, fake_wechat.url, CONTENT, admin={"api_tokens": tokens},
        content={"sync_on_start": True}, attachments={"dir": str(tmp_path / "up"), "max_bytes": 4096},
    )  # fmt: skip
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as client:
        yield client


async def test_attachments_are_shown_and_served_by_what_their_bytes_are(
    site: TestClient, tmp_path: Path
) -> None:
    page = await (await site.get(DIBAO)).text()
    assert '<img src="/attachments/qmf-2023-9-tujie.png"' in page  # 图解 inline
    assert 'href="/attachments/qmf-2023-9-original.pdf" download' in page
    pdf = await site.get("/attachments/qmf-2023-9-original.pdf")
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in pdf.headers["Content-Security-Policy"]
    assert (await pdf.read()).startswith(b"%PDF-")
    image = await site.get("/attachments/qmf-2023-9-tujie.png")
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline;")

    # a page named like an image is not served as anything; nor a path outside the folder
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "evil.png").write_bytes(b"<html><script>alert(1)</script>")
    assert (await site.get("/attachments/evil.png")).status == 404
    assert (await site.get("/attachments/..%2Fpolicybot.sqlite3")).status == 404


async def test_staff_upload_an_attachment_and_the_page_shows_it(site: TestClient) -> None:
    path = "/api/v1/admin/attachments"
    assert (await site.post(path, data=PNG, headers=auth("editor"))).status == 403
    html = b"<!doctype html><script>alert(1)</script>"
    refused = await call(site, "POST", path, "publisher", 422, data=html)
    assert refused["error"]["code"] == "file_type"
    too_big = await call(site, "POST", path, "publisher", 422, data=PNG + b"\x00" * 5000)
    assert too_big["error"]["code"] == "file_too_large" and "MB" in too_big["error"]["message"]
    image = await call(site, "POST", path, "publisher", 201, data=PNG)
    video = await call(site, "POST", path, "publisher", 201, data=MP4)
    assert image["kind"] == "image" and video["content_type"] == "video/mp4"

    body = {"id": "att-1", "title": "关于印发图解的通知", "issuer": "青山县民政局",
            "written_on": "2025-01-02", "topics": ["relief"], "body": "正文",
            "attachments": [{"file": image["file"], "title": "一图读懂"},
                            {"file": video["file"], "title": "视频解读"}]}  # fmt: skip
    await call(site, "POST", "/api/v1/admin/policies", "publisher", 201, json=body)
    await call(site, "POST", "/api/v1/admin/policies/att-1/submit", "publisher", 200)
    await publish(site, "att-1", "reviewer", 200)
    page = await (await site.get("/policies/att-1")).text()
    assert f'<img src="/attachments/{image["file"]}" alt="一图读懂"' in page
    assert f'<video src="/attachments/{video["file"]}" controls' in page
    served = await site.get(f"/attachments/{video['file']}", headers={"Range": "bytes=0-7"})
    assert served.status == 206 and served.headers["Content-Type"] == "video/mp4"


async def test_print_share_related_and_care_first_screen(site: TestClient) -> None:
    page = await (await site.get(DIBAO)).text()
    assert 'id="print-page"' in page and 'src="/static/page.js"' in page
    assert 'value="http://policy.test/policies/qmf-2023-9-dibao-procedure"' in page
    css = await (await site.get("/static/site.css")).text()
    assert "@media print" in css
    script = await (await site.get("/static/page.js")).text()
    assert "clipboard" in script and "http" not in script.split("\n", 2)[2]  # nothing fetched
    related = page[page.index('id="related-heading"') :]
    assert 'href="/policies/qzb-2024-12-dibao-standard"' in related  # same topic and area
    assert 'href="/policies/qmf-2023-9-dibao-procedure"' not in related

    standard = page.index('id="meta"'), page.index('id="interp-heading"')
    assert standard[0] < standard[1]  # the standard page keeps metadata first
    care = await (await site.get(DIBAO, params={"care": "1"})).text()
    order = [
        care.index(mark) for mark in ("<h1>", 'id="summary"', 'id="interp-heading"', 'id="meta"')
    ]
    assert order == sorted(order)  # 关怀版: title, summary, interpretation, then metadata


async def test_the_list_searches_with_q(site: TestClient) -> None:
    everything = await (await site.get("/policies")).text()
    assert 'name="q"' in everything
    found = await (await site.get("/policies", params={"q": "低保怎么申请"})).text()
    assert "qmf-2023-9-dibao-procedure" in found and "“低保怎么申请”的搜索结果" in found
    assert found.count('class="title"') < everything.count('class="title"')
    assert "/policies/qzf-2023-3-land-expropriation" not in found
    nothing = await (await site.get("/policies", params={"q": "火星移民补贴"})).text()
    assert "找到 0 篇相关政策" in nothing
