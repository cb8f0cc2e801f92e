"""Async client of Tencent Cloud SMS ``SendSms`` (API 3.0, version 2021-01-11).

One call takes up to 200 numbers and answers with one status per number
(``SendStatusSet``); a refusal of the whole request comes as
``Response.Error``. Both are ``SmsError`` with Tencent's code, which the SMS
channel sorts into permanent, transient and rate-limited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from bot.config import SmsSettings
from bot.sms.signing import signed_headers

SERVICE, VERSION = "sms", "2021-01-11"
MAX_NUMBERS = 200  # SendSms: PhoneNumberSet takes at most 200 numbers
NETWORK = "InternalError.Network"  # our code for a call that got no answer


class SmsError(Exception):
    """Tencent refused the request or one number (``code`` is Tencent's, e.g. LimitExceeded.…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SendStatus:
    phone: str
    code: str  # "Ok" when accepted
    message: str
    serial_no: str
    fee: int  # billed message units (long SMS count more than one)


def e164(phone: str) -> str:
    """``13812345678`` or ``+8613812345678`` → ``+8613812345678``."""
    return phone if phone.startswith("+") else f"+86{phone}"


class TencentSms:
    def __init__(self, settings: SmsSettings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.http = http
        self.host = urlsplit(settings.endpoint).netloc

    async def send(
        self,
        phones: list[str],
        template_id: str,
        params: list[str],
        session_context: str = "",
    ) -> list[SendStatus]:
        """Send one template to ``phones``; the status of each number, in order."""
        body: dict[str, Any] = {
            "PhoneNumberSet": [e164(p) for p in phones],
            "SmsSdkAppId": self.settings.sdk_app_id,
            "SignName": self.settings.sign_name,
            "TemplateId": template_id,
            "TemplateParamSet": params,
        }
        if session_context:
            body["SessionContext"] = session_context
        answer = await self._call("SendSms", body)
        return [
            SendStatus(
                phone=str(s.get("PhoneNumber", "")),
                code=str(s.get("Code", "")),
                message=str(s.get("Message", "")),
                serial_no=str(s.get("SerialNo", "")),
                fee=int(s.get("Fee") or 0),
            )
            for s in answer.get("SendStatusSet") or []
        ]

    async def _call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = orjson.dumps(body)
        headers = signed_headers(
            secret_id=self.settings.secret_id,
            secret_key=self.settings.secret_key.get_secret_value(),
            service=SERVICE,
            host=self.host,
            action=action,
            version=VERSION,
            region=self.settings.region,
            payload=payload,
            timestamp=int(time.time()),
        )
        try:
            async with self.http.post(self.settings.endpoint, data=payload, headers=headers) as r:
                raw = await r.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SmsError(NETWORK, f"no answer from the SMS API: {type(exc).__name__}") from exc
        try:
            response = orjson.loads(raw)["Response"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise SmsError(NETWORK, f"not an API answer (HTTP {r.status})") from exc
        error = response.get("Error")
        if error:
            raise SmsError(str(error.get("Code")), str(error.get("Message", "")))
        return dict(response)
