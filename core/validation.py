"""Turning pydantic validation errors into Problems with file, line and path; the one rule for free text."""

from __future__ import annotations

import unicodedata
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import Problem, invalid_field
from core.i18n import register
from core.yamlfile import YamlDocument, join_path

M = TypeVar("M", bound=BaseModel)

_TEMPLATES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_pattern_mismatch": "invalid value {value!r}: must match {pattern}",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "decimal_parsing": "must be a decimal number",
    "decimal_type": "must be a decimal number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long (at most {max_length} characters)",
    "finite_number": "must be a finite number",
}

register(
    {
        "required field is missing": "缺少必填字段",
        "unknown field": "未知字段",
        "must be one of {expected}": "取值必须是 {expected} 之一",
        "invalid value {value!r}: must match {pattern}": "取值 {value!r} 无效：须符合 {pattern}",
        "must be an integer": "必须是整数",
        "must be a decimal number": "必须是十进制数",
        "must be a string": "必须是字符串",
        "must be true or false": "必须是 true 或 false",
        "must be a list": "必须是列表",
        "must be a mapping": "必须是映射（键值对）",
        "must be a date (YYYY-MM-DD)": "必须是日期（YYYY-MM-DD）",
        "must be at least {ge}": "不得小于 {ge}",
        "must be greater than {gt}": "必须大于 {gt}",
        "must be at most {le}": "不得大于 {le}",
        "must be less than {lt}": "必须小于 {lt}",
        "must not be empty": "不能为空",
        "is too long (at most {max_length} characters)": "过长（最多 {max_length} 个字符）",
        "must be a finite number": "必须是有限数值",
        "{detail}": "{detail}",
        "the file is empty": "文件为空",
        "file not found": "文件不存在",
        "cannot read the file: {reason}": "无法读取文件：{reason}",
        "YAML syntax error: {detail}": "YAML 语法错误：{detail}",
        "duplicate key '{key}'": "重复的键“{key}”",
        "a required field is empty": "必填字段为空",
        "is too long: {length} characters, at most {max} are allowed": "过长：{length} 个字符，最多允许 {max} 个",
        "contains the control character {char} at position {position}: only newline and tab are allowed": (
            "在第 {position} 个字符处含有控制字符 {char}：只允许换行符和制表符"
        ),
        "contains a lone surrogate {char} at position {position}: not a character": (
            "在第 {position} 个字符处含有孤立的代理码位 {char}：不是有效字符"
        ),
    }
)

#: The most characters a free text (a comment, a note, a reason, an answer) holds (docs/reference.md#free-text).
MAX_TEXT = 2000
_ALLOWED_CONTROLS = frozenset("\n\t")


def free_text(value: str | None, field: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    """The one rule for free text (docs/reference.md#free-text): trimmed, CRLF as LF, at most `max_length`
    (2,000) characters, no control character but newline and tab (no NUL), no lone surrogate. An InvalidInput
    whose problem names `field` otherwise; `required` refuses an empty text."""
    text = (value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise invalid_field(field, "a required field is empty")
    if len(text) > max_length:
        raise invalid_field(
            field, "is too long: {length} characters, at most {max} are allowed", length=len(text), max=max_length
        )
    for position, char in enumerate(text, start=1):
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            template = (
                "contains the control character {char} at position {position}: only newline and tab are allowed"
                if category == "Cc"
                else "contains a lone surrogate {char} at position {position}: not a character"
            )
            raise invalid_field(field, template, char=f"U+{ord(char):04X}", position=position)
    return text


def error_problems(exc: ValidationError, doc: YamlDocument, base: str) -> list[Problem]:
    """One Problem per pydantic error, located under `base`."""
    problems = []
    for err in exc.errors(include_url=False):
        path = base
        for part in err["loc"]:
            if isinstance(part, str) and part.startswith("function-"):
                continue
            path = join_path(path, part)
        template = _TEMPLATES.get(err["type"])
        ctx: dict[str, Any] = dict(err.get("ctx") or {})
        if template is None:
            template, ctx = "{detail}", {"detail": err["msg"]}
        if "value" in template:
            ctx.setdefault("value", err.get("input"))
        try:
            template.format(**ctx)
        except (KeyError, IndexError, ValueError):
            template, ctx = "{detail}", {"detail": err["msg"]}
        problems.append(doc.problem(path, template, **ctx))
    return problems


def validate_item(model: type[M], data: Any, doc: YamlDocument, path: str, problems: list[Problem]) -> M | None:
    """Validate one item; on failure add its problems and return None."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(error_problems(exc, doc, path))
        return None


def validate_list(
    model: type[M], data: Any, doc: YamlDocument, path: str, problems: list[Problem]
) -> list[tuple[int, M]]:
    """Validate every item of a list section; keep the valid ones with their index."""
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append(doc.problem(path, "must be a list"))
        return []
    out = []
    for index, item in enumerate(data):
        valid = validate_item(model, item, doc, join_path(path, index), problems)
        if valid is not None:
            out.append((index, valid))
    return out
