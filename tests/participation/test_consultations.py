"""征求意见/调研 end to end over real HTTP, both databases: written by staff with the
legal minimum periods, commented on in chat and on the page (WeChat web authorisation
through the stand-in), moderated, decided once under a race, the report published in
one action, the CSV for the 起草部门, hostile text escaped everywhere."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import feedparser
from aiohttp.test_utils import TestClient

from bot.models import AuditEntry
from bot.participation.models import Comment, Consultation, Outbox
from bot.push.models import Campaign, CampaignState
from tests.participation.helpers import say, settings_for
from tests.web.console_helpers import RESIDENT, bearer, staff_client

ADMIN = "/api/v1/admin/consultations"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","点我")'
BODY = "说明文字。\n\n## 第一条 适用范围\n\n本县户籍老人。\n\n## 第二条 发放标准\n\n每月 100 元。\n"


def draft(ident: str, opens: dt.date, closes: dt.date, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "title": f"{ident} 办法（征求意见稿）", "issuer": "青山县民政局",
            "kind": "规范性文件", "opens_on": opens.isoformat(), "closes_on": closes.isoformat(),
            "body": BODY, **extra}  # fmt: skip


async def sign_in_with_wechat(client: TestClient, fake: Any, page: str, openid: str) -> str:
    """The resident opens the page in WeChat: authorize → back with a code → cookie."""
    html = await (await client.get(page)).text()
    start = html.index('id="wechat-authorize" href="') + len('id="wechat-authorize" href="')
    link = html[start : html.index('"', start)].replace("&amp;", "&")
    assert link.startswith(fake.url + "connect/oauth2/authorize?") and "scope=snsapi_base" in link
    assert link.endswith("#wechat_redirect")
    link = link.removesuffix("#wechat_redirect")  # a browser never sends the fragment
    async with aiohttp.ClientSession() as http:
        # The stand-in is told who is looking (WeChat knows it from the app).
        resp = await http.get(link + f"&openid={openid}", allow_redirects=False)
        assert resp.status == 302
        back = urlsplit(resp.headers["Location"])
    assert back.netloc == "policy.test" and back.path == "/wechat/oauth"
    resp = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == page
    reused = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert reused.status == 400  # a code is good once
    return await (await client.get(page)).text()


def token_of(html: str) -> str:
    marker = 'name="token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def test_consultation_taken_end_to_end(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url, content={"sync_on_start": True})
    today = dt.datetime.now(settings.server.tz).date()
    async with staff_client(settings) as client:
        # The legal minimum: 7 working days for a 规范性文件, unless a reason is given.
        short = draft("short", today, today + dt.timedelta(days=2))
        resp = await client.post(ADMIN, json=short, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
        assert resp.status == 422 and "7 个工作日" in (await resp.json())["error"]["message"]
        unknown = await client.post(ADMIN, json={**short, "shortened_reason": "急", "topics": ["nope"]},
                                    headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert unknown.status == 422 and "未知主题" in (await unknown.json())["error"]["message"]
        assert not await Consultation.exists(id="short")
        resp = await client.post(ADMIN, json={**short, "shortened_reason": "上级文件要求月底前出台"},
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 201
        resp = await client.post(ADMIN, json=draft("care", today - dt.timedelta(days=1), today + dt.timedelta(days=30),
                                                   topics=["relief"]), headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 201, await resp.text()
        data = await resp.json()
        assert [s["heading"] for s in data["sections"]] == ["第一条 适用范围", "第二条 发放标准"]
        # Subscribers of its topics are told by an ordinary campaign, waiting for a reviewer.
        care = await Consultation.get(id="care")
        campaign = await Campaign.get(id=care.opening_campaign_id)
        assert campaign.state == CampaignState.draft and campaign.audience["topics"] == ["relief"]
        assert "/consultations/care" in campaign.text

        # Chat: the numbered list, a comment naming a section, a retry recorded once.
        listed = await say(client, "征求意见", RESIDENT)
        assert "care 办法" in listed and "short 办法" in listed
        number = 1 + [
            line.split(". ", 1)[1].startswith("care")
            for line in listed.splitlines()
            if ". " in line
        ].index(True)
        first = await say(
            client,
            f"意见 {number} 第二条 建议提高到每月 200 元",
            RESIDENT,
            msg_id="7100000000000000001",
        )
        again = await say(
            client,
            f"意见 {number} 第二条 建议提高到每月 200 元",
            RESIDENT,
            msg_id="7100000000000000001",
        )
        assert first == again and "编号" in first
        comments = await Comment.filter(consultation_id="care")
        assert (
            len(comments) == 1
            and comments[0].section == "第二条"
            and comments[0].text == "建议提高到每月 200 元"
        )
        assert f"编号 {comments[0].id}" in first
        assert "没有找到" in await say(client, "意见 99 有意见", RESIDENT)
        named = await say(client, "意见 care 第一条 适用范围 应包括外地户籍", RESIDENT)
        assert "（第一条）" in named
        await Comment.filter(
            consultation_id="care", section="第一条"
        ).delete()  # keep the counts below

        # The page: draft by section, days left, the comment form after WeChat authorisation.
        page = await (await client.get("/consultations/care")).text()
        assert "第二条 发放标准" in page and 'id="days-left">31<' in page
        html = await sign_in_with_wechat(
            client, fake_wechat, "/consultations/care", "o-fake-000002"
        )
        resp = await client.post(
            "/consultations/care/comments", data={"token": "forged", "text": "x"}
        )
        assert resp.status == 403
        resp = await client.post("/consultations/care/comments",
                                 data={"token": token_of(html), "text": HOSTILE, "section": "第一条 适用范围"})  # fmt: skip
        assert resp.status == 201, await resp.text()
        resp = await client.post(
            "/consultations/care/comments", data={"token": token_of(html), "text": FORMULA}
        )
        assert resp.status == 201

        listing = await (
            await client.get(
                f"{ADMIN}/care/comments", headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a")
            )
        ).json()
        assert listing["total"] == 3
        chat_id, hostile_id, formula_id = (i["id"] for i in listing["items"])
        # Moderation: hidden, not deleted; the reason in the audit trail.
        resp = await client.post(f"{ADMIN}/care/comments/{hostile_id}/hide", json={"reason": "含有脚本代码"},
                                 headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))  # fmt: skip
        assert resp.status == 200 and (await resp.json())["state"] == "hidden"
        entry = await AuditEntry.get(action="consultation.comment.hide", object_id=str(hostile_id))
        assert entry.detail["reason"] == "含有脚本代码" and await Comment.exists(id=hostile_id)

        # Two staff decide the same comment at once: one decision, both attempts audited.
        url = f"{ADMIN}/care/comments/{chat_id}/decision"
        results = await asyncio.gather(
            client.post(
                url,
                json={"decision": "采纳", "reason": "已调整标准"},
                headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"),
            ),
            client.post(
                url,
                json={"decision": "未采纳", "reason": "财力不足"},
                headers=bearer("tok-editor2-7f3a9c2e5b8d1f4a"),
            ),
        )
        assert sorted(r.status for r in results) == [200, 409]
        decided = await Comment.get(id=chat_id)
        winner = next(r for r in results if r.status == 200)
        assert decided.decision.value == (await winner.json())["decision"]
        attempts = await AuditEntry.filter(
            action="consultation.comment.decide", object_id=str(chat_id)
        )
        assert sorted(a.detail["result"] for a in attempts) == ["decided", "refused"]
        assert {a.actor for a in attempts} == {"李编辑", "赵编辑"}

        # The report waits for the period to end and for every visible comment to be decided.
        report = f"{ADMIN}/care/report"
        assert (
            await client.post(report, json={}, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
        ).status == 403
        assert (
            await client.post(report, json={}, headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"))
        ).status == 409
        await Consultation.filter(id="care").update(
            closes_on=today - dt.timedelta(days=1)
        )  # time passes
        closed = await say(client, "意见 care 还想补充", RESIDENT)
        assert "已于" in closed and "截止" in closed
        assert await Comment.filter(consultation_id="care").count() == 3
        resp = await client.post(
            "/consultations/care/comments", data={"token": token_of(html), "text": "晚了"}
        )
        assert resp.status == 409 and "截止" in await resp.text()
        resp = await client.post(report, json={}, headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a"))
        assert resp.status == 409 and "1 条意见未作处理" in (await resp.json())["error"]["message"]
        await client.post(f"{ADMIN}/care/comments/{formula_id}/decision", json={"decision": "部分采纳", "reason": "<b>部分</b>"},
                          headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a"))  # fmt: skip
        resp = await client.post(
            report,
            json={"text": "共收到意见 3 条。"},
            headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a"),
        )
        assert resp.status == 200, await resp.text()
        published = await resp.json()
        assert published["phase"] == "reported" and published["report"]["hidden"] == 1
        assert [c["id"] for c in published["report"]["comments"]] == [chat_id, formula_id]
        assert "openid" not in str(published)
        assert (
            await client.post(report, json={}, headers=bearer("tok-reviewer-7f3a9c2e5b8d1f4a"))
        ).status == 409
        # Commenters are told, once each.
        notices = await Outbox.filter(kind="consultation.report", object_id="care")
        assert sorted(n.openid for n in notices) == sorted([RESIDENT, "o-fake-000002"])

        # Hostile text: escaped on the page, absent from the report, neutralised in the CSV.
        page = await (await client.get("/consultations/care")).text()
        assert "意见采纳情况" in page and "<script>alert" not in page and "<b>部分</b>" not in page
        assert "&lt;b&gt;部分&lt;/b&gt;" in page and HOSTILE not in page
        assert "onerror" not in page
        resp = await client.get(
            f"{ADMIN}/care/comments.csv", headers=bearer("tok-publisher-7f3a9c2e5b8d1f4a")
        )
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
        text = await resp.text()
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0][:5] == ["编号", "提交时间", "渠道", "条款", "意见"]
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + FORMULA in cells and not any(c.startswith(("=", "+", "-", "@")) for c in cells)
        assert RESIDENT not in text
        feed = feedparser.parse(await (await client.get("/feed.atom")).text())
        entry = next(e for e in feed.entries if e.link.endswith("/consultations/care"))
        assert entry.tags[0].term == "意见采纳情况" and "共收到意见 3 条" in entry.summary
        assert "建议提高" not in str(feed) and "o-fake" not in str(feed)
        open_data = await (await client.get("/api/v1/consultations/care")).json()
        assert open_data["report"]["counts"] == {"采纳": int(decided.decision.value == "采纳"),
                                                 "部分采纳": 1, "未采纳": int(decided.decision.value == "未采纳")}  # fmt: skip


async def test_content_folder_consultations_are_synced_and_checked(
    db_url: str, fake_wechat: Any, tmp_path: Any
) -> None:
    import shutil

    from bot.catalog.loader import load_content
    from tests.conftest import CONTENT

    content = load_content(CONTENT)
    kinds = sorted(c.kind.value for c in content.documents["consultation"])
    assert kinds == ["规范性文件", "调研", "重大行政决策"]
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    bad = folder / "consultations" / "too-short.md"
    bad.write_text("---\nid: too-short\ntitle: 太短\nissuer: 县政府\nkind: 重大行政决策\nopens_on: 2026-03-01\n"
                   "closes_on: 2026-03-10\n---\n## 一\n\n正文\n", encoding="utf-8")  # fmt: skip
    problems = [str(p) for p in load_content(folder).problems]
    assert any(
        p.startswith(
            f"{folder}/consultations/too-short.md:7: closes_on: 重大行政决策征求意见期限不少于 30 日"
        )
        for p in problems
    ), problems
    survey = next(c for c in content.documents["consultation"] if c.kind.value == "调研")
    from bot.participation.content import split_sections

    _, sections = split_sections(survey.body_md, "调研")
    assert sections[0]["multiple"] is True and sections[1]["choices"] == [
        "满意",
        "基本满意",
        "不满意",
    ]
    assert sections[2]["choices"] == []

    settings = settings_for(
        db_url, fake_wechat.url, content={"sync_on_start": True, "dir": str(folder)}
    )
    async with staff_client(settings) as client:
        listing = await (await client.get("/api/v1/consultations")).json()
        assert {i["id"] for i in listing["items"]} == {
            "elderly-care-subsidy",
            "town-bus-routes",
            "service-survey-2026",
        }
        assert (await client.get("/consultations")).status == 200
    (folder / "consultations" / "town-bus-routes.md").unlink()
    async with staff_client(settings) as client:
        assert (await client.get("/api/v1/consultations/town-bus-routes")).status == 404
        assert await Consultation.exists(id="town-bus-routes")  # unpublished, never deleted


async def test_survey_answers_on_the_page(db_url: str, fake_wechat: Any) -> None:
    settings = settings_for(db_url, fake_wechat.url)
    today = dt.datetime.now(settings.server.tz).date()
    body = "请回答。\n\n## 您从哪里查政策？\n\n- [ ] 公众号\n- [ ] 网页\n- [ ] 窗口\n\n## 满意吗？\n\n- ( ) 满意\n- ( ) 不满意\n\n## 建议\n"
    survey = {"id": "survey", "title": "使用调研", "issuer": "政务服务中心", "kind": "调研",
              "opens_on": today.isoformat(), "closes_on": today.isoformat(), "body": body}  # fmt: skip
    async with staff_client(settings) as client:
        assert (
            await client.post(ADMIN, json=survey, headers=bearer("tok-editor-7f3a9c2e5b8d1f4a"))
        ).status == 201
        html = await sign_in_with_wechat(client, fake_wechat, "/consultations/survey", RESIDENT)
        assert 'type="checkbox" name="q1" value="网页"' in html and 'type="radio" name="q2"' in html
        form = aiohttp.FormData(
            [("token", token_of(html)), ("q1", "公众号"), ("q1", "网页"), ("q2", "不存在")]
        )
        assert (await client.post("/consultations/survey/comments", data=form)).status == 422
        form = aiohttp.FormData([("token", token_of(html)), ("q1", "公众号"), ("q1", "网页"), ("q2", "满意"),
                                 ("q3", "=1+1 希望增加语音"), ("text", "")])  # fmt: skip
        resp = await client.post("/consultations/survey/comments", data=form)
        assert resp.status == 201, await resp.text()
        items = (
            await (
                await client.get(
                    f"{ADMIN}/survey/comments", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
                )
            ).json()
        )["items"]
        assert items[0]["answers"] == {
            "1": ["公众号", "网页"],
            "2": "满意",
            "3": "=1+1 希望增加语音",
        }
        text = await (
            await client.get(
                f"{ADMIN}/survey/comments.csv", headers=bearer("tok-editor-7f3a9c2e5b8d1f4a")
            )
        ).text()
        assert (
            "1: ['公众号', '网页']" in text and "3: =1+1" in text
        )  # inside the cell, not at its start


async def test_stand_in_enforces_the_web_authorisation_rules(fake_wechat: Any) -> None:
    """The stand-in refuses what WeChat refuses: a foreign redirect domain, a wrong appid or
    scope, an unknown code, a code used twice."""
    fake_wechat.configure(oauth_domain="policy.test")
    base = fake_wechat.url + "connect/oauth2/authorize"
    good = {"appid": fake_wechat.config.appid, "redirect_uri": "https://policy.test/wechat/oauth",
            "response_type": "code", "scope": "snsapi_base", "state": "s"}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for bad in (
            {"redirect_uri": "https://evil.example/x"},
            {"appid": "wx-other"},
            {"scope": "snsapi_login"},
        ):
            resp = await http.get(base, params={**good, **bad}, allow_redirects=False)
            assert resp.status == 400, bad
        resp = await http.get(
            base, params={**good, "openid": "o-fake-000003"}, allow_redirects=False
        )
        assert resp.status == 302
        code = resp.headers["Location"].split("code=")[1].split("&")[0]
        token = fake_wechat.url + "sns/oauth2/access_token"
        query = {
            "appid": fake_wechat.config.appid,
            "secret": fake_wechat.config.secret,
            "grant_type": "authorization_code",
        }
        assert (await (await http.get(token, params={**query, "code": "nope"})).json())[
            "errcode"
        ] == 40029
        first = await (await http.get(token, params={**query, "code": code})).json()
        assert first["openid"] == "o-fake-000003" and first["scope"] == "snsapi_base"
        assert (await (await http.get(token, params={**query, "code": code})).json())[
            "errcode"
        ] == 40163
        wrong = await (await http.get(token, params={**query, "code": code, "secret": "x"})).json()
        assert wrong["errcode"] == 40125
