"""Content loads as people write it: to the contract, from standard catalogs, from Excel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.catalog.loader import area_id, load_content
from bot.catalog.models import Area, CatalogItem, Disclosure, Policy, Status, Topic, Validity
from bot.catalog.sync import sync_content
from bot.cli import main
from tests.conftest import CONTENT

CONTRACT = Path(__file__).parent / "contract_content"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_folder_written_to_the_contract_loads_with_zero_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["content", "check", str(CONTRACT)]) == 0
    out = capsys.readouterr()
    # The only remark is the Excel-saved GB18030 file, read correctly.
    assert out.out.splitlines() == [
        f"{CONTRACT}/catalog/employment.csv:1: warning: "
        "不是 UTF-8 编码，已按 GB18030 读取（建议另存为 UTF-8）"
    ]
    assert "3 篇政策、1 篇解读、5 条目录事项" in out.err

    content = load_content(CONTRACT)
    areas = {a.name: a.id for a in content.areas}
    assert len(areas) == 26 and areas["社会救助"] == "she-hui-jiu-zhu"
    topics = {t.id: t.areas for t in content.topics}
    assert topics["jiuzhu"] == [areas["社会救助"], areas["救灾"]]  # named by name
    rows = {(r.level1, r.level2): r for r in content.catalog}
    assert rows["最低生活保障", "家庭经济状况核对材料"].method == "依申请"
    assert rows["最低生活保障", "审核确认结果"].audience == "特定群体"
    employment = rows["就业服务", "招聘信息"]  # from the GB18030 file, with CRLF lines
    assert (employment.subject, employment.area) == ("白水县公共就业服务中心", "就业")
    assert rows["政策文件", "法律法规和政策文件"].seq == "1"  # the BOM is not part of 序号
    policies = {p.id: p for p in content.policies}
    assert policies["jiuye-2024"].disclosure == Disclosure.on_request


async def test_contract_folder_syncs_with_derived_area_ids(database: str) -> None:
    report = await sync_content(CONTRACT)
    assert report.errors == []
    assert await Area.filter(id="she-hui-jiu-zhu", name="社会救助").exists()
    assert (await Topic.get(id="jiuye")).areas == ["jiu-ye", "she-hui-bao-xian"]
    policy = await Policy.get(id="jiuye-2024").prefetch_related("areas")
    assert sorted(a.name for a in policy.areas) == ["就业", "社会保险"]
    assert await CatalogItem.filter(area="就业", published=True).count() == 2

    again = await sync_content(CONTRACT)  # derived ids are stable
    assert not again.changed


def test_areas_with_the_same_pinyin_get_distinct_ids(tmp_path: Path) -> None:
    root = tmp_path / "content"
    root.mkdir()
    (root / "areas.yaml").write_text("- name: 就业\n- name: 旧业\n- name: 就业\n", encoding="utf-8")
    content = load_content(root)
    ids = [a.id for a in content.areas]
    assert ids[0] == "jiu-ye" and ids[1].startswith("jiu-ye-") and len(ids) == 2
    assert [p.message for p in content.errors] == ["领域 就业 重复"]


def test_area_ids_are_stable_slugs() -> None:
    assert (
        area_id("国有土地上房屋征收与补偿") == "guo-you-tu-di-shang-fang-wu-zheng-shou-yu-bu-chang"
    )
    assert area_id("就业") == area_id("就业") == "jiu-ye"
    assert (
        len(area_id("国有土地上房屋征收与补偿以及集体土地上房屋拆迁补偿安置和社会稳定风险评估"))
        <= 64
    )
    assert area_id("12345 热线") == "12345-re-xian"


async def test_unknown_area_or_topic_is_a_warning_and_the_policy_is_published(
    database: str, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = sample / "policies/qzb-2024-12-dibao-standard.md"
    _replace(policy, "areas: [社会救助]", "areas: [社会救助, 残疾人服务]")
    _replace(policy, "topics: [relief]", "topics: [relief, no-such-topic]")
    _replace(sample / "topics.yaml", "areas: [social-assistance]", "areas: [社会救助, 不存在]")

    assert main(["content", "check", str(sample)]) == 0  # warnings never fail the check
    out = capsys.readouterr().out.splitlines()
    assert f"{policy}:9: warning: areas: areas.yaml 中没有领域 残疾人服务，已忽略" in out
    assert f"{policy}:10: warning: topics: topics.yaml 中没有主题 no-such-topic，已忽略" in out
    assert any(
        line.startswith(f"{sample}/topics.yaml:") and "不存在" in line and "warning" in line
        for line in out
    )

    report = await sync_content(sample)
    assert report.errors == []
    row = await Policy.get(id="qzb-2024-12-dibao-standard").prefetch_related("areas", "topics")
    assert row.status == Status.published
    assert [a.name for a in row.areas] == ["社会救助"]
    assert [t.id for t in row.topics] == ["relief"]
    assert (await Topic.get(id="relief")).areas == ["social-assistance"]


def test_missing_required_field_is_an_error_that_fails_the_check(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace(
        sample / "policies/qzb-2022-21-dibao-standard.md", "validity: 失效", "validity: 已失效"
    )
    policy = sample / "policies/qwg-2023-10-library-free-access.md"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(
        "\n".join(line for line in text.split("\n") if not line.startswith("issuer:")),
        encoding="utf-8",
    )
    _replace(sample / "policies/qzb-2024-12-dibao-standard.md", "\ntopics:", "\ntopicz:")
    assert main(["content", "check", str(sample)]) == 1
    out = capsys.readouterr().out
    assert f"{policy}:1: 缺少必填字段 'issuer'" in out
    # an unknown field is only a warning: that policy still loads
    assert "warning: 未知字段 'topicz'，已忽略" in out
    loaded = {p.id: p for p in load_content(sample).policies}
    assert (
        "qzb-2024-12-dibao-standard" in loaded and "qwg-2023-10-library-free-access" not in loaded
    )
    assert loaded["qzb-2022-21-dibao-standard"].validity == Validity.expired  # as gov.cn writes it


def test_standard_catalog_spellings_and_encodings(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = sample / "catalog/social-assistance.csv"
    text = csv.read_text(encoding="utf-8")
    text = text.replace(",全社会,主动,", ",社会公众,主动公开,", 1)
    text = text.replace(",领域\n", ",所属领域,,\n", 1)  # another name; Excel's empty cells
    text = text.replace(",社会救助\n", ",社会救助,,\n", 1)
    csv.write_bytes(text.encode("gb18030"))
    utf16 = sample / "catalog/utf16.csv"
    utf16.write_bytes(text.encode("utf-16"))

    assert main(["content", "check", str(sample)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{csv}:1: warning: 不是 UTF-8 编码，已按 GB18030 读取（建议另存为 UTF-8）",
        f"{utf16}:1: 是 UTF-16 编码（Excel“Unicode 文本”），请另存为 UTF-8",
    ]
    rows = [
        r for r in load_content(sample).catalog if r.source_path == "catalog/social-assistance.csv"
    ]
    assert (rows[0].seq, rows[0].audience, rows[0].method) == ("1", "全社会", "主动")
    assert len(rows) == sum(1 for r in load_content(CONTENT).catalog if r.area == "社会救助")
