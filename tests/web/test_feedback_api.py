"""Admin API, feedback part: staff read residents' 留言 and answer them; the answer
reaches the resident as a customer-service message only when WeChat allows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.models import AuditEntry, Subscriber
from tests.web.console_helpers import RESIDENT, bearer, leave_message, staff_client, staff_settings


async def test_message_is_listed_and_answer_delivered(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        fake_wechat.mark_active(RESIDENT)  # WeChat opens the 48 h window as she writes
        number = await leave_message(client, "村口的路灯坏了一个月了")

        resp = await client.get(
            "/api/v1/admin/feedback?status=new", headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a")
        )
        assert resp.status == 200
        data = await resp.json()
        assert data["total"] == 1
        item = data["items"][0]
        assert (item["id"], item["openid"], item["text"]) == (
            number,
            RESIDENT,
            "村口的路灯坏了一个月了",
        )
        assert item["status"] == "new" and item["answer"] is None

        url = f"/api/v1/admin/feedback/{number}/answer"
        refused = await client.post(
            url, json={"answer": "好的"}, headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a")
        )
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "forbidden"

        resp = await client.post(
            url,
            json={"answer": "已通知镇政府，三天内修复。"},
            headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
        )
        assert resp.status == 200, await resp.text()
        result = await resp.json()
        assert result["delivered"] is True and result["reason"] is None
        assert result["status"] == "answered" and result["answered_by"] == "李编辑"
        sent = fake_wechat.messages(RESIDENT)
        assert len(sent) == 1 and sent[0]["kind"] == "custom"
        assert "已通知镇政府，三天内修复。" in sent[0]["payload"]["text"]["content"]

        answered = await (await client.get(
            "/api/v1/admin/feedback?status=answered", headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a")
        )).json()  # fmt: skip
        assert [i["id"] for i in answered["items"]] == [number]
        assert answered["items"][0]["answered_at"]
        entry = await AuditEntry.get(action="feedback.answer", object_id=str(number))
        assert (entry.actor, entry.role) == ("李编辑", "editor")
        # The trail is append-only: what became of the answer is an entry of its own.
        outcome = await AuditEntry.get(action="feedback.delivery", object_id=str(number))
        assert outcome.detail["delivered"] is True and outcome.detail["answer"] == entry.id

        again = await client.post(
            url, json={"answer": "再说一遍"}, headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a")
        )
        assert again.status == 409
        assert len(fake_wechat.messages(RESIDENT)) == 1


async def test_refusals_are_recorded_never_errors(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        # WeChat refuses: she wrote, but WeChat's window is closed (45015).
        first = await leave_message(client, "低保怎么申请？")
        resp = await client.post(f"/api/v1/admin/feedback/{first}/answer",
                                 json={"answer": "请到村委会申请。"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200
        result = await resp.json()
        assert (result["delivered"], result["reason"], result["errcode"]) == (
            False,
            "outside_window",
            45015,
        )
        assert result["status"] == "answered" and result["answer"] == "请到村委会申请。"
        assert fake_wechat.messages(RESIDENT) == []

        # Once she writes again the undelivered answer can be sent.
        fake_wechat.mark_active(RESIDENT)
        await leave_message(client, "还在吗")
        resend = await client.post(f"/api/v1/admin/feedback/{first}/answer",
                                   json={"answer": "请到村委会申请。"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert (await resend.json())["delivered"] is True
        assert len(fake_wechat.messages(RESIDENT)) == 1

        # Last activity older than 48 h: not even tried.
        stale = await leave_message(client, "三天前的问题", openid="o-fake-000002")
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=72)
        await Subscriber.filter(openid="o-fake-000002").update(last_active_at=old)
        calls = fake_wechat.calls["message/custom/send"]
        result = await (await client.post(f"/api/v1/admin/feedback/{stale}/answer",
                                          json={"answer": "答复"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))).json()  # fmt: skip
        assert (result["delivered"], result["reason"]) == (False, "outside_window")
        assert fake_wechat.calls["message/custom/send"] == calls

        # She unfollowed in WeChat (43004).
        gone = await leave_message(client, "再见", openid="o-fake-000003")
        fake_wechat.mark_active("o-fake-000003")
        fake_wechat.unfollow("o-fake-000003")
        result = await (await client.post(f"/api/v1/admin/feedback/{gone}/answer",
                                          json={"answer": "答复"}, headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a"))).json()  # fmt: skip
        assert (result["delivered"], result["reason"]) == (False, "unfollowed")


async def test_demo_mode_records_the_answer(db_url: str, fake_wechat: Any) -> None:
    settings = staff_settings(db_url, fake_wechat.url, wechat={"appid": ""})
    async with staff_client(settings) as client:
        number = await leave_message(client, "演示")
        resp = await client.post(f"/api/v1/admin/feedback/{number}/answer",
                                 json={"answer": "收到"}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        result = await resp.json()
        assert (resp.status, result["delivered"], result["reason"]) == (200, False, "demo_mode")


async def test_tokens_and_bad_requests(db_url: str, fake_wechat: Any) -> None:
    async with staff_client(staff_settings(db_url, fake_wechat.url)) as client:
        assert (await client.get("/api/v1/admin/feedback")).status == 401
        wrong = await client.get("/api/v1/admin/feedback", headers=bearer("tok-nobody"))
        assert wrong.status == 401
        assert (await wrong.json())["error"]["code"] == "unauthorized"
        bad = await client.get(
            "/api/v1/admin/feedback?status=lost", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
        )
        assert bad.status == 400
        bad = await client.get(
            "/api/v1/admin/feedback?per_page=1000", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
        )
        assert bad.status == 400
        missing = await client.post("/api/v1/admin/feedback/999/answer", json={"answer": "x"},
                                    headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert missing.status == 404
        number = await leave_message(client, "空答复")
        empty = await client.post(f"/api/v1/admin/feedback/{number}/answer", json={"answer": "  "},
                                  headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert empty.status == 422
        junk = await client.post(f"/api/v1/admin/feedback/{number}/answer", data=b"not json",
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert junk.status == 400
        assert "error" in await junk.json()
