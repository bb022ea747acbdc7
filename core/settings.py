"""One settings object, read from the environment once (STYLE: nothing else reads os.environ)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration."""

    data_dir: Path
    database_url: str
    actor: str | None
    lang: str
    #: how long the scheduler's leadership lasts without renewal (`zhengyun serve`)
    lease_seconds: float = 30.0
    #: whether the finance user who approved a bill may also mark it paid (`ZHENGYUN_APPROVER_MAY_PAY`;
    #: default no: a third finance user pays — docs/reference.md#four-eyes)
    approver_may_pay: bool = False


def _default_data_dir(env: dict[str, str]) -> Path:
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "zhengyun"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (the process environment by default)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("ZHENGYUN_DATA_DIR") or _default_data_dir(env)).expanduser()
    url = env.get("ZHENGYUN_DATABASE_URL") or f"sqlite:///{data_dir / 'zhengyun.db'}"
    lang = (env.get("ZHENGYUN_LANG") or "zh").lower()
    if lang not in ("zh", "en"):
        lang = "zh"
    try:
        lease = max(1.0, float(env.get("ZHENGYUN_SCHEDULER_LEASE_SECONDS") or 30))
    except ValueError:
        lease = 30.0
    approver_may_pay = (env.get("ZHENGYUN_APPROVER_MAY_PAY") or "").strip().lower() in ("1", "true", "yes", "on")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        actor=env.get("ZHENGYUN_ACTOR") or None,
        lang=lang,
        lease_seconds=lease,
        approver_may_pay=approver_may_pay,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load_settings()
