"""Admin API, publishing: roles, draft → review → published together, audit, deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.conftest import make_settings

TOKENS = {
    "publisher": "pub-secret-7f3a9c2e5b8d1f4a",
    "reviewer": "rev-secret-7f3a9c2e5b8d1f4a",
    "editor": "edit-secret-7f3a9c2e5b8d1f4a",
    "admin": "adm-secret-7f3a9c2e5b8d1f4a",
}
HOSTILE = """关于开展示范工作的说明。

<script>alert("xss")</script>
[点我](javascript:alert(1)) <img src=x onerror="alert(2)"> <a href="https://example.gov.cn/" onclick="x()">官网</a>
"""


@pytest.fixture
async def admin(db_url: str, fake_wechat: Any) -> AsyncIterator[TestClient]:
    tokens = [{"token": t, "role": role, "name": f"{role}-zhang"} for role, t in TOKENS.items()]
    settings = make_settings(
        db_url, fake_wechat.url, admin={"api_tokens": tokens}, content={"sync_on_start": True}
    )
    async with TestClient(TestServer(create_app(settings, role="web"), host="127.0.0.1")) as client:
        yield client


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def draft(policy_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": policy_id,
        "title": "青山县关于开展政务公开示范点建设的通知",
        "issuer": "青山县人民政府办公室",
        "written_on": "2025-01-02",
        "doc_number": "青政办〔2025〕1号",
        "areas": ["社会救助"],
        "topics": ["relief"],
        "requires_interpretation": True,
        "body": HOSTILE,
        **extra,
    }


async def call(
    client: TestClient, method: str, path: str, role: str | None, status: int, **kw: Any
) -> Any:
    headers = auth(role) if role else {}
    response = await client.request(method, path, headers=headers, **kw)
    body = await response.json()
    assert response.status == status, (path, body)
    return body


async def test_tokens_and_roles(admin: TestClient) -> None:
    path = "/api/v1/admin/policies"
    response = await admin.post(path, json=draft("p-1"))
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"]["code"] == "unauthorized"
    response = await admin.post(path, json=draft("p-1"), headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    body = await call(admin, "POST", path, "editor", 403, json=draft("p-1"))
    assert body["error"]["code"] == "forbidden"
    await call(admin, "POST", path, "reviewer", 403, json=draft("p-1"))
    # content files are managed by content sync, not the API
    body = await call(
        admin, "PUT", f"{path}/qzb-2024-12-dibao-standard", "publisher", 409, json=draft("x")
    )
    assert body["error"]["code"] == "managed_by_content"
    body = await call(
        admin, "POST", path, "publisher", 422, json=draft("Bad Id", written_on="2025-02-30")
    )
    assert "written_on" in body["error"]["message"] and "id" in body["error"]["message"]


async def test_policy_and_interpretations_are_published_together(admin: TestClient) -> None:
    base = "/api/v1/admin/policies/demo-2025-1"
    await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201, json=draft("demo-2025-1"))
    # requires_interpretation: cannot go out alone
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    body = await call(admin, "POST", f"{base}/publish", "reviewer", 409)
    assert body["error"]["code"] == "interpretation_required"
    await call(admin, "POST", f"{base}/reject", "reviewer", 200, json={"reason": "缺少解读"})

    interps = [
        {"id": "jd-demo-2025-1", "title": "一图读懂示范点建设", "form": "图解", "body": HOSTILE},
        {"id": "wz-demo-2025-1", "title": "示范点建设政策解读", "body": "谁能申请？"},
    ]
    saved = await call(
        admin, "PUT", base, "publisher", 200, json=draft("demo-2025-1", interpretations=interps)
    )
    assert {i["status"] for i in saved["interpretations"]} == {"draft"}
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    assert (await admin.get("/policies/demo-2025-1")).status == 404  # not public before publishing
    await call(admin, "POST", f"{base}/publish", "publisher", 403)
    published = await call(admin, "POST", f"{base}/publish", "reviewer", 200)
    assert published["status"] == "published"
    assert {i["status"] for i in published["interpretations"]} == {"published"}

    page = await (await admin.get("/policies/demo-2025-1")).text()
    assert (
        'href="/interpretations/jd-demo-2025-1"' in page
        and 'href="/interpretations/wz-demo-2025-1"' in page
    )
    for html in (page, await (await admin.get("/interpretations/jd-demo-2025-1")).text()):
        assert "<script>alert" not in html and "javascript:" not in html
        assert "onerror" not in html and "onclick" not in html
        assert 'href="https://example.gov.cn/"' in html  # ordinary links survive

    trail_path = "/api/v1/admin/audit?object_id=demo-2025-1"
    await call(admin, "GET", trail_path, "editor", 403)  # the trail is for admins only
    trail = await call(admin, "GET", trail_path, "admin", 200)
    steps = [(e["action"], e["actor"]) for e in reversed(trail["items"])]
    assert steps == [
        ("policy.create", "publisher-zhang"),
        ("policy.submit", "publisher-zhang"),
        ("policy.reject", "reviewer-zhang"),
        ("policy.update", "publisher-zhang"),
        ("policy.submit", "publisher-zhang"),
        ("policy.publish", "reviewer-zhang"),
    ]
    await call(admin, "POST", f"{base}/withdraw", "reviewer", 200)
    assert (await admin.get("/interpretations/jd-demo-2025-1")).status == 404


async def test_no_one_publishes_their_own_submission(admin: TestClient) -> None:
    base = "/api/v1/admin/policies/own-1"
    await call(admin, "POST", "/api/v1/admin/policies", "admin", 201,
               json=draft("own-1", requires_interpretation=False))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "admin", 200)
    body = await call(admin, "POST", f"{base}/publish", "admin", 403)
    assert body["error"]["code"] == "own_submission"


async def test_deadline_report_lists_late_and_at_risk(admin: TestClient) -> None:
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    for policy_id, written in (("late-1", "2025-01-02"), ("fresh-1", today)):
        await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201,
                   json=draft(policy_id, written_on=written, requires_interpretation=False))  # fmt: skip
    report = await call(admin, "GET", "/api/v1/admin/reports/deadlines", "reviewer", 200)
    late = {i["policy_id"]: i for i in report["late"]}
    assert "late-1" in late and late["late-1"]["deadline"] == "2025-02-06"  # 春节 counted
    assert late["late-1"]["working_days_left"] < 0
    assert "fresh-1" not in late and "fresh-1" not in {i["policy_id"] for i in report["at_risk"]}
    report = await call(
        admin, "GET", "/api/v1/admin/reports/deadlines?at_risk_days=25", "reviewer", 200
    )
    assert "fresh-1" in {i["policy_id"] for i in report["at_risk"]}
