"""Open data: policies with filters and pages, topics, areas, OpenAPI, Atom feed."""

from __future__ import annotations

from typing import Any

import feedparser
from aiohttp.test_utils import TestClient

from bot.web.openapi import is_json_path


async def _json(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, path
    assert response.content_type == "application/json"
    return await response.json()


async def _ids(client: TestClient, query: str) -> set[str]:
    data = await _json(client, f"/api/v1/policies?per_page=100&{query}")
    assert data["total"] == len(data["items"])
    return {item["id"] for item in data["items"]}


async def test_policies_filters_and_pagination(client: TestClient) -> None:
    everything = await _ids(client, "")
    first = await _json(client, "/api/v1/policies?per_page=10&page=1")
    third = await _json(client, "/api/v1/policies?per_page=10&page=3")
    assert first["total"] == len(everything) and len(first["items"]) == 10
    assert len(third["items"]) == len(everything) - 20
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in third["items"]}

    by_name = await _ids(client, "area=社会救助")
    assert by_name == await _ids(client, "area=social-assistance")
    assert (
        "qzb-2024-12-dibao-standard" in by_name and "qzf-2023-3-land-expropriation" not in by_name
    )
    assert "qzb-2024-12-dibao-standard" in await _ids(client, "topic=relief")
    assert await _ids(client, "issuer=青山县人民政府办公室") >= {"qzb-2024-12-dibao-standard"}
    # expires_on 2024-12-31 has passed: that policy now reads 失效 (applied on the day)
    expired = await _ids(client, "validity=失效")
    assert {"qzb-2022-21-dibao-standard", "qnf-2024-5-farm-machinery-subsidy"} <= expired
    assert await _ids(client, "validity=废止") == {"qjf-2023-6-rural-dangerous-housing"}
    assert not expired & await _ids(client, "validity=有效")
    in_2024 = await _ids(client, "published_from=2024-01-01&published_to=2024-12-31")
    assert in_2024 and all(i.split("-")[1] == "2024" for i in in_2024)

    detail = await _json(client, "/api/v1/policies/qzb-2022-21-dibao-standard")
    assert (
        detail["validity"] == "失效" and detail["current_version"] == "qzb-2024-12-dibao-standard"
    )
    assert detail["url"].endswith("/policies/qzb-2022-21-dibao-standard")
    dibao = await _json(client, "/api/v1/policies/qzb-2024-12-dibao-standard")
    assert {i["form"] for i in dibao["interpretations"]} == {"文字解读", "图解"}
    assert dibao["doc_number"] == "青政办〔2024〕12号" and dibao["areas"] == ["社会救助"]

    topics = await _json(client, "/api/v1/topics")
    assert {"id": "relief", "name": "救助"}.items() <= topics["items"][1].items()
    assert len((await _json(client, "/api/v1/areas"))["items"]) == 26


async def test_json_errors_never_leak_a_trace(client: TestClient) -> None:
    for path, status in [
        ("/api/v1/policies/no-such-policy", 404),
        ("/api/v1/policies?validity=永久", 400),
        ("/api/v1/policies?published_from=2024-13-01", 400),
        ("/api/v1/policies?per_page=1000", 400),
        ("/api/v1/nothing-here", 404),
    ]:
        body = await _json(client, path, status)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    response = await client.post("/api/v1/policies", json={})
    assert (
        response.status == 405 and (await response.json())["error"]["code"] == "method_not_allowed"
    )


async def test_openapi_describes_exactly_the_json_routes(client: TestClient) -> None:
    spec = await _json(client, "/api/v1/openapi.json")
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    routed = set()
    for route in client.app.router.routes():
        info = route.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if route.method != "HEAD" and is_json_path(path):
            routed.add((route.method.lower(), path))
    assert documented == routed
    assert {("get", "/api/v1/policies"), ("get", "/api/v1/policies/{id}"), ("get", "/api/v1/topics"),
            ("get", "/api/v1/areas"), ("get", "/api/v1/openapi.json")} <= documented  # fmt: skip
    params = {p["name"] for p in spec["paths"]["/api/v1/policies"]["get"]["parameters"]}
    assert {
        "area",
        "topic",
        "issuer",
        "validity",
        "published_from",
        "published_to",
        "page",
        "per_page",
    } <= params


async def test_feed_is_valid_atom(client: TestClient) -> None:
    response = await client.get("/feed.atom")
    assert response.status == 200 and response.content_type == "application/atom+xml"
    feed = feedparser.parse(await response.read())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and 0 < len(feed.entries) <= 30
    dates = [e.updated_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    kinds = {e.link.split("/")[3] for e in feed.entries}
    assert (
        {"policies", "interpretations"} <= kinds <= {"policies", "interpretations", "consultations"}
    )
    newest = feed.entries[0].link.replace("http://policy.test", "")
    assert (await client.get(newest)).status == 200
