"""Template messages name their keys per template (``thing1``, ``time2``…):
the deployment maps them to the message's parts in ``[push.templates]``,
values are cut to each key type's limit, and the WeChat stand-in refuses an
over-long value with 47003 as WeChat does."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, load_settings
from bot.push import campaigns
from bot.push.campaigns import Actor
from bot.push.models import Campaign, CampaignState
from bot.push.runtime import push_runtime, wake
from bot.services import Services, open_services
from bot.wechat.errors import WeChatError
from bot.wechat.fake import FakeWeChat
from tests.push.conftest import add_residents, eventually, fake_ids, push_settings

KEYS = {"thing1": "title", "thing2": "text", "time3": "time", "phrase4": "=已发布"}
TITLE = "关于提高城乡居民最低生活保障标准和特困人员救助供养标准的通知"  # 31 characters


@pytest.fixture
async def keyed(db_url: str, fake_wechat: FakeWeChat) -> Any:
    settings = push_settings(db_url, fake_wechat.url, templates={"tmpl-policy": KEYS})
    async with open_services(settings) as svc:
        from bot.catalog.models import Topic

        await Topic.create(id="relief", name="救助")
        yield svc


async def test_mapped_keys_carry_the_message_cut_to_wechat_limits(
    keyed: Services, fake_wechat: FakeWeChat
) -> None:
    await add_residents(fake_ids(1, 3), topics=["relief"])
    campaign = await campaigns.create(
        {"title": TITLE, "text": "自2027年1月1日起，城乡低保标准每人每月提高60元。",
         "channel": "template", "audience": {"topics": ["relief"]}},
        Actor("小王", "editor"), keyed.settings,
    )  # fmt: skip
    await campaigns.approve(campaign.id, Actor("老张", "reviewer"))
    async with push_runtime(keyed):
        await wake(keyed)

        async def done() -> bool:
            return (await Campaign.get(id=campaign.id)).state == CampaignState.done

        await eventually(done)
    data = fake_wechat.messages("o-fake-000001")[0]["payload"]["data"]
    assert set(data) == set(KEYS)
    assert data["thing1"]["value"] == TITLE[:19] + "…" and len(data["thing1"]["value"]) == 20
    assert len(data["thing2"]["value"]) == 20 and data["thing2"]["value"].startswith("自2027年")
    assert data["time3"]["value"][:2] == "20" and len(data["time3"]["value"]) == 16
    assert data["phrase4"]["value"] == "已发布"
    assert (await campaigns.counts(campaign))["sent"] == 3


async def test_the_stand_in_refuses_an_over_long_value_like_wechat(
    services: Services, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.add_followers(["o-fake-000001"])
    with pytest.raises(WeChatError) as refused:
        await services.api.send_template(
            "o-fake-000001", "tmpl-policy", {"thing1": {"value": "二" * 21}}, url=None
        )
    assert refused.value.code == 47003
    await services.api.send_template(
        "o-fake-000001", "tmpl-policy", {"thing1": {"value": "二" * 20}}, url=None
    )


@pytest.mark.parametrize(
    ("keys", "named"),
    [({"body1": "title"}, "tmpl.body1"), ({"thing1": "summary"}, "tmpl.thing1")],
)
def test_a_bad_key_mapping_stops_start_up_naming_the_key(
    keys: dict[str, str], named: str, tmp_path: Any
) -> None:
    config = tmp_path / "config.toml"
    lines = "\n".join(f'{k} = "{v}"' for k, v in keys.items())
    config.write_text(f"[push.templates.tmpl]\n{lines}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert "push.templates" in str(error.value) and named in str(error.value)
