"""The pages residents open: metadata, paired interpretations, modes, lists."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

DIBAO = "qzb-2024-12-dibao-standard"
OLD_DIBAO = "qzb-2022-21-dibao-standard"  # 失效, replaced_by DIBAO


async def _page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, path
    assert response.content_type == "text/html"
    return await response.text()


async def test_policy_page_shows_metadata_and_interpretations_by_form(client: TestClient) -> None:
    html = await _page(client, f"/policies/{DIBAO}")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for label, value in [
        ("文号", "青政办〔2024〕12号"),
        ("索引号", "1133072601-2024-00012"),
        ("发布机构", "青山县人民政府办公室"),
        ("成文日期", "2024年3月15日"),
        ("发布日期", "2024年3月22日"),
        ("有效性", "有效"),
    ]:
        assert re.search(f"<dt>{label}</dt><dd>(<span[^>]*>)?{re.escape(value)}", html), label
    assert "<h3>文字解读</h3>" in html and "<h3>图解</h3>" in html
    links = re.findall(r'class="interpretation-link" href="(/interpretations/[^"]+)"', html)
    assert len(links) == 2
    for link in links:
        interp = await _page(client, link)
        assert f'id="policy-link" href="/policies/{DIBAO}"' in interp


async def test_replaced_policy_points_to_its_replacement(client: TestClient) -> None:
    html = await _page(client, f"/policies/{OLD_DIBAO}")
    assert f'id="replaced-by" href="/policies/{DIBAO}"' in html
    assert "validity-expired" in html


async def test_large_print_and_traditional_modes_persist(client: TestClient) -> None:
    html = await _page(client, f"/policies/{DIBAO}?care=1")
    assert '<body class="care">' in html
    # The cookie keeps the mode on the next page, and links carry it too.
    html = await _page(client, "/policies")
    assert '<body class="care">' in html
    assert f'href="/policies/{DIBAO}?care=1"' in html

    html = await _page(client, f"/policies/{DIBAO}?variant=hant")
    assert 'lang="zh-Hant"' in html
    assert "發佈機構" in html and "青山縣人民政府辦公室" in html and "发布机构" not in html
    assert re.search(r'href="/interpretations/[^"?]+\?care=1&amp;variant=hant"', html)

    html = await _page(client, f"/policies/{DIBAO}?care=0&variant=hans")
    assert '<body class="standard">' in html and "发布机构" in html


async def test_lists_by_area_and_topic(client: TestClient) -> None:
    everything = await _page(client, "/policies")
    assert "第 1 / 2 页" in everything and 'rel="next" href="/policies?page=2"' in everything
    relief = await _page(client, "/topics/relief")
    assert f'href="/policies/{DIBAO}"' in relief
    assert 'href="/policies/qzf-2023-3-land-expropriation"' not in relief
    area = await _page(client, "/areas/land-expropriation")
    assert 'href="/policies/qzf-2023-3-land-expropriation"' in area
    assert f'href="/policies/{DIBAO}"' not in area
    await _page(client, "/topics/no-such-topic", status=404)
    await _page(client, "/policies/no-such-policy", status=404)


async def test_catalog_item_page_from_a_search_result(client: TestClient) -> None:
    found = await (await client.get("/api/v1/search", params={"q": "公租房分配结果"})).json()
    url = next(r["url"] for r in found["results"] if r["kind"] == "catalog_item")
    path = url[url.index("/catalog/") :]
    html = await _page(client, path)
    assert "<h1>配给管理·分配结果</h1>" in html
    assert "<dt>公开内容</dt><dd>房源信息、配租方案、摇号结果、配租结果</dd>" in html
    assert "<dt>公开时限</dt><dd>配租完成之日起20个工作日内</dd>" in html
    assert (
        '<dt>领域</dt><dd><a id="area-link" href="/areas/affordable-housing">保障性住房</a>' in html
    )
    area = await _page(client, "/areas/affordable-housing")  # the area lists its catalog rows
    assert f'href="{path}"' in area

    hant = await _page(client, f"{path}?variant=hant")
    assert "<dt>公開時限</dt><dd>配租完成之日起20個工作日內</dd>" in hant and "公开时限" not in hant
    await _page(client, "/catalog/999999", status=404)
    for bad in ("not-a-number", "99999999999999999999", "-1"):
        await _page(client, f"/catalog/{bad}", status=404)
