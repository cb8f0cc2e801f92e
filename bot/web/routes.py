"""The route table, and nothing else."""

from __future__ import annotations

from aiohttp import web

from bot.catalog.kinds import kind
from bot.keys import SETTINGS
from bot.web import (
    admin_api,
    api,
    attachments,
    audit_trail,
    campaigns_api,
    consultations,
    contacts_api,
    disclosure,
    eligibility,
    feed,
    feedback_api,
    home,
    links,
    openapi,
    ops,
    pages,
    profile,
    search_admin_api,
    search_api,
    sms_callbacks,
    unsubscribe,
)
from bot.web import console as console_setup
from bot.web.console import accounts as console_accounts
from bot.web.console import audit as console_audit
from bot.web.console import campaigns as console_campaigns
from bot.web.console import consultations as console_consultations
from bot.web.console import dashboard as console_dashboard
from bot.web.console import disclosure as console_disclosure
from bot.web.console import feedback as console_feedback
from bot.web.console import login as console_login
from bot.web.console import policies as console_policies
from bot.web.console import residents as console_residents
from bot.web.console import review as console_review
from bot.web.console import search as console_search
from bot.web.modes import STATIC
from bot.web.resident import CALLBACK, oauth_callback
from bot.wechat import callback


def setup_routes(app: web.Application) -> None:
    path = app[SETTINGS].wechat.callback_path
    app.router.add_get(path, callback.verify, name="wechat_verify")
    app.router.add_post(path, callback.receive, name="wechat_receive")
    app.router.add_get("/healthz", ops.healthz, name="healthz")
    app.router.add_get("/metrics", ops.prometheus, name="metrics")

    # Catalog: resident pages, open data, feed, publishing admin API.
    app.router.add_get("/policies", pages.policies_page, name="policies")
    for name, page in pages.KIND_PAGES.items():  # each kind's page, at the path it declares
        kind_ = kind(name)
        app.router.add_get(kind_.path, page, name=kind_.route)
    app.router.add_get("/areas/{id}", pages.area_page, name="area")
    app.router.add_get("/topics/{id}", pages.topic_page, name="topic")
    app.router.add_static("/static", STATIC, name="static")
    app.router.add_get("/feed.atom", feed.atom_feed, name="feed")
    app.router.add_get("/api/v1/openapi.json", openapi.openapi_json, name="openapi")
    app.router.add_get("/api/v1/search", search_api.search_api, name="api_search")
    app.router.add_get("/api/v1/policies", api.list_policies, name="api_policies")
    app.router.add_get("/api/v1/policies/{id}", api.get_policy, name="api_policy")
    app.router.add_get("/api/v1/topics", api.list_topics, name="api_topics")
    app.router.add_get("/api/v1/areas", api.list_areas, name="api_areas")
    app.router.add_get("/api/v1/admin/policies", admin_api.list_drafts, name="admin_policies")
    app.router.add_post(
        "/api/v1/admin/policies", admin_api.create_policy, name="admin_policy_create"
    )
    app.router.add_get("/api/v1/admin/policies/{id}", admin_api.get_draft, name="admin_policy")
    app.router.add_put(
        "/api/v1/admin/policies/{id}", admin_api.update_policy, name="admin_policy_update"
    )
    app.router.add_post(
        "/api/v1/admin/policies/{id}/submit", admin_api.submit_policy, name="admin_policy_submit"
    )
    app.router.add_post(
        "/api/v1/admin/policies/{id}/publish", admin_api.publish_policy, name="admin_policy_publish"
    )
    app.router.add_post(
        "/api/v1/admin/policies/{id}/reject", admin_api.reject_policy, name="admin_policy_reject"
    )
    app.router.add_post(
        "/api/v1/admin/policies/{id}/withdraw",
        admin_api.withdraw_policy,
        name="admin_policy_withdraw",
    )
    app.router.add_get(
        "/api/v1/admin/policies/{id}/versions",
        admin_api.list_versions,
        name="admin_policy_versions",
    )
    app.router.add_get(
        "/api/v1/admin/policies/{id}/diff", admin_api.get_diff, name="admin_policy_diff"
    )
    app.router.add_get("/api/v1/admin/audit", admin_api.list_audit, name="admin_audit")
    app.router.add_get(
        "/api/v1/admin/reports/deadlines", admin_api.deadlines, name="admin_deadlines"
    )

    # Publishing: attachment files (served by content type) and their upload.
    app.router.add_get("/attachments/{name}", attachments.serve, name="attachment")
    app.router.add_post(
        "/api/v1/admin/attachments", attachments.upload, name="admin_attachment_upload"
    )

    # Staff: feedback admin API and the console.
    staff(app)

    # Staff accounts: the audit trail's export and chain check for machines.
    add_get = app.router.add_get
    add_get("/api/v1/admin/audit/export", audit_trail.export_api, name="admin_audit_export")
    add_get("/api/v1/admin/audit/verify", audit_trail.verify_api, name="admin_audit_verify")

    # Pushes: campaigns, audience, subscribers.
    pushes(app)

    # Search: what residents could not find, and staff's fixes.
    search_prefix = search_admin_api.PREFIX
    add_get(f"{search_prefix}/misses", search_admin_api.list_misses, name="admin_search_misses")
    add_get(f"{search_prefix}/rules", search_admin_api.list_rules, name="admin_search_rules")
    app.router.add_post(
        f"{search_prefix}/rules", search_admin_api.create_rule, name="admin_search_rule_create"
    )
    app.router.add_delete(
        f"{search_prefix}/rules/{{id}}",
        search_admin_api.delete_rule,
        name="admin_search_rule_delete",
    )

    # 政策找人: the policy check as a form (the chat's 政策体检 on the web).
    app.router.add_get("/eligibility", eligibility.eligibility_page, name="eligibility")
    app.router.add_post("/eligibility", eligibility.eligibility_page, name="eligibility_check")

    # Landing page: what the account offers, search, topics, the console's door.
    app.router.add_get("/", home.home_page, name="home")

    # Public participation: 依申请公开, 征求意见/调研, WeChat web authorisation.
    app.router.add_get(CALLBACK, oauth_callback, name="wechat_oauth")
    participation(app)

    # Channels beyond WeChat: SMS status reports and replies (TD), email unsubscribe,
    # contacts, tracked links, the resident's own profile page.
    channels(app)


def staff(app: web.Application) -> None:
    """The feedback admin API and the console at /admin/ (its set-up is ``console.setup``)."""
    console_setup.setup(app)
    app.router.add_get("/api/v1/admin/feedback", feedback_api.get_feedback, name="admin_feedback")
    app.router.add_post(
        r"/api/v1/admin/feedback/{id:\d+}/answer",
        feedback_api.post_answer,
        name="admin_feedback_answer",
    )

    get, post = app.router.add_get, app.router.add_post
    login, dashboard = console_login, console_dashboard
    get("/admin", console_setup.to_dashboard, name="console_root")
    get("/admin/", dashboard.dashboard, name="console")
    get("/admin/login", login.login_form, name="console_login_form")
    post("/admin/login", login.login, name="console_login")
    post("/admin/logout", login.logout, name="console_logout")
    get("/admin/password", login.password_form, name="console_password_form")
    post("/admin/password", login.change_password, name="console_password")

    accounts, audit = console_accounts, console_audit
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

    policies, review = console_policies, console_review
    get("/admin/policies", policies.policy_list, name="console_policies")
    get("/admin/policies/new", policies.new_policy, name="console_policy_new")
    post("/admin/policies/new", policies.create, name="console_policy_create")
    post("/admin/preview", policies.preview, name="console_preview")
    get("/admin/policies/{id}", policies.policy_page, name="console_policy")
    post("/admin/policies/{id}", policies.update, name="console_policy_update")
    get("/admin/review", review.review_page, name="console_review")
    post("/admin/review/{id}/publish", review.publish, name="console_review_publish")
    post("/admin/review/{id}/reject", review.send_back, name="console_review_reject")

    campaigns = console_campaigns
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

    feedback, residents, search = console_feedback, console_residents, console_search
    get("/admin/feedback", feedback.inbox, name="console_feedback")
    post(r"/admin/feedback/{id:\d+}/answer", feedback.answer, name="console_feedback_answer")
    get("/admin/residents", residents.residents_page, name="console_residents")

    get("/admin/search", search.misses_page, name="console_search")
    post("/admin/search/rules", search.add_fix, name="console_search_rule")
    post(
        r"/admin/search/rules/{id:\d+}/delete", search.delete_fix, name="console_search_rule_delete"
    )

    disclosure_ = console_disclosure
    get("/admin/disclosure", disclosure_.requests_page, name="console_disclosure")
    post("/admin/disclosure", disclosure_.register, name="console_disclosure_register")
    get("/admin/disclosure/report", disclosure_.report_page, name="console_disclosure_report")
    get(
        "/admin/disclosure/report.csv", disclosure_.report_csv, name="console_disclosure_report_csv"
    )
    get("/admin/disclosure/{number}", disclosure_.request_page, name="console_disclosure_request")
    for step in disclosure_.STEPS:
        post(
            f"/admin/disclosure/{{number}}/{step}",
            disclosure_.request_step(step),
            name=f"console_disclosure_{step}",
        )

    cons, consultations_ = "/admin/consultations", console_consultations
    get(cons, consultations_.consultations_page, name="console_consultations")
    post(cons, consultations_.create, name="console_consultation_create")
    get(cons + "/{id}", consultations_.consultation_page, name="console_consultation")
    get(cons + "/{id}/comments.csv", consultations_.comments_csv, name="console_consultation_csv")
    post(
        cons + r"/{id}/comments/{comment_id:\d+}/hide",
        consultations_.comment_step("hide", consultations_.MODERATING),
        name="console_consultation_hide",
    )
    post(
        cons + r"/{id}/comments/{comment_id:\d+}/decide",
        consultations_.comment_step("decide", consultations_.MODERATING),
        name="console_consultation_decide",
    )
    post(
        cons + "/{id}/report",
        consultations_.comment_step("report", consultations_.REPORTING),
        name="console_consultation_report",
    )


def pushes(app: web.Application) -> None:
    """Campaign and subscriber routes of the admin API."""
    r, c, prefix = app.router, campaigns_api, campaigns_api.PREFIX
    r.add_post(f"{prefix}/campaigns", c.create_campaign, name="admin_campaign_create")
    r.add_get(f"{prefix}/campaigns", c.list_campaigns, name="admin_campaigns")
    r.add_post(f"{prefix}/audience/count", c.count_audience, name="admin_audience_count")
    r.add_get(f"{prefix}/campaigns/{{id}}", c.get_campaign, name="admin_campaign")
    r.add_get(f"{prefix}/campaigns/{{id}}/report", c.campaign_report, name="admin_campaign_report")
    r.add_post(
        f"{prefix}/campaigns/{{id}}/approve", c.approve_campaign, name="admin_campaign_approve"
    )
    r.add_post(f"{prefix}/campaigns/{{id}}/cancel", c.cancel_campaign, name="admin_campaign_cancel")
    r.add_post(f"{prefix}/campaigns/{{id}}/test-send", c.test_send, name="admin_campaign_test_send")
    r.add_post(
        f"{prefix}/campaigns/{{id}}/retry-failed", c.retry_failed, name="admin_campaign_retry"
    )
    r.add_post(
        f"{prefix}/campaigns/{{id}}/send-to-new", c.send_to_new, name="admin_campaign_send_to_new"
    )
    r.add_get(f"{prefix}/subscribers", c.list_subscribers, name="admin_subscribers")


def participation(app: web.Application) -> None:
    """依申请公开 and 征求意见/调研: resident pages, open API, admin API."""
    add_get, add_post = app.router.add_get, app.router.add_post
    d = disclosure
    add_get(d.APPLY, d.apply_page, name="disclosure_apply")
    add_post(d.APPLY, d.apply_form, name="disclosure_apply_form")
    add_post("/api/v1/disclosure-requests", d.submit, name="api_disclosure_submit")
    add_get("/api/v1/disclosure/annual-report", d.annual_report_api, name="api_disclosure_report")
    add_get("/api/v1/disclosure/outcomes", d.outcomes_api, name="api_disclosure_outcomes")
    base = "/api/v1/admin/disclosure-requests"
    add_post(base, d.register, name="admin_disclosure_register")
    add_get(base, d.list_requests, name="admin_disclosure_list")
    add_get(base + "/{number}", d.get_request, name="admin_disclosure_get")
    for step, handler in (("extend", d.extend), ("supplement", d.supplement),
                          ("supplied", d.supplied), ("third-party", d.third_party),
                          ("reply", d.reply)):  # fmt: skip
        add_post(
            f"{base}/{{number}}/{step}", handler, name=f"admin_disclosure_{step.replace('-', '_')}"
        )

    c = consultations
    add_get("/consultations", c.list_page, name="consultations")
    page = kind("consultation")
    add_get(page.path, c.detail_page, name=page.route)
    add_post("/consultations/{id}/comments", c.comment_form, name="consultation_comment")
    add_get("/api/v1/consultations", c.list_api, name="api_consultations")
    add_get("/api/v1/consultations/{id}", c.get_api, name="api_consultation")
    base = "/api/v1/admin/consultations"
    add_post(base, c.create_api, name="admin_consultation_create")
    add_get(base + "/{id}/comments", c.comments_api, name="admin_consultation_comments")
    add_get(base + "/{id}/comments.csv", c.comments_csv, name="admin_consultation_comments_csv")
    add_post(
        base + r"/{id}/comments/{comment_id}/decision",
        c.decide_api,
        name="admin_consultation_decide",
    )
    add_post(base + r"/{id}/comments/{comment_id}/hide", c.hide_api, name="admin_consultation_hide")
    add_post(base + "/{id}/report", c.report_api, name="admin_consultation_report")


def channels(app: web.Application) -> None:
    """Channels beyond WeChat: SMS callbacks, email unsubscribe, contacts, links, profile."""
    add_get, add_post = app.router.add_get, app.router.add_post
    add_post("/callbacks/sms/{token}/status", sms_callbacks.status_reports, name="sms_status")
    add_post("/callbacks/sms/{token}/reply", sms_callbacks.replies, name="sms_reply")
    add_get("/unsubscribe/email/{token}", unsubscribe.confirm_email, name="unsubscribe_email")
    add_post("/unsubscribe/email/{token}", unsubscribe.unsubscribe_email, name="unsubscribe_post")
    app.router.add_put(
        "/api/v1/admin/subscribers/{openid}/contact", contacts_api.put_contact, name="admin_contact"
    )
    add_get("/r/{token}", links.follow, name="tracked_link")
    add_get("/me/{token}", profile.show, name="profile")
    add_post("/me/{token}", profile.change, name="profile_change")
