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
    console,
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
    feedback_api.setup_routes(app)
    console.setup_routes(app)

    # Staff accounts: the audit trail's export and chain check for machines.
    audit_trail.setup_routes(app)

    # Pushes: campaigns, audience, subscribers.
    campaigns_api.setup_routes(app)

    # Search: what residents could not find, and staff's fixes.
    search_admin_api.setup_routes(app)

    # 政策找人: the policy check as a form (the chat's 政策体检 on the web).
    app.router.add_get("/eligibility", eligibility.eligibility_page, name="eligibility")
    app.router.add_post("/eligibility", eligibility.eligibility_page, name="eligibility_check")

    # Landing page: what the account offers, search, topics, the console's door.
    app.router.add_get("/", home.home_page, name="home")

    # Public participation: 依申请公开, 征求意见/调研, WeChat web authorisation.
    app.router.add_get(CALLBACK, oauth_callback, name="wechat_oauth")
    disclosure.setup_routes(app)
    consultations.setup_routes(app)

    # Channels beyond WeChat: SMS status reports and replies (TD).
    sms_callbacks.setup_routes(app)
    unsubscribe.setup_routes(app)
    contacts_api.setup_routes(app)
    links.setup_routes(app)
    profile.setup_routes(app)
