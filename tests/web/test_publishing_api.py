"""Admin API, publishing: roles, draft → review → published together, audit, deadlines."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import frontmatter
import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.conftest import CONTENT, make_settings

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


async def publish(client: TestClient, policy_id: str, role: str, status: int, **extra: Any) -> Any:
    """Publish as a reviewer does: with the hash of the version they read."""
    shown = await call(client, "GET", f"/api/v1/admin/policies/{policy_id}", role, 200)
    seen = {"version_hash": shown["version"]["version_hash"]} if shown["version"] else {}
    path = f"/api/v1/admin/policies/{policy_id}/publish"
    return await call(client, "POST", path, role, status, json={**seen, **extra})


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
    body = await publish(admin, "demo-2025-1", "reviewer", 409)
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
    await publish(admin, "demo-2025-1", "publisher", 403)
    published = await publish(admin, "demo-2025-1", "reviewer", 200)
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
    body = await publish(admin, "own-1", "admin", 403)
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


def simple(policy_id: str, body: str, **extra: Any) -> dict[str, Any]:
    return draft(policy_id, requires_interpretation=False, body=body, **extra)


async def test_a_published_policy_is_corrected_as_a_new_version(admin: TestClient) -> None:
    base = "/api/v1/admin/policies/fix-1"
    interp = {"id": "jd-fix-1", "title": "解读", "policy": "fix-1", "body": "第一版解读"}
    await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201,
               json=simple("fix-1", "补助标准为每人每月100元。", interpretations=[interp]))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    await publish(admin, "fix-1", "reviewer", 200)
    first = await call(admin, "GET", f"{base}/versions", "editor", 200)

    # the correction is written beside the live page, which does not change until published
    fixed = {**interp, "body": "第二版解读"}
    saved = await call(admin, "PUT", base, "publisher", 200,
                       json=simple("fix-1", "补助标准为每人每月120元。", interpretations=[fixed]))  # fmt: skip
    assert saved["status"] == "published" and saved["version"]["number"] == 2
    page = await (await admin.get("/policies/fix-1")).text()
    assert "100元" in page and "120元" not in page
    diff = await call(admin, "GET", f"{base}/diff", "reviewer", 200)
    assert "100元" in diff["html"] and "120元" in diff["html"] and 'class="del"' in diff["html"]
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    waiting = await call(admin, "GET", "/api/v1/admin/policies?status=review", "reviewer", 200)
    assert "fix-1" in {p["id"] for p in waiting["items"]}  # a correction waits for review too
    await publish(admin, "fix-1", "reviewer", 200)

    assert (await admin.get("/policies/fix-1")).status == 200
    page = await (await admin.get("/policies/fix-1")).text()
    assert "120元" in page and "100元" not in page
    assert "第二版解读" in await (await admin.get("/interpretations/jd-fix-1")).text()
    versions = (await call(admin, "GET", f"{base}/versions", "editor", 200))["items"]
    assert [(v["number"], v["state"]) for v in versions] == [(2, "published"), (1, "superseded")]
    assert versions[1]["version_hash"] == first["items"][0]["version_hash"]
    assert versions[0]["published_on"] == versions[1]["published_on"]  # 发布日期 stays the first
    trail = await call(admin, "GET", "/api/v1/admin/audit?object_id=fix-1&action=policy.publish",
                       "admin", 200)  # fmt: skip
    hashes = [(e["detail"]["version"], e["detail"]["hash"]) for e in reversed(trail["items"])]
    assert hashes == [(v["number"], v["version_hash"]) for v in reversed(versions)]
    assert trail["items"][0]["detail"]["previous_hash"] == versions[1]["version_hash"]


async def test_a_withdrawn_policy_is_edited_and_published_again(admin: TestClient) -> None:
    base = "/api/v1/admin/policies/wd-1"
    await call(
        admin, "POST", "/api/v1/admin/policies", "publisher", 201, json=simple("wd-1", "旧文")
    )
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    await publish(admin, "wd-1", "reviewer", 200)
    body = await call(admin, "POST", f"{base}/submit", "publisher", 409)
    assert "已发布" in body["error"]["message"]  # the real state, not "draft"
    body = await call(admin, "POST", "/api/v1/admin/policies", "publisher", 409,
                      json=simple("wd-1", "重复"))  # fmt: skip
    assert "已发布" in body["error"]["message"] and "新版本" in body["error"]["message"]

    await call(admin, "POST", f"{base}/withdraw", "reviewer", 200, json={"reason": "有误"})
    assert (await admin.get("/policies/wd-1")).status == 404
    body = await call(admin, "POST", f"{base}/withdraw", "reviewer", 409)
    assert "已撤回" in body["error"]["message"]
    await call(admin, "PUT", base, "publisher", 200, json=simple("wd-1", "更正后的正文"))
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    await publish(admin, "wd-1", "reviewer", 200)
    assert "更正后的正文" in await (await admin.get("/policies/wd-1")).text()

    # re-created under the same id after a second withdrawal: a new version, same URL
    await call(admin, "POST", f"{base}/withdraw", "reviewer", 200)
    await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201,
               json=simple("wd-1", "重新创建的正文"))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    await publish(admin, "wd-1", "reviewer", 200)
    assert "重新创建的正文" in await (await admin.get("/policies/wd-1")).text()
    versions = (await call(admin, "GET", f"{base}/versions", "editor", 200))["items"]
    assert [v["number"] for v in versions] == [3, 2, 1]


async def test_approval_is_bound_to_the_version_reviewed(admin: TestClient) -> None:
    base = "/api/v1/admin/policies/bound-1"
    await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201,
               json=simple("bound-1", "审阅时的正文"))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    seen = (await call(admin, "GET", base, "reviewer", 200))["version"]["version_hash"]
    body = await call(admin, "POST", f"{base}/publish", "reviewer", 422, json={})
    assert body["error"]["code"] == "version_hash_required"

    # changed after the reviewer read it, and submitted again
    await call(admin, "PUT", base, "publisher", 200, json=simple("bound-1", "审阅后偷改的正文"))
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    body = await call(
        admin, "POST", f"{base}/publish", "reviewer", 409, json={"version_hash": seen}
    )
    assert body["error"]["code"] == "version_changed"
    assert (await admin.get("/policies/bound-1")).status == 404
    await publish(admin, "bound-1", "reviewer", 200)  # after reading the new version

    # the author, not only the submitter: an admin who wrote into the text cannot publish it
    await call(admin, "PUT", base, "admin", 200, json=simple("bound-1", "管理员改写的正文"))
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    body = await publish(admin, "bound-1", "admin", 403)
    assert body["error"]["code"] == "own_submission"
    await publish(admin, "bound-1", "reviewer", 200)


async def test_publication_dates_cannot_be_backdated(admin: TestClient) -> None:
    body = await call(admin, "POST", "/api/v1/admin/policies", "publisher", 422,
                      json=simple("dt-1", "x", written_on="2025-03-01", published_on="2025-02-01"))  # fmt: skip
    assert "早于成文日期" in body["error"]["message"]
    # typed as if disclosed in time (the deadline was 2025-02-06), published much later
    base = "/api/v1/admin/policies/dt-2"
    await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201,
               json=simple("dt-2", "x", written_on="2025-01-02", published_on="2025-01-03"))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    body = await publish(admin, "dt-2", "reviewer", 422)
    assert body["error"]["code"] == "backdated" and "倒签" in body["error"]["message"]
    await call(admin, "PUT", base, "publisher", 200,
               json=simple("dt-2", "x", written_on="2025-01-02"))  # fmt: skip
    await call(admin, "POST", f"{base}/submit", "publisher", 200)
    published = await publish(admin, "dt-2", "reviewer", 200)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert published["published_on"] == today and published["published_at"]
    report = await call(admin, "GET", "/api/v1/admin/reports/deadlines", "reviewer", 200)
    late = {i["policy_id"]: i for i in report["late"]}
    assert late["dt-2"]["published_on"] == today  # counted from the real publication


def _front_matter(path: Path, **changes: Any) -> dict[str, Any]:
    post = frontmatter.load(str(path))
    meta = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in post.metadata.items()}
    return {**meta, "body": post.content, **changes}


async def test_the_api_takes_content_files_as_they_are_and_documents_every_body(
    admin: TestClient,
) -> None:
    spec = await call(admin, "GET", "/api/v1/openapi.json", None, 200)
    schemas = spec["components"]["schemas"]
    # a policy file and its interpretation file, field for field, under new ids
    interp = _front_matter(
        CONTENT / "interpretations/jd-qmf-2023-9-dibao-procedure.md",
        id="jd-copy-1", policy="copy-1",
    )  # fmt: skip
    body = _front_matter(
        CONTENT / "policies/qmf-2023-9-dibao-procedure.md", id="copy-1", interpretations=[interp]
    )
    body.pop("published_on", None)
    resolver = {"$defs": schemas}
    schema = json.loads(
        json.dumps(schemas["PolicyBody"]).replace("#/components/schemas/", "#/$defs/")
    )
    jsonschema.validate(body, {**schema, **resolver})
    saved = await call(admin, "POST", "/api/v1/admin/policies", "publisher", 201, json=body)
    assert [i["id"] for i in saved["interpretations"]] == ["jd-copy-1"]
    wrong = {**interp, "id": "jd-copy-2", "policy": "qmf-2023-9-dibao-procedure"}
    refused = await call(admin, "POST", "/api/v1/admin/policies", "publisher", 422,
                         json={**body, "id": "copy-2", "interpretations": [wrong]})  # fmt: skip
    assert "policy" in refused["error"]["message"]

    assert set(schemas["PolicyBody"]["properties"]) >= {"id", "title", "doc_number", "body",
                                                       "interpretations", "validity"}  # fmt: skip
    assert "policy" in schemas["InterpretationBody"]["properties"]
    takes_body = {("post", "/api/v1/admin/policies"), ("put", "/api/v1/admin/policies/{id}"),
                  ("post", "/api/v1/admin/policies/{id}/publish"),
                  ("post", "/api/v1/admin/campaigns"), ("post", "/api/v1/admin/feedback/{id}/answer")}  # fmt: skip
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                assert (method, path) not in takes_body, (method, path)
                continue
            content = operation["requestBody"]["content"]
            if "application/octet-stream" in content:  # a file upload: bytes, not fields
                continue
            ref = content["application/json"]["schema"]["$ref"]
            described = schemas[ref.rsplit("/", 1)[1]]
            assert described.get("properties"), (method, path, ref)  # never a bare Object
