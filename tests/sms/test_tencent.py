"""TC3-HMAC-SHA256 and SendSms as Tencent takes them: the official SDK and our own
client both get through the stand-in, and the stand-in refuses what Tencent
refuses (wrong key, stale timestamp, a tampered body, bad numbers, limits)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import orjson
import pytest

from bot.config import SmsSettings
from bot.sms.fake import FakeSms
from bot.sms.signing import signed_headers
from bot.sms.tencent import SmsError, TencentSms

PHONE = "13812345678"


def _settings(fake: FakeSms, **changes: Any) -> SmsSettings:
    cfg = fake.config
    return SmsSettings.model_validate({
        "secret_id": cfg.secret_id, "secret_key": cfg.secret_key, "sdk_app_id": cfg.sdk_app_id,
        "sign_name": cfg.sign_names[0], "template_id": "100001", "endpoint": fake.url, **changes,
    })  # fmt: skip


def _sdk_send(fake: FakeSms, secret_key: str, phones: list[str]) -> Any:
    """The official tencentcloud-sdk-python-sms client, as a deployment's script would use it."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=fake.url[7:-1]))
    client = sms_client.SmsClient(
        credential.Credential(fake.config.secret_id, secret_key), "ap-guangzhou", profile
    )
    request = models.SendSmsRequest()
    request.from_json_string(json.dumps({
        "PhoneNumberSet": phones, "SmsSdkAppId": fake.config.sdk_app_id,
        "SignName": "青山县政务", "TemplateId": "100001", "TemplateParamSet": ["通知", "http://x"],
    }))  # fmt: skip
    return client.SendSms(request)


async def test_the_official_sdk_is_accepted_and_a_wrong_key_refused(
    fake_sms: FakeSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    answer = await asyncio.to_thread(
        _sdk_send, fake_sms, fake_sms.config.secret_key, [f"+86{PHONE}"]
    )
    assert answer.SendStatusSet[0].Code == "Ok"
    assert fake_sms.messages(PHONE)[0]["text"] == "【青山县政务】通知：详情见 http://x 拒收请回复R"
    with pytest.raises(TencentCloudSDKException) as refused:
        await asyncio.to_thread(_sdk_send, fake_sms, "wrong-key", ["+8613912345678"])
    assert refused.value.code == "AuthFailure.SignatureFailure"
    assert fake_sms.messages("13912345678") == []


async def test_our_client_sends_and_gets_each_numbers_status(fake_sms: FakeSms) -> None:
    fake_sms.configure(unallocated=("+8617000000000",))
    async with aiohttp.ClientSession() as http:
        client = TencentSms(_settings(fake_sms), http)
        statuses = await client.send(
            [PHONE, "+8617000000000", "12345"], "100001", ["低保标准提高", "http://policy.test/p/1"]
        )
    assert [s.code for s in statuses] == [
        "Ok",
        "InvalidParameterValue.IncorrectPhoneNumber",
        "InvalidParameterValue.IncorrectPhoneNumber",
    ]
    assert statuses[0].serial_no and statuses[0].fee == 1
    # Tencent's default per-number limit: one message in 30 seconds.
    async with aiohttp.ClientSession() as http:
        (again,) = await TencentSms(_settings(fake_sms), http).send([PHONE], "100001", ["a", "b"])
    assert again.code == "LimitExceeded.PhoneNumberThirtySecondLimit"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("stale", "AuthFailure.SignatureExpire"),
        ("tampered", "AuthFailure.SignatureFailure"),
        ("unknown id", "AuthFailure.SecretIdNotFound"),
        ("template", "FailedOperation.TemplateIncorrectOrUnapproved"),
        ("params", "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"),
    ],
)
async def test_the_stand_in_refuses_what_tencent_refuses(
    fake_sms: FakeSms, change: str, code: str
) -> None:
    cfg = fake_sms.config
    body = {"PhoneNumberSet": [f"+86{PHONE}"], "SmsSdkAppId": cfg.sdk_app_id,
            "SignName": "青山县政务", "TemplateId": "100001", "TemplateParamSet": ["a", "b"]}  # fmt: skip
    if change == "template":
        body["TemplateId"] = "999"
    if change == "params":
        body["TemplateParamSet"] = ["a"]
    payload = orjson.dumps(body)
    headers = signed_headers(
        secret_id="AKIDnobody" if change == "unknown id" else cfg.secret_id,
        secret_key=cfg.secret_key, service="sms", host=fake_sms.url[7:-1], action="SendSms",
        version="2021-01-11", region="ap-guangzhou", payload=payload,
        timestamp=int(time.time()) - (600 if change == "stale" else 0),
    )  # fmt: skip
    if change == "tampered":
        payload = payload.replace(b"100001", b"100002")
    async with (
        aiohttp.ClientSession() as http,
        http.post(fake_sms.url, data=payload, headers=headers) as resp,
    ):
        answer = await resp.json()
    assert answer["Response"]["Error"]["Code"] == code
    assert fake_sms.total_accepted == 0


async def test_a_refused_request_is_an_sms_error(fake_sms: FakeSms) -> None:
    async with aiohttp.ClientSession() as http:
        client = TencentSms(_settings(fake_sms, secret_key="not-the-key"), http)
        with pytest.raises(SmsError) as refused:
            await client.send([PHONE], "100001", ["a", "b"])
    assert refused.value.code == "AuthFailure.SignatureFailure"
