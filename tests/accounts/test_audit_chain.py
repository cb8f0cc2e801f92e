"""The audit trail's hash chain: a changed or deleted row is found, concurrent writers keep one chain."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from tortoise import connections

from bot import audit
from bot.audit import Actor
from bot.services import Services
from tests.web.console_helpers import bearer, log_in, staff_client, staff_settings

WHO = Actor("李编辑", "editor", "10.0.0.7")


async def _sql(statement: str) -> None:
    await connections.get("default").execute_script(statement)


async def test_changed_and_deleted_rows_are_reported(services: Services) -> None:
    for i in range(1, 6):
        await audit.record(WHO, "policy.update", "policy", f"p-{i}", n=i, note="改动前")
    result = await audit.verify()
    assert result.ok and result.checked == 5
    newest = await audit.AuditEntry.all().order_by("-id").first()
    assert newest is not None and result.head == newest.hash

    await _sql("UPDATE audit_entry SET actor = '王审核' WHERE id = 2")
    await _sql("DELETE FROM audit_entry WHERE id = 4")
    result = await audit.verify()
    assert not result.ok and result.checked == 4
    assert result.problems == ["第 2 条记录的内容被改动", "第 3 条与第 5 条之间的记录被删除或改动"]

    # Rewriting a row's own hash to match does not help: the next row still names the old one.
    entry = await audit.AuditEntry.get(id=2)
    await _sql(f"UPDATE audit_entry SET hash = '{audit.digest(entry)}' WHERE id = 2")
    assert (await audit.verify()).problems == [
        "第 2 条与第 3 条之间的记录被删除或改动", "第 3 条与第 5 条之间的记录被删除或改动",
    ]  # fmt: skip


async def test_changed_detail_is_reported(services: Services) -> None:
    await audit.record(WHO, "campaign.approve", "campaign", 1, audience=120)
    await audit.record(WHO, "campaign.approve", "campaign", 2, audience=80)
    await _sql("UPDATE audit_entry SET detail = '{\"audience\": 1}' WHERE id = 1")
    assert (await audit.verify()).problems == ["第 1 条记录的内容被改动"]


async def test_concurrent_writers_keep_one_chain(services: Services) -> None:
    await asyncio.gather(*(audit.record(WHO, "x.act", "x", i) for i in range(30)))
    result = await audit.verify()
    assert result.ok and result.checked == 30


async def test_admin_reads_checks_and_exports_the_trail(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        await audit.record(
            Actor('=HYPERLINK("http://x.test")', "", "10.9.9.9"), "login.failure", "account", "=1+1"
        )  # fmt: skip  (what a visitor may type as a name)
        await log_in(client, "管理员")
        page = await client.get("/admin/audit?verify=1")
        text = await page.text()
        assert page.status == 200 and "哈希链完整" in text and "登录成功" in text
        export = await client.get("/admin/audit.csv")
        assert export.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO((await export.read()).decode("utf-8-sig"))))
        assert [(r["actor"], r["action"], r["address"]) for r in rows] == [
            ('\'=HYPERLINK("http://x.test")', "login.failure", "10.9.9.9"),
            ("管理员", "login.success", "127.0.0.1"),
        ]  # a spreadsheet shows the first as text, never runs it
        assert rows[0]["object_id"] == "'=1+1"
        assert rows[0]["prev_hash"] == "" and len(rows[0]["hash"]) == 64

        filtered = await (await client.get("/admin/audit?actor=管理员&action=logout")).text()
        assert "共 0 条" in filtered
        api = await client.get(
            "/api/v1/admin/audit/verify", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
        )
        assert api.status == 403
        await _sql("UPDATE audit_entry SET address = '8.8.8.8' WHERE id = 2")
        admin_token = {"Authorization": "Bearer tok-admin-7f3a9c2e5b8d1f4a"}
        checked = await (await client.get("/api/v1/admin/audit/verify", headers=admin_token)).json()
        assert checked["ok"] is False and checked["problems"] == ["第 2 条记录的内容被改动"]
        assert "哈希链校验未通过" in await (await client.get("/admin/audit?verify=1")).text()
        api_csv = await client.get("/api/v1/admin/audit/export", headers=admin_token)
        assert api_csv.status == 200 and "access.refused" in (await api_csv.read()).decode()
