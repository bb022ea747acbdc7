"""Four eyes on every decision (docs/reference.md#four-eyes): whoever requested a maintenance window never
decides it, whoever filed an appeal never decides it — at the command line and over HTTP, since both call
the same services. Bills: tests/billing/test_approval.py."""

from __future__ import annotations

from typing import Any

from tests.zhengyun import test_http
from tests.zhengyun.test_http import CONTRACT

world = test_http.world  # the fixture: the worked example, a user of every role, the API serving it


def _ok(result: Any) -> Any:
    assert result.code == 0, result
    return result.json()


def _token(cli: Any, name: str, role: str) -> str:
    return str(_ok(cli("users", "add", name, "--role", role, "--json"))["token"])


def _request(cli: Any, user: str, day: int) -> int:
    window = _ok(
        cli(
            "sla",
            "maintenance",
            "request",
            "--contract",
            CONTRACT,
            "--start",
            f"2026-12-{day}T01:00:00+08:00",
            "--end",
            f"2026-12-{day}T02:00:00+08:00",
            "--as",
            user,
            "--json",
        )  # fmt: skip
    )["maintenance"]
    assert window["requested_by"] == user and window["approved"] is None, window
    return int(window["id"])


def _pending(cli: Any) -> list[int]:
    return [w["id"] for w in _ok(cli("sla", "maintenance", "list", "--pending", "--json"))["maintenance"]]


def test_whoever_requested_a_window_never_decides_it_at_the_command_line(world, cli) -> None:
    _token(cli, "bureau2", "bureau")
    for requester, decider in (("bureau1", "bureau2"), ("admin", "bureau1")):
        window = _request(cli, requester, 21 if requester == "admin" else 22)
        for approve in ((), ("--reject",)):
            refused = cli("sla", "maintenance", "approve", str(window), *approve, "--as", requester, "--json")
            assert refused.code == 1, refused
            assert refused.json()["error"] == (
                f"four eyes: {requester} requested maintenance window {window} and may not also decide it"
            )
        assert window in _pending(cli)  # nothing decided
        decided = _ok(cli("sla", "maintenance", "approve", str(window), "--as", decider, "--json"))["maintenance"]
        assert decided["approved"] is True and decided["decided_by"] == decider, decided
        assert window not in _pending(cli)


def test_whoever_requested_a_window_never_decides_it_over_http(world, cli) -> None:
    server, tokens = world
    bureau2 = _token(cli, "bureau2", "bureau")
    body = {"contract": CONTRACT, "start": "2026-12-23T01:00:00+08:00", "end": "2026-12-23T02:00:00+08:00"}
    with server.client(tokens["bureau1"]) as bureau1, server.client(bureau2) as other:
        requested = bureau1.post("/v1/maintenance", json=body)
        assert requested.status_code == 201, requested.text
        window = requested.json()["maintenance"]["id"]
        for approve in (True, False):
            refused = bureau1.post(
                f"/v1/maintenance/{window}/decision", json={"approve": approve}, params={"lang": "en"}
            )
            assert refused.status_code == 403 and refused.json()["error"] == (
                f"four eyes: bureau1 requested maintenance window {window} and may not also decide it"
            ), refused.text
        chinese = bureau1.post(
            f"/v1/maintenance/{window}/decision", json={"approve": True}, headers={"Accept-Language": "zh"}
        )
        assert chinese.status_code == 403 and "四眼原则" in chinese.json()["error"], chinese.text
        decided = other.post(f"/v1/maintenance/{window}/decision", json={"approve": True})
        assert decided.status_code == 200 and decided.json()["maintenance"]["decided_by"] == "bureau2", decided.text


def test_whoever_filed_an_appeal_never_decides_it(world, cli) -> None:
    """`admin` holds both appealing and deciding: it may do either, never both on one appeal."""
    server, tokens = world
    ratings = [
        _ok(cli("ratings", "add", "--contract", CONTRACT, "--level", "1", "--comment", c, "--as", "gat", "--json"))
        for c in ("slow", "late")
    ]
    first, second = (r["rating"]["id"] for r in ratings)
    own = _ok(cli("ratings", "appeal", str(first), "--reason", "fixed the same day", "--json"))["appeal"]
    assert own["filed_by"] == "admin", own
    for verdict in ("--uphold", "--reject"):
        refused = cli("ratings", "decide", str(own["id"]), verdict, "--json")
        assert refused.code == 1, refused
        assert refused.json()["error"] == f"four eyes: admin filed appeal {own['id']} and may not also decide it"
    with server.client(tokens["bureau1"]) as bureau:
        decided = bureau.post(f"/v1/appeals/{own['id']}/decision", json={"uphold": True})
        assert decided.status_code == 200 and decided.json()["appeal"]["decided_by"] == "bureau1", decided.text
    # an operator's appeal: admin, which did not file it, decides it
    theirs = _ok(cli("ratings", "appeal", str(second), "--reason", "not us", "--as", "ops", "--json"))["appeal"]
    assert _ok(cli("ratings", "decide", str(theirs["id"]), "--reject", "--json"))["appeal"]["decided_by"] == "admin"
