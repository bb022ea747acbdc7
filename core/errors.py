"""Domain errors. Services raise them; entry points map them to exit codes, HTTP statuses or st.error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.i18n import t


@dataclass
class Problem:
    """One thing wrong with some input: where (file, line, path) and what (a message template)."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    file: str | None = None
    line: int | None = None

    @property
    def message(self) -> str:
        """The message in the current language."""
        return t(self.template, **self.params)

    def where(self) -> str:
        """`file:line: path` as far as known."""
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        elif self.line:
            parts.append(f"line {self.line}")
        if self.path:
            parts.append(self.path)
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of a problem."""
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


def problem(
    template: str, /, *, path: str | None = None, file: str | None = None, line: int | None = None, **params: Any
) -> Problem:
    """Shorthand to build a Problem."""
    return Problem(template, params, path=path, file=file, line=line)


class DomainError(Exception):
    """A rule of the domain refused something; the message says what and where."""

    http_status = 400

    def __init__(self, template: str, /, problems: list[Problem] | None = None, **params: Any):
        self.template = template
        self.params = params
        self.problems = list(problems or [])
        super().__init__(template)

    @property
    def message(self) -> str:
        """The message in the current language."""
        return t(self.template, **self.params)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: {"error": ..., "problems": [...]} (docs/reference.md#command-line)."""
        return {"error": self.message, "problems": [p.to_dict() for p in self.problems]}


class InvalidInput(DomainError):
    """The input is malformed or breaks a rule."""

    http_status = 422


class Unreadable(DomainError):
    """The input cannot be read as text at all (e.g. a request body that is not UTF-8)."""

    http_status = 400


class UnsupportedMedia(DomainError):
    """The input comes in a format this entry point does not read (an HTTP body's `Content-Type`)."""

    http_status = 415


class NotFound(DomainError):
    """The thing asked for does not exist."""

    http_status = 404


class Conflict(DomainError):
    """The request conflicts with what is stored."""

    http_status = 409


class Unauthenticated(DomainError):
    """No valid credentials were given (an HTTP request without a valid bearer token)."""

    http_status = 401


class Forbidden(DomainError):
    """The acting user may not do this."""

    http_status = 403


class TooLarge(DomainError):
    """The request carries more than one request may (e.g. over 10,000 usage events)."""

    http_status = 413


class Unavailable(DomainError):
    """The database (or another service the platform needs) cannot serve the request now."""

    http_status = 503


def invalid_field(field: str, template: str, /, **params: Any) -> InvalidInput:
    """An InvalidInput about one field, with the field as its problem's path."""
    return InvalidInput("invalid {field}", problems=[problem(template, path=field, **params)], field=field)


def rejected(problems: list[Problem]) -> InvalidInput:
    """An InvalidInput carrying every problem found."""
    return InvalidInput("input rejected: {count} problem(s)", problems=problems, count=len(problems))
