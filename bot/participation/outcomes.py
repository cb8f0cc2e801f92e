"""Outcomes of a disclosure request, as section 三 of the 政府信息公开工作年度报告
counts them (format of 国办公开办函〔2021〕30号): six categories, three of them with
the report's sub-reasons, in the report's order and with its words."""

from __future__ import annotations

OUTCOMES: dict[str, tuple[str, ...]] = {
    "予以公开": (),
    "部分公开": (),  # 区分处理的，只计这一情形
    "不予公开": (
        "属于国家秘密",
        "其他法律行政法规禁止公开",
        "危及“三安全一稳定”",
        "保护第三方合法权益",
        "属于三类内部事务信息",
        "属于四类过程性信息",
        "属于行政执法案卷",
        "属于行政查询事项",
    ),
    "无法提供": (
        "本机关不掌握相关政府信息",
        "没有现成信息需要另行制作",
        "补正后申请内容仍不明确",
    ),
    "不予处理": (
        "信访举报投诉类申请",
        "重复申请",
        "要求提供公开出版物",
        "无正当理由大量反复申请",
        "要求行政机关确认或重新出具已获取信息",
    ),
    "其他处理": (
        "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "其他",
    ),
}

APPLICANT_TYPES = ("公民", "法人或其他组织")
#: The report's columns for 法人或其他组织; a registration without one counts as 其他.
ORG_KINDS = ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
DELIVERY = ("微信", "电子邮件", "邮寄", "自行领取")
ID_TYPES = {
    "公民": ("居民身份证", "护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "其他"),
    "法人或其他组织": ("统一社会信用代码", "组织机构代码", "其他"),
}


def reason_required(outcome: str) -> bool:
    return bool(OUTCOMES.get(outcome))
