"""Content kinds are a registry: a new kind is one module and one registration."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.catalog import kinds
from bot.catalog.fields import Spec, date, ident, text
from bot.catalog.kinds import Kind, all_kinds, register
from bot.catalog.loader import load_content
from bot.catalog.models import Policy, Status
from bot.keys import SETTINGS
from tests.conftest import CONTENT


@dataclass
class NoticeDoc:
    id: str
    title: str
    opens_on: object
    body_md: str
    source_path: str
    content_hash: str
    lines: dict[str, int] = field(default_factory=dict)


NOTICE = Kind(
    name="notice",
    label="公告",
    model=Policy,  # the loader never touches the model
    path="/notices/{id}",
    route="notice",
    published={"status": Status.published},
    folder="notices",
    fields={
        "id": Spec(ident, required=True),
        "title": Spec(text(255), required=True),
        "opens_on": Spec(date, required=True),
    },
    document=NoticeDoc,
)


@pytest.fixture
def notice_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kind]:
    all_kinds()  # the built-in kinds first
    monkeypatch.setattr(kinds, "_REGISTRY", dict(kinds._REGISTRY))
    monkeypatch.setattr(kinds, "_ordered", [])
    yield register(NOTICE)


def test_a_registered_kind_is_read_from_its_folder_like_the_others(
    notice_registered: Kind, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "notices").mkdir()
    good = "---\nid: n-1\ntitle: 停水公告\nopens_on: 2026-03-01\n---\n正文\n"
    (root / "notices/n-1.md").write_text(good, encoding="utf-8")
    (root / "notices/n-1-copy.md").write_text(good, encoding="utf-8")
    (root / "notices/bad.md").write_text("---\nid: n-2\ntitle: 缺日期\n---\n", encoding="utf-8")

    content = load_content(root)
    assert [d.id for d in content.documents["notice"]] == ["n-1"]
    assert [str(p) for p in content.errors] == [
        f"{root}/notices/bad.md:1: 缺少必填字段 'opens_on'",
        f"{root}/notices/n-1.md:2: id 'n-1' 与 {root}/notices/n-1-copy.md 重复",
    ]
    assert len(content.policies) == len(load_content(CONTENT).policies)  # others unaffected


def test_a_kind_whose_parent_is_not_registered_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    all_kinds()
    monkeypatch.setattr(kinds, "_REGISTRY", dict(kinds._REGISTRY))
    monkeypatch.setattr(kinds, "_ordered", [])
    register(Kind("orphan", "孤儿", Policy, "/o/{id}", "orphan", {}, parent="nobody"))
    with pytest.raises(LookupError, match="orphan"):
        all_kinds()


async def test_each_kind_is_served_at_the_path_it_declares(client: TestClient) -> None:
    router = client.server.app.router
    samples = {
        "policy": "qzb-2024-12-dibao-standard",
        "interpretation": "jd-qzb-2024-12-dibao-standard",
    }
    for kind in all_kinds():
        assert router[kind.route].url_for(id="x").path == kind.path.format(id="x")
    for name, doc_id in samples.items():
        path = kinds.kind(name).path.format(id=doc_id)
        assert (await client.get(path)).status == 200
    # search results link to the same paths
    data = await (await client.get("/api/v1/search", params={"q": "公租房申请"})).json()
    for result in data["results"]:
        page = result["url"].removeprefix("http://policy.test")
        assert page == kinds.kind(result["kind"]).path.format(id=result["id"])
        assert (await client.get(page)).status == 200


async def test_consultations_are_a_kind_found_fed_and_listed_from_its_declaration(
    client: TestClient,
) -> None:
    consultation = kinds.kind("consultation")
    data = await (await client.get("/api/v1/search", params={"q": "城乡公交线路优化"})).json()
    found = [r for r in data["results"] if r["kind"] == "consultation"]
    assert [r["id"] for r in found][:1] == ["town-bus-routes"]
    page = found[0]["url"].removeprefix("http://policy.test")
    assert page == consultation.path.format(id="town-bus-routes")
    assert "公交线路" in await (await client.get(page)).text()

    listed = await (await client.get("/api/v1/consultations")).json()
    assert {c["id"] for c in listed["items"]} == {"elderly-care-subsidy", "town-bus-routes",
                                                  "service-survey-2026"}  # fmt: skip
    feed = await (await client.get("/feed.atom")).text()
    today = dt.datetime.now(client.server.app[SETTINGS].server.tz).date()
    for item in listed["items"]:
        fed = f"/consultations/{item['id']}</id>" in feed
        assert fed == (dt.date.fromisoformat(item["opens_on"]) <= today), item["id"]
