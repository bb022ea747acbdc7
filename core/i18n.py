"""User-facing text in Chinese (default) and English.

Messages are written in English in the code as `str.format` templates; each domain registers the
Chinese translation of its templates with `register`. `t()` renders a template in the current
language, falling back to English when no translation is registered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

_catalog: dict[str, str] = {}
#: English texts registered again with a different Chinese: {english: every Chinese given}
_conflicts: dict[str, set[str]] = {}
_lang: ContextVar[str | None] = ContextVar("zhengyun_lang", default=None)


def register(translations: Mapping[str, str]) -> None:
    """Add Chinese translations, keyed by the English template.

    One English text has one Chinese: registering it again with another Chinese is recorded (see
    `conflicts`, which a test asserts empty) and the later one is kept, as before.
    """
    for english, chinese in translations.items():
        known = _catalog.get(english)
        if known is not None and known != chinese:
            _conflicts.setdefault(english, {known}).add(chinese)
        _catalog[english] = chinese


def register_labels(labels: Mapping[StrEnum, str]) -> None:
    """The Chinese labels of enum values (statuses, kinds, flags), keyed by the member: pages show a
    value through `t(value)`, so a label is the translation of the value's English text."""
    register({str(member): chinese for member, chinese in labels.items()})


def conflicts() -> dict[str, list[str]]:
    """English texts registered more than once with different Chinese, with every Chinese given."""
    return {english: sorted(chinese) for english, chinese in _conflicts.items()}


def current_language() -> str:
    """The language in force: the one set for this context, else the settings' one."""
    lang = _lang.get()
    if lang:
        return lang
    from core.settings import get_settings

    return get_settings().lang


def set_language(lang: str) -> None:
    """Set the language for this context ('zh' or 'en')."""
    _lang.set(lang if lang in ("zh", "en") else "zh")


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Render text in `lang` inside the block."""
    token = _lang.set(lang)
    try:
        yield
    finally:
        _lang.reset(token)


def t(template: str, /, **params: Any) -> str:
    """Render `template` with `params` in the current language."""
    text = _catalog.get(template, template) if current_language() == "zh" else template
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return template.format(**params)


def translations() -> dict[str, str]:
    """A copy of the registered catalogue (for tests)."""
    return dict(_catalog)


register(
    {
        "{kind} not found: {id}": "未找到{kind}：{id}",
        "permission denied: {actor} ({role}) may not {action}": "权限不足：{actor}（{role}）不能{action}",
        "unknown user '{name}'": "未知用户“{name}”",
        "user '{name}' is disabled": "用户“{name}”已停用",
        "input rejected: {count} problem(s)": "输入被拒绝：共 {count} 个问题",
        "cannot read {file}: {reason}": "无法读取 {file}：{reason}",
        "audit log intact: {count} entries": "审计日志完整：共 {count} 条",
        "audit log broken at entry {seq}: {reason}": "审计日志在第 {seq} 条处断裂：{reason}",
        "hash does not match its contents": "哈希与内容不符",
        "previous hash does not match entry {seq}": "前序哈希与第 {seq} 条不符",
        "sequence gap before entry {seq}": "第 {seq} 条之前序号不连续",
        "the log ends at entry {last}: entries up to the recorded head {seq} were removed": (
            "日志止于第 {last} 条：截至记录的末条 {seq} 的条目已被删除"
        ),
        "entry {seq} is not the recorded head": "第 {seq} 条不是记录的末条",
        "invalid {field}": "{field} 无效",
        "database is not initialised; run `zhengyun db upgrade` first": "数据库尚未初始化，请先运行 `zhengyun db upgrade`",
    }
)
