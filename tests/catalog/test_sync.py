"""``content sync``: idempotent, removal unpublishes, a crash half-way changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import connections

from bot.catalog.models import CatalogItem, Interpretation, Policy, Status, Topic
from bot.catalog.sync import sync_content
from bot.models import AuditEntry
from tests.conftest import CONTENT

DIBAO = "qzb-2024-12-dibao-standard"
PROCEDURE = "qmf-2023-9-dibao-procedure"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_sync_is_idempotent_and_removal_unpublishes(database: str, content: Path) -> None:
    first = await sync_content(content)
    assert first.errors == []
    assert first.created["policy"] == len(list((content / "policies").glob("*.md")))
    assert await Policy.filter(status=Status.published).count() == first.created["policy"]

    again = await sync_content(content)
    assert not again.changed and again.unchanged["policy"] == first.created["policy"]

    _replace(content / f"policies/{DIBAO}.md", "一、最低生活保障标准", "一、最低生活保障新标准")
    (content / f"policies/{PROCEDURE}.md").unlink()
    csv = content / "catalog/social-assistance.csv"
    csv.write_text(
        "\n".join(csv.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8"
    )
    report = await sync_content(content)

    assert report.updated["policy"] == 1 and report.unpublished["policy"] == 1
    assert "最低生活保障新标准" in (await Policy.get(id=DIBAO)).body_html
    removed = await Policy.get(id=PROCEDURE)  # kept, never deleted
    assert removed.status == Status.unpublished
    # its interpretations go offline with it (三同步)
    assert set(
        await Interpretation.filter(policy_id=PROCEDURE).values_list("status", flat=True)
    ) == {Status.unpublished}
    assert await CatalogItem.filter(published=False).count() == 1
    actions = set(await AuditEntry.filter(actor="content-sync").values_list("action", flat=True))
    assert {"content.create", "content.update", "content.unpublish"} <= actions

    (content / f"policies/{PROCEDURE}.md").write_text(
        (CONTENT / f"policies/{PROCEDURE}.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    await sync_content(content)
    assert (await Policy.get(id=PROCEDURE)).status == Status.published


_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON policy WHEN NEW.id = 'zz-boom' "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    ],
    "postgres": [
        "CREATE OR REPLACE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN "
        "IF NEW.id = 'zz-boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON policy FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
    ],
}
_DROP = {
    "sqlite": ["DROP TRIGGER refuse_boom"],
    "postgres": ["DROP TRIGGER refuse_boom ON policy", "DROP FUNCTION refuse_boom()"],
}


async def test_crash_mid_sync_leaves_previous_catalog(database: str, content: Path) -> None:
    await sync_content(content)
    before = {p.id: (p.status, p.body_html) for p in await Policy.all()}
    topic_names = dict(await Topic.all().values_list("id", "name"))

    # Several changes, written in order; the database refuses the last one.
    _replace(content / "topics.yaml", "name: 救助", "name: 社会救助服务")
    _replace(content / f"policies/{DIBAO}.md", "一、最低生活保障标准", "一、最低生活保障新标准")
    (content / f"policies/{PROCEDURE}.md").unlink()
    (content / "interpretations/jd-qmf-2023-9-dibao-procedure.md").unlink()
    template = (CONTENT / "policies/qwg-2023-10-library-free-access.md").read_text(encoding="utf-8")
    for new_id in ("aa-new", "zz-boom"):
        text = template.replace("id: qwg-2023-10-library-free-access", f"id: {new_id}")
        (content / f"policies/{new_id}.md").write_text(text, encoding="utf-8")

    dialect = connections.get("default").capabilities.dialect
    conn = connections.get("default")
    for sql in _TRIGGERS[dialect]:
        await conn.execute_script(sql)
    try:
        with pytest.raises(Exception, match="boom"):  # the driver's own error type
            await sync_content(content)
    finally:
        for sql in _DROP[dialect]:
            await conn.execute_script(sql)

    assert {p.id: (p.status, p.body_html) for p in await Policy.all()} == before
    assert dict(await Topic.all().values_list("id", "name")) == topic_names

    report = await sync_content(content)  # and once the cause is gone, it goes through
    assert report.created["policy"] == 2 and report.unpublished["policy"] == 1
