"""Users, roles, tokens and passwords; resolving the acting user (docs/reference.md#roles, #command-line)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core import audit
from core.clock import Clock, utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from core.i18n import register
from tenants.models import Department, Operator, Role, User
from tenants.permissions import ADMIN, Actor, require

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

register(
    {
        "a monitor user has a token only, no password": "监控用户只有令牌，不能设置密码",
        "invalid user name {name!r}": "用户名 {name!r} 无效",
        "unknown role {role!r}; roles: {roles}": "未知角色 {role!r}；可选：{roles}",
        "user '{name}' already exists": "用户“{name}”已存在",
        "an operator user needs --operator": "运营商用户必须指定 --operator",
        "a department user needs --department": "部门用户必须指定 --department",
        "only operator users have an operator and only department users a department": "只有运营商用户可以绑定运营商，只有部门用户可以绑定部门",
        "the built-in administrator cannot be created, changed or disabled": "内置管理员不能被创建、修改或停用",
        "user": "用户",
        "password must have at least 8 characters": "密码至少 8 个字符",
        "invalid token": "令牌无效",
        "invalid user name or password": "用户名或密码错误",
    }
)


@dataclass(frozen=True)
class UserRead:
    """A user as shown to others (never the token or password hash)."""

    name: str
    role: str
    operator: str | None
    department: str | None
    disabled: bool
    has_password: bool

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(
            user.name, user.role, user.operator_id, user.department_id, user.disabled, user.password_hash is not None
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh bearer token and its stored hash."""
    token = "zy_" + secrets.token_urlsafe(32)
    return token, _token_hash(token)


def hash_password(password: str) -> str:
    """scrypt with a random salt."""
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches a stored scrypt hash."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def actor_of(user: User) -> Actor:
    """The Actor for a stored user."""
    return Actor(name=user.name, role=user.role, operator_id=user.operator_id, department_id=user.department_id)


def resolve_actor(session: Session, name: str | None) -> Actor:
    """The acting user by name (`admin` when none is given)."""
    name = name or ADMIN
    user = session.get(User, name)
    if user is None:
        raise NotFound("unknown user '{name}'", name=name)
    if user.disabled:
        raise Forbidden("user '{name}' is disabled", name=name)
    return actor_of(user)


def authenticate_token(session: Session, token: str) -> Actor:
    """The acting user holding a bearer token; a disabled user's token is as invalid as an unknown one
    (docs/reference.md#users-and-tokens)."""
    user = session.exec(select(User).where(User.token_hash == _token_hash(token))).first()
    if user is None or user.disabled:  # the same answer: a caller learns nothing of whose token it holds
        raise Unauthenticated("invalid token")
    return actor_of(user)


def metrics_reader(session: Session, *, actor: Actor) -> Actor:
    """The actor, once it may read the platform's metrics (`GET /metrics`, docs/reference.md#http-api): the bureau,
    auditors and `monitor` users (a scraper's token) may."""
    require(actor, "metrics.read")
    return actor


def authenticate_password(session: Session, name: str, password: str) -> Actor:
    """The acting user for a name and password (dashboards)."""
    user = session.get(User, name)
    if user is None or not check_password(user.password_hash, password):
        raise Unauthenticated("invalid user name or password")
    if user.disabled:
        raise Forbidden("user '{name}' is disabled", name=name)
    return actor_of(user)


def ensure_admin(session: Session, *, now: Clock = utcnow) -> bool:
    """Create the built-in administrator if missing; True when created."""
    if session.get(User, ADMIN) is not None:
        return False
    session.add(User(name=ADMIN, role=Role.ADMIN, created_at=now()))
    session.flush()
    audit.append(
        session, actor=ADMIN, action="user.bootstrap", entity=f"user:{ADMIN}", payload={"role": ADMIN}, now=now
    )
    return True


@dataclass(frozen=True)
class NewUser:
    """A user just created and its bearer token, shown this once."""

    user: UserRead
    token: str

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: {"user": …, "token": …}."""
        return {"user": self.user, "token": self.token}


@dataclass(frozen=True)
class NewToken:
    """A user's new bearer token, shown this once (the old one is revoked)."""

    user: str
    token: str

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: {"user": NAME, "token": …}."""
        return {"user": self.user, "token": self.token}


def add_user(
    session: Session,
    *,
    actor: Actor,
    name: str,
    role: str,
    department: str | None = None,
    operator: str | None = None,
    password: str | None = None,
    now: Clock = utcnow,
) -> NewUser:
    """Create a user; returns it and its bearer token (shown once)."""
    require(actor, "users.manage")
    if not NAME_PATTERN.match(name):
        raise InvalidInput("invalid user name {name!r}", name=name)
    if name == ADMIN or role == ADMIN:
        raise InvalidInput("the built-in administrator cannot be created, changed or disabled")
    if role not in tuple(Role):
        roles = ", ".join(r for r in Role if r != Role.ADMIN)
        raise InvalidInput("unknown role {role!r}; roles: {roles}", role=role, roles=roles)
    if role == Role.OPERATOR and not operator:
        raise InvalidInput("an operator user needs --operator")
    if role == Role.DEPARTMENT and not department:
        raise InvalidInput("a department user needs --department")
    if (operator and role != Role.OPERATOR) or (department and role != Role.DEPARTMENT):
        raise InvalidInput("only operator users have an operator and only department users a department")
    if role == "monitor" and password:
        raise InvalidInput("a monitor user has a token only, no password")
    if operator and session.get(Operator, operator) is None:
        raise NotFound("{kind} not found: {id}", kind="operator", id=operator)
    if department and session.get(Department, department) is None:
        raise NotFound("{kind} not found: {id}", kind="department", id=department)
    if session.get(User, name) is not None:
        raise Conflict("user '{name}' already exists", name=name)
    token, token_hash = new_token()
    user = User(
        name=name,
        role=Role(role),
        department_id=department,
        operator_id=operator,
        token_hash=token_hash,
        password_hash=hash_password(password) if password else None,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action="user.add",
        entity=f"user:{name}",
        payload={"role": role, "operator": operator, "department": department, "password": password is not None},
        now=now,
    )
    return NewUser(UserRead.of(user), token)


def list_users(session: Session, *, actor: Actor) -> list[UserRead]:
    """Every user, by name."""
    require(actor, "users.read")
    return [UserRead.of(u) for u in session.exec(select(User).order_by(User.name))]


def _managed_user(session: Session, actor: Actor, name: str) -> User:
    require(actor, "users.manage")
    if name == ADMIN:
        raise InvalidInput("the built-in administrator cannot be created, changed or disabled")
    user = session.get(User, name)
    if user is None:
        raise NotFound("unknown user '{name}'", name=name)
    return user


def disable_user(session: Session, *, actor: Actor, name: str, now: Clock = utcnow) -> UserRead:
    """Disable a user: its token and password stop working."""
    user = _managed_user(session, actor, name)
    if not user.disabled:
        user.disabled = True
        session.add(user)
        session.flush()
        audit.append(session, actor=actor.name, action="user.disable", entity=f"user:{name}", payload={}, now=now)
    return UserRead.of(user)


def issue_token(session: Session, *, actor: Actor, name: str, now: Clock = utcnow) -> NewToken:
    """A new token for a user; the old one stops working."""
    user = _managed_user(session, actor, name)
    token, user.token_hash = new_token()
    session.add(user)
    session.flush()
    audit.append(session, actor=actor.name, action="user.token", entity=f"user:{name}", payload={}, now=now)
    return NewToken(name, token)


def verify_audit(session: Session, *, actor: Actor, expect_head: audit.AuditHead | None = None) -> audit.VerifyResult:
    """Recompute the audit log's hash chain (docs/reference.md#audit-log), and check it still reaches a head recorded earlier;
    the bureau, finance and auditors may."""
    require(actor, "audit.verify")
    return audit.verify(session, expect_head)


def audit_head(session: Session, *, actor: Actor) -> audit.AuditHead:
    """The sequence and hash of the audit log's newest entry, to record outside the platform."""
    require(actor, "audit.verify")
    return audit.head(session)


@dataclass(frozen=True)
class AuditRead:
    """One audit entry as the dashboards show it (time in UTC; the page converts it)."""

    seq: int
    time: Any
    actor: str
    action: str
    entity: str
    payload: str


def list_audit(
    session: Session,
    *,
    actor: Actor,
    action: str | None = None,
    entity: str | None = None,
    who: str | None = None,
    limit: int = 500,
) -> list[AuditRead]:
    """The newest audit entries, filtered by action prefix, entity substring and acting user; the
    bureau, finance and auditors may read the log (as they may verify it)."""
    require(actor, "audit.verify")
    query = select(audit.AuditEntry).order_by(col(audit.AuditEntry.seq).desc())
    if action:
        query = query.where(col(audit.AuditEntry.action).startswith(action))
    if entity:
        query = query.where(col(audit.AuditEntry.entity).contains(entity))
    if who:
        query = query.where(audit.AuditEntry.actor == who)
    rows = session.exec(query.limit(max(1, min(limit, 5000))))
    return [AuditRead(r.seq, r.time, r.actor, r.action, r.entity, r.payload) for r in rows]
