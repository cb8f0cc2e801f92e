"""The staff and editor console at /admin/: one module per screen, one route table here.

Staff log in with their named account (``login``; ``accounts`` for admins'
account management and everyone's own account, ``audit`` for the trail), then see what needs them (``dashboard``), write and
review policies with their interpretations (``policies``, ``review``),
compose, approve and follow pushes (``campaigns``), answer 留言
(``feedback``), look at subscribers (``residents``), handle 依申请公开
(``disclosure``) and 征求意见 (``consultations``), and fix what residents
could not find (``search``). Shared plumbing —
rendering, sessions, CSRF, roles, navigation — is ``frame``. Every screen
calls the same domain functions as the admin API, so the two cannot disagree.
"""

from __future__ import annotations

from aiohttp import web

from bot.web import session
from bot.web.console import (
    accounts,
    audit,
    campaigns,
    consultations,
    dashboard,
    disclosure,
    feedback,
    login,
    policies,
    residents,
    review,
    search,
)


async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


def setup_routes(app: web.Application) -> None:
    session.setup(app)
    residents.setup(app)
    get, post = app.router.add_get, app.router.add_post
    get("/admin", _to_dashboard, name="console_root")
    get("/admin/", dashboard.dashboard, name="console")
    get("/admin/login", login.login_form, name="console_login_form")
    post("/admin/login", login.login, name="console_login")
    post("/admin/logout", login.logout, name="console_logout")
    get("/admin/password", login.password_form, name="console_password_form")
    post("/admin/password", login.change_password, name="console_password")

    get("/admin/accounts", accounts.accounts_page, name="console_accounts")
    post("/admin/accounts", accounts.create, name="console_account_create")
    post(r"/admin/accounts/{id:\d+}/disable", accounts.disable, name="console_account_disable")
    post(r"/admin/accounts/{id:\d+}/enable", accounts.enable, name="console_account_enable")
    post(r"/admin/accounts/{id:\d+}/reset", accounts.reset, name="console_account_reset")
    post("/admin/testers", accounts.add_tester, name="console_tester_add")
    post(r"/admin/testers/{id:\d+}/remove", accounts.remove_tester, name="console_tester_remove")
    get("/admin/account", accounts.me_page, name="console_me")
    post("/admin/account/binding", accounts.binding_code, name="console_binding_code")
    get("/admin/audit", audit.audit_page, name="console_audit")
    get("/admin/audit.csv", audit.audit_csv, name="console_audit_csv")

    get("/admin/policies", policies.policy_list, name="console_policies")
    get("/admin/policies/new", policies.new_policy, name="console_policy_new")
    post("/admin/policies/new", policies.create, name="console_policy_create")
    post("/admin/preview", policies.preview, name="console_preview")
    get("/admin/policies/{id}", policies.policy_page, name="console_policy")
    post("/admin/policies/{id}", policies.update, name="console_policy_update")
    get("/admin/review", review.review_page, name="console_review")
    post("/admin/review/{id}/publish", review.publish, name="console_review_publish")
    post("/admin/review/{id}/reject", review.send_back, name="console_review_reject")

    get("/admin/campaigns", campaigns.campaign_list, name="console_campaigns")
    get("/admin/campaigns/new", campaigns.compose_page, name="console_campaign_new")
    post("/admin/campaigns/new", campaigns.create, name="console_campaign_create")
    post("/admin/campaigns/preview", campaigns.preview, name="console_campaign_preview")
    get(r"/admin/campaigns/{id:\d+}", campaigns.campaign_page, name="console_campaign")
    get(r"/admin/campaigns/{id:\d+}/progress", campaigns.progress, name="console_campaign_progress")
    post(r"/admin/campaigns/{id:\d+}/approve", campaigns.approve, name="console_campaign_approve")
    get(
        r"/admin/campaigns/{id:\d+}/cancel",
        campaigns.cancel_confirm,
        name="console_campaign_cancel_form",
    )
    post(r"/admin/campaigns/{id:\d+}/cancel", campaigns.cancel, name="console_campaign_cancel")
    post(r"/admin/campaigns/{id:\d+}/retry", campaigns.retry, name="console_campaign_retry")
    post(r"/admin/campaigns/{id:\d+}/test-send", campaigns.test_send, name="console_campaign_test")

    get("/admin/feedback", feedback.inbox, name="console_feedback")
    post(r"/admin/feedback/{id:\d+}/answer", feedback.answer, name="console_feedback_answer")
    get("/admin/residents", residents.residents_page, name="console_residents")

    get("/admin/search", search.misses_page, name="console_search")
    post("/admin/search/rules", search.add_fix, name="console_search_rule")
    post(
        r"/admin/search/rules/{id:\d+}/delete", search.delete_fix, name="console_search_rule_delete"
    )

    get("/admin/disclosure", disclosure.requests_page, name="console_disclosure")
    post("/admin/disclosure", disclosure.register, name="console_disclosure_register")
    get("/admin/disclosure/report", disclosure.report_page, name="console_disclosure_report")
    get("/admin/disclosure/report.csv", disclosure.report_csv, name="console_disclosure_report_csv")
    get("/admin/disclosure/{number}", disclosure.request_page, name="console_disclosure_request")
    for step in disclosure.STEPS:
        post(
            f"/admin/disclosure/{{number}}/{step}",
            disclosure.request_step(step),
            name=f"console_disclosure_{step}",
        )

    cons = "/admin/consultations"
    get(cons, consultations.consultations_page, name="console_consultations")
    post(cons, consultations.create, name="console_consultation_create")
    get(cons + "/{id}", consultations.consultation_page, name="console_consultation")
    get(cons + "/{id}/comments.csv", consultations.comments_csv, name="console_consultation_csv")
    post(
        cons + r"/{id}/comments/{comment_id:\d+}/hide",
        consultations.comment_step("hide", consultations.MODERATING),
        name="console_consultation_hide",
    )
    post(
        cons + r"/{id}/comments/{comment_id:\d+}/decide",
        consultations.comment_step("decide", consultations.MODERATING),
        name="console_consultation_decide",
    )
    post(
        cons + "/{id}/report",
        consultations.comment_step("report", consultations.REPORTING),
        name="console_consultation_report",
    )
