"""A stand-in for Tencent Cloud SMS (``SendSms``, API 3.0) that behaves like the real one.

It checks the TC3-HMAC-SHA256 signature from the headers the request names
(``AuthFailure.SignatureFailure``, ``…SignatureExpire`` beyond 5 minutes,
``…SecretIdNotFound``), the application, signature and template, the number
of template parameters, and the limits: requests a second
(``RequestLimitExceeded``), numbers a call (200), per number 1 in 30 s, 5 an
hour and ``daily_limit`` a day (``LimitExceeded.PhoneNumber…Limit``), the
package balance (``FailedOperation.InsufficientBalanceInSmsPackage``),
malformed numbers (``InvalidParameterValue.IncorrectPhoneNumber``) and
numbers that replied TD (``FailedOperation.PhoneNumberInBlacklist``). It
records what it accepted per number, renders the text as a phone would show
it, and posts status reports and replies to the service's callbacks as
Tencent does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bot.sms.signing import ALGORITHM, canonical_request, signature, utc_date

log = logging.getLogger("bot.sms.fake")

PHONE = re.compile(r"\+861[3-9]\d{9}")


@dataclass
class FakeSmsConfig:
    secret_id: str = "AKIDfakesms"
    secret_key: str = "fake-sms-secret"
    sdk_app_id: str = "1400000001"
    sign_names: tuple[str, ...] = ("青山县政务",)
    #: template id → approved text with {1}, {2}… placeholders
    templates: dict[str, str] = field(
        default_factory=lambda: {
            "100001": "{1}：详情见 {2} 拒收请回复R",
            "100002": "您的验证码为{1}，{2}分钟内有效，请勿泄露。",
        }
    )
    rate_limit: float = 0.0  #: requests a second before RequestLimitExceeded; 0: none
    daily_limit: int = 10  #: messages one number may receive a day
    interval: float = 30.0  #: seconds between two messages to one number (Tencent's default)
    balance: int = 10**9  #: billed units left in the package
    outage: bool = False  #: answer every call with InternalError.Timeout
    unallocated: tuple[str, ...] = ()  #: well-formed numbers no carrier knows (+86…)
    latency_ms: float = 0.0


class Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FakeSms:
    def __init__(self, config: FakeSmsConfig | None = None) -> None:
        self.config = config or FakeSmsConfig()
        self.url = ""
        self.accepted: dict[str, list[dict[str, Any]]] = {}  # phone → messages
        self.contexts: dict[str, int] = {}  # SessionContext → times accepted
        self.errors: dict[str, int] = {}
        self.calls = 0
        self.blacklist: set[str] = set()
        self.unreported: list[dict[str, Any]] = []
        self._recent: deque[float] = deque()

    def configure(self, **changes: Any) -> None:
        for key, value in changes.items():
            if not hasattr(self.config, key):
                raise KeyError(key)
            setattr(self.config, key, value)

    @property
    def total_accepted(self) -> int:
        return sum(len(m) for m in self.accepted.values())

    @property
    def duplicates(self) -> int:
        """Messages accepted again for the same SessionContext (a resend of one delivery)."""
        return sum(n - 1 for n in self.contexts.values() if n > 1)

    def messages(self, phone: str) -> list[dict[str, Any]]:
        return self.accepted.get(phone if phone.startswith("+") else f"+86{phone}", [])

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "total_accepted": self.total_accepted,
            "phones": len(self.accepted),
            "duplicates": self.duplicates,
            "errors": dict(self.errors),
            "balance": self.config.balance,
        }

    # --- the protocol -------------------------------------------------------------------

    def verify(self, request: web.Request, payload: bytes) -> None:
        auth = request.headers.get("Authorization", "")
        match = re.fullmatch(
            rf"{ALGORITHM} Credential=([^/]+)/(\d{{4}}-\d\d-\d\d)/([a-z]+)/tc3_request, "
            r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
            auth,
        )
        if not match:
            raise Refusal("AuthFailure.InvalidAuthorization", "Authorization 格式错误")
        secret_id, date, service, names, given = match.groups()
        if secret_id != self.config.secret_id:
            raise Refusal("AuthFailure.SecretIdNotFound", "密钥不存在")
        try:
            timestamp = int(request.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            raise Refusal("MissingParameter", "缺少 X-TC-Timestamp") from None
        if abs(time.time() - timestamp) > 300:
            raise Refusal("AuthFailure.SignatureExpire", "签名过期")
        signed = names.split(";")
        if "content-type" not in signed or "host" not in signed or service != "sms":
            raise Refusal("AuthFailure.SignatureFailure", "签名错误")
        if date != utc_date(timestamp):
            raise Refusal("AuthFailure.SignatureFailure", "签名错误：日期与时间戳不符")
        headers = {n: request.headers.get(n, "") for n in signed}
        canonical = canonical_request(request.method, request.path, request.query_string,
                                      headers, payload)  # fmt: skip
        if given != signature(self.config.secret_key, service, timestamp, canonical):
            raise Refusal("AuthFailure.SignatureFailure", "签名错误")

    def _throttle(self) -> None:
        if not self.config.rate_limit:
            return
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.config.rate_limit:
            raise Refusal("RequestLimitExceeded", "请求的次数超过了频率限制")
        self._recent.append(now)

    def send_sms(self, body: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        if cfg.outage:
            raise Refusal("InternalError.Timeout", "请求超时")
        self._throttle()
        if str(body.get("SmsSdkAppId")) != cfg.sdk_app_id:
            raise Refusal("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在")
        if body.get("SignName") not in cfg.sign_names:
            raise Refusal("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误")
        template = cfg.templates.get(str(body.get("TemplateId")))
        if template is None:
            raise Refusal("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或不存在")
        params = body.get("TemplateParamSet") or []
        if not isinstance(params, list) or len(params) != len(re.findall(r"\{\d+\}", template)):
            raise Refusal(
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "参数与模板不匹配"
            )
        phones = body.get("PhoneNumberSet") or []
        if not isinstance(phones, list) or not phones:
            raise Refusal("MissingParameter", "缺少 PhoneNumberSet")
        if len(phones) > 200:
            raise Refusal("LimitExceeded.PhoneNumberCountLimit", "号码数量超过 200")
        text = f"【{body['SignName']}】" + re.sub(
            r"\{(\d+)\}", lambda m: str(params[int(m.group(1)) - 1]), template
        )
        fee = 1 if len(text) <= 70 else math.ceil(len(text) / 67)
        context = str(body.get("SessionContext") or "")
        return {"SendStatusSet": [self._one(str(p), text, fee, context) for p in phones]}

    def _one(self, phone: str, text: str, fee: int, context: str) -> dict[str, Any]:
        status: dict[str, Any] = {"PhoneNumber": phone, "SessionContext": context, "IsoCode": "CN"}
        try:
            self._check_number(phone, fee)
        except Refusal as refusal:
            self.errors[refusal.code] = self.errors.get(refusal.code, 0) + 1
            return {**status, "SerialNo": "", "Fee": 0, "Code": refusal.code,
                    "Message": refusal.message}  # fmt: skip
        serial = f"2433:{uuid.uuid4().hex[:24]}"
        self.config.balance -= fee
        self.accepted.setdefault(phone, []).append(
            {"text": text, "serial": serial, "context": context, "at": time.time()}
        )
        if context:
            self.contexts[context] = self.contexts.get(context, 0) + 1
        self.unreported.append({"mobile": phone.removeprefix("+86"), "sid": serial})
        return {**status, "SerialNo": serial, "Fee": fee, "Code": "Ok", "Message": "send success"}

    def _check_number(self, phone: str, fee: int) -> None:
        if not PHONE.fullmatch(phone) or phone in self.config.unallocated:
            raise Refusal("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
        if phone in self.blacklist:
            raise Refusal("FailedOperation.PhoneNumberInBlacklist", "号码在免打扰黑名单中")
        if self.config.balance < fee:
            raise Refusal("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足")
        now = time.time()
        sent = [m["at"] for m in self.accepted.get(phone, [])]
        if any(now - at < self.config.interval for at in sent):
            raise Refusal(
                "LimitExceeded.PhoneNumberThirtySecondLimit", "30 秒内发送短信条数超过上限"
            )
        if sum(1 for at in sent if now - at < 3600) >= 5:
            raise Refusal("LimitExceeded.PhoneNumberOneHourLimit", "1 小时内发送短信条数超过上限")
        if sum(1 for at in sent if now - at < 86400) >= self.config.daily_limit:
            raise Refusal("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过上限")

    # --- what Tencent posts back ------------------------------------------------------

    async def post_reports(self, url: str, failed: frozenset[str] = frozenset()) -> int:
        """Post the status reports of everything accepted so far (``failed`` phones: not delivered)."""
        batch, self.unreported = self.unreported, []
        reports = [
            {
                "user_receive_time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "nationcode": "86",
                "mobile": r["mobile"],
                "report_status": "FAIL" if r["mobile"] in failed else "SUCCESS",
                "errmsg": "MK:0001" if r["mobile"] in failed else "DELIVRD",
                "description": "用户短信未送达" if r["mobile"] in failed else "用户短信送达成功",
                "sid": r["sid"],
            }
            for r in batch
        ]
        if reports:
            await _post(url, reports)
        return len(reports)

    async def reply(self, url: str, phone: str, text: str) -> None:
        """A resident answers an SMS (``TD``): Tencent posts the reply to the callback."""
        mobile = phone.removeprefix("+86")
        if text.strip().upper() in ("TD", "T", "R", "退订"):
            self.blacklist.add(f"+86{mobile}")
        sign = self.config.sign_names[0]
        await _post(url, {"extend": "", "mobile": mobile, "nationcode": "86", "sign": sign,
                          "text": text, "time": int(time.time()),
                          "sdkappid": self.config.sdk_app_id})  # fmt: skip


FAKE_KEY: web.AppKey[FakeSms] = web.AppKey("fake_sms")


async def _post(url: str, data: Any) -> None:
    async with aiohttp.ClientSession() as http, http.post(url, json=data) as resp:
        resp.raise_for_status()


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def _api(request: web.Request) -> web.Response:
    s = request.app[FAKE_KEY]
    s.calls += 1
    payload = await request.read()
    request_id = str(uuid.uuid4())
    if s.config.latency_ms:
        await asyncio.sleep(s.config.latency_ms / 1000)
    try:
        s.verify(request, payload)
        if request.headers.get("X-TC-Version") != "2021-01-11":
            raise Refusal("NoSuchVersion", "接口版本不存在")
        action = request.headers.get("X-TC-Action", "")
        if action != "SendSms":
            raise Refusal("InvalidAction", f"接口不存在：{action}")
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise Refusal("InvalidParameter", "请求体不是 JSON") from None
        answer = s.send_sms(body)
    except Refusal as refusal:
        s.errors[refusal.code] = s.errors.get(refusal.code, 0) + 1
        error = {"Code": refusal.code, "Message": refusal.message}
        return _json({"Response": {"Error": error, "RequestId": request_id}})
    return _json({"Response": {**answer, "RequestId": request_id}})


async def _state(request: web.Request) -> web.Response:
    return _json(request.app[FAKE_KEY].snapshot())


async def _config(request: web.Request) -> web.Response:
    request.app[FAKE_KEY].configure(**(await request.json()))
    return _json({"ok": True})


def create_fake_sms_app(config: FakeSmsConfig | None = None) -> web.Application:
    app = web.Application()
    app[FAKE_KEY] = FakeSms(config)
    app.router.add_post("/", _api)
    app.router.add_get("/_fake/state", _state)
    app.router.add_post("/_fake/config", _config)
    return app


async def serve_fake_sms(
    port: int, config: FakeSmsConfig | None = None, host: str = "127.0.0.1"
) -> tuple[web.AppRunner, FakeSms]:
    """Start the stand-in on loopback; the caller cleans the runner up."""
    app = create_fake_sms_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    state = app[FAKE_KEY]
    state.url = f"http://{host}:{port}/"
    return runner, state
