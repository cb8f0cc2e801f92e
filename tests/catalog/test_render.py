"""Policy text renders the way staff write it: lists under a line, 落款 lines kept."""

from __future__ import annotations

import re

from bot.catalog.loader import load_content
from bot.catalog.render import render_markdown as _render
from tests.conftest import CONTENT


def render_markdown(text: str) -> str:
    """The rendered HTML without the block anchors (``id="p-3"``, tested on their own)."""
    return re.sub(r' id="p-\d+"', "", _render(text))


def test_every_block_is_anchored_in_order_and_authors_cannot_set_ids() -> None:
    html = _render('## 一、条件\n第一条 年满80周岁。\n\n- 甲\n\n<p id="x" onclick="y">hi</p>')
    assert re.findall(r'id="(p-\d+)"', html) == ["p-1", "p-2", "p-3"]
    assert 'id="x"' not in html and "onclick" not in html


BODY = """各镇（乡）人民政府、街道办事处：

现将有关事项通知如下：
- 低保标准每人每月1020元；
- 特困人员基本生活标准每人每月1326元。
申请程序：
1. 申请
2. 审核确认

```
- 代码块里不是列表
```

青山县人民政府办公室
2024年3月15日"""


def test_list_right_under_text_and_signature_lines() -> None:
    html = render_markdown(BODY)
    assert "<p>现将有关事项通知如下：</p>\n<ul>\n<li>低保标准每人每月1020元；</li>" in html
    assert "<li>特困人员基本生活标准每人每月1326元。</li>\n</ul>" in html
    assert "<ol>\n<li>申请</li>\n<li>审核确认</li>\n</ol>" in html
    assert "<p>青山县人民政府办公室<br>\n2024年3月15日</p>" in html  # the 落款 stays two lines
    assert "<pre><code>- 代码块里不是列表" in html
    assert " - " not in html


def test_tables_and_paragraphs_are_unchanged() -> None:
    html = render_markdown("| 档次 | 标准 |\n|---|---|\n| 一档 | 260 |\n\n第一段。\n\n第二段。")
    assert "<td>260</td>" in html and "<p>第一段。</p>\n<p>第二段。</p>" in html


def test_sample_documents_render_no_literal_list_markers() -> None:
    content = load_content(CONTENT)
    for doc in [*content.policies, *content.interpretations]:
        html = render_markdown(doc.body_md)
        assert "\n- " not in html and "<p>- " not in html, doc.source_path
    elderly = next(i for i in content.interpretations if i.id == "tj-qmf-2024-20-elderly-allowance")
    html = render_markdown(elderly.body_md)
    assert "<li>80—89岁：50元</li>" in html
    assert "失能或半失能的老人。<br>\n标准：半失能每月200元" in html  # its lines stay lines


def test_background_renderer_renders_as_render_markdown_does() -> None:
    """Batches rendered by worker processes come back exactly as rendered in process."""
    from bot.catalog.render import BackgroundRenderer

    texts = {
        f"k{i}": f"第{i}条\n\n- 一\n- 二\n\n| a | b |\n|---|---|\n| {i} | x |" for i in range(7)
    }
    renderer = BackgroundRenderer()
    renderer.BATCH, renderer.workers = 3, 2  # two batches to the pool, one left to render here
    try:
        for key, text in texts.items():
            renderer.add(key, text)
        out = renderer.results()
    finally:
        renderer.close()
    assert renderer.pool is not None and len(renderer.batches) == 2
    assert out == {key: _render(text) for key, text in texts.items()}
