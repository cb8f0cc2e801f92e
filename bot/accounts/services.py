"""Every change to a staff account, and log-in itself: one home function each.

The console, the CLI and the chat's 绑定 handler all call these, and each
writes the audit trail. Refusals are domain errors; a failed log-in never
says whether the name or the password was wrong.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.accounts import passwords, sessions
from bot.accounts.lockout import Lockout, keys_for
from bot.accounts.models import Account, Tester
from bot.audit import Actor
from bot.config import Role
from bot.errors import Conflict, Forbidden, Invalid, NotFound

SYSTEM = Actor("policybot users", "system")  # the CLI, run by whoever holds the server
BINDING_VALID = timedelta(minutes=10)
MAX_TESTERS = 5
BAD_LOGIN = "用户名或密码不正确，连续失败 5 次将锁定 15 分钟。"
LOCKED = "登录失败次数过多，已锁定 15 分钟，请稍后再试。"


class LoginRefused(Forbidden):
    """A failed log-in; ``code`` is ``bad_credentials`` or ``locked``, the message never says which part."""


def _valid_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise Invalid("invalid_name", "用户名为 1 至 64 个字符，不能含空格")
    return name


def _valid_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid("invalid_role", "角色应为 publisher、editor、reviewer 或 admin") from None


async def get(name: str) -> Account:
    account = await Account.get_or_none(name=name)
    if account is None:
        raise NotFound("not_found", f"没有用户 {name}")
    return account


async def create(
    name: str, role: str, password: str, who: Actor, *, department: str = "",
    must_change: bool = True,
) -> Account:  # fmt: skip
    """A new account; publishers need a department (they edit only its drafts)."""
    name, kind, department = _valid_name(name), _valid_role(role), department.strip()[:128]
    if kind == Role.publisher and not department:
        raise Invalid("invalid_department", "发布员须指定所属部门（发布机构）")
    passwords.check_rules(name, password)
    try:
        account = await Account.create(
            name=name, role=kind.value, department=department,
            password_hash=await passwords.hash_off_loop(password),
            must_change_password=must_change,
        )  # fmt: skip
    except IntegrityError:
        raise Conflict("conflict", f"用户 {name} 已存在") from None
    await audit.record(who, "account.create", "account", name, role=kind.value,
                       department=department)  # fmt: skip
    return account


async def list_accounts() -> list[Account]:
    return list(await Account.all().order_by("name"))


async def set_disabled(name: str, disabled: bool, who: Actor) -> Account:
    """Disable (every session ends at once) or enable again."""
    account = await get(name)
    if disabled and account.role == Role.admin and not account.disabled:
        others = await Account.filter(role=Role.admin.value, disabled=False).exclude(id=account.id)
        if not others:
            raise Conflict("last_admin", "不能停用最后一个可用的管理员")
    account.disabled = disabled
    await account.save(update_fields=["disabled"])
    if disabled:
        await sessions.end_all(account.id)
    await audit.record(who, "account.disable" if disabled else "account.enable", "account", name)
    return account


async def reset(name: str, who: Actor) -> str:
    """A temporary password (returned once), to be changed at the next log-in; sessions end."""
    account = await get(name)
    temporary = passwords.temporary_password()
    account.password_hash = await passwords.hash_off_loop(temporary)
    account.must_change_password = True
    await account.save(update_fields=["password_hash", "must_change_password"])
    await sessions.end_all(account.id)
    await audit.record(who, "account.reset", "account", name)
    return temporary


async def change_password(account: Account, current: str, new: str, who: Actor) -> None:
    """The holder changes their password; every session of the account ends."""
    if not await passwords.verify_off_loop(account.password_hash, current):
        raise Invalid("wrong_password", "当前密码不正确")
    if secrets.compare_digest(current.encode(), new.encode()):
        raise Invalid("weak_password", "新密码不能与当前密码相同")
    passwords.check_rules(account.name, new)
    account.password_hash = await passwords.hash_off_loop(new)
    account.must_change_password = False
    account.password_changed_at = datetime.now(UTC)
    await account.save(
        update_fields=["password_hash", "must_change_password", "password_changed_at"]
    )
    await sessions.end_all(account.id)
    await audit.record(who, "account.password", "account", account.name)


async def authenticate(name: str, password: str, address: str, lockout: Lockout) -> Account:
    """The account for this name and password, or ``LoginRefused``; every outcome is audited."""
    keys = keys_for(name, address)
    account = await Account.get_or_none(name=name.strip())
    who = Actor(account.name if account else _unknown(name), "", address)
    if await lockout.locked(keys):
        await audit.record(who, "login.locked", "account", who.name)
        raise LoginRefused("locked", LOCKED)
    matches = await passwords.verify_off_loop(account.password_hash if account else None, password)
    if account is None or not matches or account.disabled:
        reason = "unknown" if account is None else "disabled" if matches else "password"
        locked = await lockout.failed(keys)
        await audit.record(who, "login.failure", "account", who.name, reason=reason, locked=locked)
        raise LoginRefused(
            "locked" if locked else "bad_credentials", LOCKED if locked else BAD_LOGIN
        )
    await lockout.succeeded(keys[0])
    await audit.record(Actor(account.name, account.role, address), "login.success", "account",
                       account.name)  # fmt: skip
    return account


def _unknown(name: str) -> str:
    """How a name no account has appears in the trail: people type their password into the
    name field by mistake, so only its first two characters and its length are kept."""
    name = name.strip()
    return f"{name[:2]}…（不存在的用户名，{len(name)} 个字符）" if name else "-"


# --- WeChat binding and testers (test sends go only to these) -----------------------------------


def _code_hash(code: str) -> str:
    # Looked up by hash: the database comparison then reveals nothing about the code.
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def new_binding_code(account: Account, who: Actor) -> str:
    """A one-time code the holder sends as ``绑定 CODE`` to the account within 10 minutes."""
    while True:
        code = f"{secrets.randbelow(10**8):08d}"
        try:
            await Account.filter(id=account.id).update(
                binding_code=_code_hash(code),
                binding_expires_at=datetime.now(UTC) + BINDING_VALID,
            )
            break
        except IntegrityError:  # another account holds the same code right now
            continue
    await audit.record(who, "account.binding_code", "account", account.name)
    return code


async def bind(code: str, openid: str) -> Account | None:
    """Bind the WeChat user ``openid`` to the account whose code this is; None if none is."""
    now = datetime.now(UTC)
    account = await Account.get_or_none(
        binding_code=_code_hash(code), binding_expires_at__gt=now, disabled=False
    )
    if account is None:
        return None
    async with in_transaction() as conn:
        await Account.filter(wechat_openid=openid).using_db(conn).update(wechat_openid=None)
        taken = (
            await Account.filter(id=account.id, binding_code=_code_hash(code))
            .using_db(conn)
            .update(wechat_openid=openid, binding_code=None, binding_expires_at=None)
        )
        if not taken:
            return None
        await audit.record(Actor(account.name, account.role), "account.bind", "account",
                           account.name, conn=conn)  # fmt: skip
    account.wechat_openid = openid
    return account


async def add_tester(name: str, openid: str, who: Actor) -> Tester:
    name, openid = name.strip()[:64], openid.strip()
    if not name or not openid or len(openid) > 64:
        raise Invalid("invalid", "请填写测试人员的姓名和 openid")
    if await Tester.all().count() >= MAX_TESTERS:
        raise Conflict("too_many_testers", f"测试人员最多 {MAX_TESTERS} 名")
    try:
        tester = await Tester.create(name=name, openid=openid, added_by=who.name)
    except IntegrityError:
        raise Conflict("conflict", "该 openid 已登记为测试人员") from None
    await audit.record(who, "tester.add", "tester", tester.id, name=name)
    return tester


async def remove_tester(tester_id: int, who: Actor) -> None:
    if not await Tester.filter(id=tester_id).delete():
        raise NotFound("not_found", "没有这名测试人员")
    await audit.record(who, "tester.remove", "tester", tester_id)


async def test_recipients(who: Actor, requested: list[str] | None) -> list[str]:
    """Who a test send by ``who`` may reach: their own bound WeChat and registered testers.

    ``requested`` names openids (or testers' names); none means the sender's own.
    """
    own = await Account.filter(name=who.name, disabled=False).values_list(
        "wechat_openid", flat=True
    )
    mine = {str(o) for o in own if o}
    testers = {t.openid: t.name for t in await Tester.all()}
    by_name = {name: openid for openid, name in testers.items()}
    if not requested:
        if not mine:
            raise Forbidden(
                "not_bound", "请先在控制台“我的账号”绑定您的微信，或指定已登记的测试人员"
            )
        return sorted(mine)
    chosen = [by_name.get(r, r) for r in requested]
    refused = [
        r for r, o in zip(requested, chosen, strict=True) if o not in mine and o not in testers
    ]
    if refused:
        raise Forbidden(
            "not_a_tester",
            "测试发送只能发给本人绑定的微信或管理员登记的测试人员：" + "、".join(refused),
        )
    return sorted(set(chosen))
