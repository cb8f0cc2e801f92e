"""What residents could not find: misses by frequency, fixed in one step with a
synonym or a document keyword (``bot.search.rules``); every process uses the
fix within a second."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.config import Role
from bot.errors import DomainError
from bot.keys import SERVICES
from bot.search import rules
from bot.web.console.frame import User, action, back, page, page_number, render, who
from bot.web.errors import status_of

FIX_ROLES = (Role.publisher, Role.editor, Role.reviewer)
PER_PAGE = 30
DONE = {"synonym": "已添加同义词，各服务进程将在一秒内生效。", "keyword": "已为文件添加关键词，各服务进程将在一秒内生效。",
        "deleted": "已删除该检索规则。"}  # fmt: skip


@page
async def misses_page(request: web.Request, user: User) -> web.Response:
    return await _view(request, user)


async def _view(
    request: web.Request, user: User, error: str = "", status: int = 200, form: Any = None
) -> web.Response:
    number = page_number(request)
    total, misses = await rules.list_misses(number, PER_PAGE)
    picked = request.query.get("miss", "")
    return render(
        request, "search.html", user, status=status, title="未找到的查询", misses=misses,
        total=total, page=number, pages=max(1, -(-total // PER_PAGE)), rules=await rules.all_rules(),
        error=error, notice=DONE.get(request.query.get("done", ""), ""), fix_roles=FIX_ROLES,
        picked=picked, form=form or {},
    )  # fmt: skip


def _miss_id(form: Any) -> int | None:
    raw = str(form.get("miss_id", ""))
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@action(*FIX_ROLES)
async def add_fix(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    """One form, two fixes: terms make a synonym, a document id makes a keyword."""
    word, doc_id = str(form.get("word", "")), str(form.get("doc_id", "")).strip()
    try:
        if doc_id:
            await rules.add_keyword(word, form.get("doc_kind", "policy"), doc_id, who(user),
                                    _miss_id(form))  # fmt: skip
        else:
            await rules.add_synonym(word, str(form.get("terms", "")), who(user), _miss_id(form))
    except DomainError as exc:
        return await _view(request, user, error=exc.message, status=status_of(exc), form=form)
    await request.app[SERVICES].search.refresh()  # this process at once; the others poll
    raise back("/admin/search", done="keyword" if doc_id else "synonym")


@action(*FIX_ROLES)
async def delete_fix(request: web.Request, user: User, form: Any) -> web.StreamResponse:
    raw = request.match_info["id"]
    try:
        await rules.delete_rule(int(raw) if raw.isdigit() else -1, who(user))
    except DomainError as exc:
        return await _view(request, user, error=exc.message, status=status_of(exc))
    await request.app[SERVICES].search.refresh()
    raise back("/admin/search", done="deleted")
