"""`POST /v1/usage/events` on a real uvicorn server: every malformed event is that event's rejection, every
malformed body a 4xx in the one error shape, never a 500; the valid events of a batch are kept
(docs/reference.md#http-api, #usage-events-file)."""

from __future__ import annotations

import json
import select
import socket
import time
from typing import Any

import httpx
from sqlalchemy import text

from tests.zhengyun import test_http
from tests.zhengyun.test_http import Server, _event

world = test_http.world  # the fixture: the worked example, a user of every role, the API serving it

NDJSON = {"Content-Type": "application/x-ndjson", "Accept-Language": "en"}
JSON = {"Content-Type": "application/json", "Accept-Language": "en"}


def _stored(server: Server) -> set[str]:
    with server.engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT event_id FROM usage_event"))}


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    answer = http.post("/v1/usage/events", content=body, headers=headers)
    assert answer.status_code != 500, answer.text
    return answer


def _rejected(answer: httpx.Response) -> list[tuple[int, str]]:
    assert answer.status_code == 200, answer.text
    return [(r["index"], r["reason"]) for r in answer.json()["rejected"]]


def _refused(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "problems"} and isinstance(body["problems"], list), body
    return str(body["error"])


def test_a_lone_surrogate_in_an_id_or_the_attributes_rejects_that_event(world) -> None:
    server, tokens = world
    surrogates = [
        b'"event_id": "x\\ud800"',
        b'"event_id": "s-2", "resource_id": "r\\udc00"',
        b'"event_id": "s-3", "attributes": {"k": "v\\ud800"}',
        b'"event_id": "s-4", "attributes": {"k\\udbff": 1}',
    ]
    rest = _line(_event("")).replace(b'"event_id": "", ', b"")[1:]  # the other fields: `"time": …}`
    events = [_line(_event("s-1")), *(b"{" + s + b", " + rest for s in surrogates)]
    with server.client(tokens["ops"]) as http:
        array = _post(http, b"[" + b",".join(events) + b"]", JSON)
        assert [i for i, _ in _rejected(array)] == [1, 2, 3, 4]
        assert all("lone surrogate" in reason for _, reason in _rejected(array)), array.text
        assert array.json()["rejected"][0]["event_id"] == "x\\ud800"  # shown escaped, never a broken answer
        lines = _post(http, b"\n".join(events).replace(b"s-1", b"s-5"), NDJSON)
        assert [i for i, _ in _rejected(lines)] == [1, 2, 3, 4] and lines.json()["accepted"] == 1
    assert _stored(server) == {"s-1", "s-5"}


def test_invalid_utf8_is_a_rejected_line_or_a_400_for_a_json_body(world) -> None:
    server, tokens = world
    first, second = _line(_event("u-\xff")), _line(_event("u-\xfe"))
    bad = [first.replace(b"\\u00ff", b"\xff"), second.replace(b"\\u00fe", b"\xfe")]  # two distinct ids
    with server.client(tokens["ops"]) as http:
        lines = _post(http, b"\n".join([*bad, _line(_event("u-1"))]), NDJSON)
        assert [i for i, _ in _rejected(lines)] == [0, 1], lines.text
        assert all("UTF-8" in reason for _, reason in _rejected(lines))
        assert lines.json()["accepted"] == 1
        array = _post(http, b"[" + bad[0] + b"," + _line(_event("u-2")) + b"]", JSON)
        assert "UTF-8" in _refused(array, 400)
    assert _stored(server) == {"u-1"}


def test_ndjson_lines_end_at_newline_only_and_index_counts_every_line(world) -> None:
    server, tokens = world
    body = b"\n".join(
        [
            _line(_event("l-1", attributes={"note": "a\u2028b"})).replace(b"\\u2028", "\u2028".encode()),
            b"",
            _line(_event("l-2", attributes={"note": "c\x85d"})).replace(b"\\u0085", "\x85".encode()),
            b"   ",
            _line(_event("l-3")) + b"\r",  # a \r\n ending
            b"{not json",
        ]
    )
    with server.client(tokens["ops"]) as http:
        answer = _post(http, body, NDJSON)
        assert [i for i, _ in _rejected(answer)] == [5], answer.text
        assert answer.json()["accepted"] == 3
    assert _stored(server) == {"l-1", "l-2", "l-3"}


def test_a_huge_integer_or_deep_attributes_reject_that_event_in_plain_words(world) -> None:
    server, tokens = world
    huge = _line(_event("h-2")).replace(b'"2.5"', b"1" + b"0" * 5000)
    deep = _line(_event("h-3")).replace(b"}", b', "attributes": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001)
    with server.client(tokens["ops"]) as http:
        array = _post(http, b"[" + b",".join([_line(_event("h-1")), huge, deep]) + b"]", JSON)
        lines = _post(http, b"\n".join([_line(_event("h-4")), huge, deep]), NDJSON)
        for answer in (array, lines):
            rejected = _rejected(answer)
            assert [i for i, _ in rejected] == [1, 2] and answer.json()["accepted"] == 1, answer.text
            assert "more than 4300 digits" in rejected[0][1] and "nested too deeply" in rejected[1][1]
            assert "sys." not in answer.text
    assert _stored(server) == {"h-1", "h-4"}


def test_a_repeated_key_rejects_that_event(world) -> None:
    server, tokens = world
    twice = _line(_event("k-2")).replace(b"{", b'{"event_id": "k-0", ', 1)
    nested = _line(_event("k-3", attributes={"a": 1})).replace(b'{"a": 1}', b'{"a": 1, "a": 2}')
    spaced = _line(_event("k-4")).replace(b'"meter": ', b'"meter" : "x", "meter"  :')
    with server.client(tokens["ops"]) as http:
        for headers, separator, base in ((JSON, b",", "k-1"), (NDJSON, b"\n", "k-5")):
            body = separator.join([_line(_event(base)), twice, nested, spaced])
            answer = _post(http, b"[" + body + b"]" if headers is JSON else body, headers)
            rejected = _rejected(answer)
            assert [i for i, _ in rejected] == [1, 2, 3] and answer.json()["accepted"] == 1, answer.text
            assert [r for _, r in rejected] == [f"key '{k}' appears more than once" for k in ("event_id", "a", "meter")]
    assert _stored(server) == {"k-1", "k-5"}


def test_a_body_neither_json_nor_ndjson_is_415(world) -> None:
    server, tokens = world
    body = _line(_event("c-1"))
    with server.client(tokens["ops"]) as http:
        for media in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
            answer = _post(http, body, {"Content-Type": media, "Accept-Language": "en"})
            assert "application/x-ndjson" in _refused(answer, 415)
        assert _refused(_post(http, body, {"Accept-Language": "en"}), 415)  # no Content-Type at all
        assert _post(http, body, {"Content-Type": "application/x-ndjson; charset=utf-8"}).status_code == 200
    assert _stored(server) == {"c-1"}


def test_a_json_body_is_one_array_of_events_and_an_empty_body_holds_none(world) -> None:
    server, tokens = world
    with server.client(tokens["ops"]) as http:
        for body in (b"garbage{", b'"a string"', b"42", b'{"a": 1}', _line(_event("j-0")), b"[" + _line(_event("j-0"))):
            assert "JSON array" in _refused(_post(http, body, JSON), 422), body
        for headers in (JSON, NDJSON):
            assert _refused(_post(http, b"", headers), 422) == "the body holds no events"
            assert _refused(_post(http, b" \n\r\n", headers), 422) == "the body holds no events"
        assert _rejected(_post(http, b"[" + _line(_event("j-1")) + b"]", JSON)) == []
    assert _stored(server) == {"j-1"}


def _stream(port: int, token: str, limit: int) -> tuple[int, int, bytes]:
    """POST a chunked body of up to `limit` bytes, generated as it is sent, until the server answers:
    (bytes sent, whether the whole body went out, the start of the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent, answer = 0, b""
    try:
        sock.sendall(
            b"POST /v1/usage/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + token.encode()
            + b"\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        line = _line(_event("z-1")) + b"\n"
        chunk = line * (2**18 // len(line))
        framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        deadline = time.monotonic() + 60
        while sent < limit and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(framed)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    finally:
        sock.close()
    return sent, sent >= limit, answer


def test_a_request_without_a_valid_token_or_too_large_is_refused_while_its_body_streams(world) -> None:
    server, tokens = world
    limit = 200 * 2**20
    sent, whole, answer = _stream(server.port, "zy_not-a-token", limit)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert not whole and sent < 8 * 2**20, sent  # answered at once, before the body was read
    sent, whole, answer = _stream(server.port, tokens["ops"], limit)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert not whole and sent < 100 * 2**20, sent  # refused past 64 MiB, while the body still streamed
    assert _stored(server) == set()


def test_a_time_outside_2000_to_2099_or_a_control_character_in_an_id_rejects_that_event(world) -> None:
    server, tokens = world
    events = [
        _event("t-1"),
        _event("t-2", time="1999-12-31T23:59:59+08:00"),
        _event("t-3", time="2100-01-01T00:00:00+08:00"),
        _event("t-4", time="0001-01-01T00:00:00+08:00"),
        _event("t-5", time="9999-12-31T23:59:59-14:00"),
        _event("t-6", time="9999-12-31T20:00:00+00:00"),
        _event("t-7\x00"),
        _event("t-8\x1b[2J"),
        _event("t-9", resource_id="r\x7f"),
        _event("t-10", resource_id="r\x9f"),
        _event("t-11", department="gd-gat\x00"),
    ]
    with server.client(tokens["ops"]) as http:
        for headers, base in ((JSON, "t-1"), (NDJSON, "t-12")):
            events[0]["event_id"] = base
            body = json.dumps(events).encode() if headers is JSON else b"\n".join(map(_line, events))
            rejected = _rejected(_post(http, body, headers))
            assert [i for i, _ in rejected] == list(range(1, 11)), rejected
            assert all("2000–2099" in r for _, r in rejected[:5]), rejected
            assert all("control character" in r for _, r in rejected[5:9]), rejected
    assert _stored(server) == {"t-1", "t-12"}
