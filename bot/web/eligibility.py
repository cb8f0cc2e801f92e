"""``/eligibility``: the 政策体检 as a form, for browsers and the WeChat menu.

The form asks only about what the policies in force name; the answers are
posted (never in the URL, so never in access logs), assessed and shown with
the result, and not kept: keeping them is the chat's, with consent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from bot.eligibility.attributes import ATTRIBUTES, AnswerError
from bot.eligibility.check import read_answer, run
from bot.eligibility.conditions import attributes_in, rule_of
from bot.eligibility.matching import policies_in_force
from bot.keys import SETTINGS
from bot.push.regions import known_regions
from bot.web.modes import render_page

MAX_FORM_BYTES = 8192


async def eligibility_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    today = dt.datetime.now(settings.server.tz).date()
    policies = await policies_in_force(today)
    asked = dict.fromkeys(a for p in policies for a in attributes_in(rule_of(p.eligibility or {})))
    towns = [r.name for r in await known_regions()]
    fields = [_field(ATTRIBUTES[name], towns) for name in ATTRIBUTES if name in asked]
    given: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    problems: dict[str, str] = {}
    outcome = None
    if request.method == "POST":
        if (request.content_length or 0) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length or 0)
        form = await request.post()
        for name in asked:
            values = [str(v) for v in form.getall(name, []) if str(v).strip()]
            given[name] = values
            if not values:
                continue
            said = "没有" if "none" in values else "、".join(values)
            try:
                answers[name] = await read_answer(name, said, today)
            except AnswerError as exc:
                problems[name] = str(exc)
        outcome = await run(answers, today)
    return render_page(
        request,
        "eligibility.html",
        title="政策体检",
        fields=fields,
        given=given,
        problems=problems,
        outcome=outcome,
        answers=answers,
        labels={n: a.label for n, a in ATTRIBUTES.items()},
        needs=lambda policy: [
            ATTRIBUTES[a].label
            for a in dict.fromkeys(attributes_in(rule_of(policy.eligibility or {})))
            if a not in answers
        ],
    )


def _field(attribute: Any, towns: list[str]) -> dict[str, Any]:
    """How the form asks one attribute: a number, one choice, several, or yes/no."""
    if attribute.name == "age":
        control = "text"
    elif attribute.sort == "range":
        control = "number"
    elif attribute.sort == "flag":
        control = "yesno"
    elif attribute.multiple:
        control = "several"
    else:
        control = "one"
    choices = tuple(towns) if attribute.name == "town" else attribute.choices
    return {
        "name": attribute.name,
        "label": attribute.label,
        "question": attribute.question,
        "control": control,
        "choices": choices,
        "unit": attribute.unit,
    }
