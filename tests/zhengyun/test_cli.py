"""The command line as a whole (docs/reference.md#command-line): misuse exits 2, every error is JSON with `--json`, and no
command ever shows a traceback — an unexpected error is one line naming the log that holds the details."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ZHENGYUN = str(Path(sys.executable).with_name("zhengyun"))


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The command line's handling does not depend on the database: SQLite only."""
    return sqlite_url


@pytest.mark.parametrize(
    "args, path",
    [
        (("bills", "show", "--period", "2026-10", "--format", "xml"), "--format"),  # an unknown option value
        (("usage", "import"), "files"),  # a missing argument
        (("bills", "run"), "--period"),  # a missing option
        (("bills", "list", "--colour", "red"), "--colour"),  # an unknown option
        (("users", "add", "li", "--role", "wizard"), "--role"),
        (("--lang", "fr", "tenants", "list"), "--lang"),
    ],
)
def test_misuse_exits_2_with_the_reason_and_as_json_with_json(cli, args, path: str) -> None:
    text = cli(*args)
    assert text.code == 2, text
    assert text.stderr.startswith("error: ") and "--help" in text.stderr and "Traceback" not in text.stderr
    as_json = cli(*args, "--json")
    assert as_json.code == 2 and as_json.stderr == "", as_json
    error = as_json.json()
    assert set(error) == {"error", "problems"} and path in error["error"]
    assert [p["path"] for p in error["problems"]] == [path]


def test_every_error_is_json_on_stdout_with_json(cli) -> None:
    refused = cli("bills", "approve", "NOPE@2026-10", "--as", "admin", "--json")  # a rule: exit 1
    assert refused.code == 1 and set(refused.json()) == {"error", "problems"}
    rejected = cli("usage", "show", "--period", "2026-13", "--json")  # bad input: exit 1
    assert rejected.code == 1 and "2026-13" in rejected.json()["error"]


def test_an_unexpected_error_is_one_line_and_its_details_go_to_the_log(cli, use_db, monkeypatch) -> None:
    from core.settings import get_settings
    from tenants import tenancy

    def broken(*_args, **_kwargs):
        raise RuntimeError("the disk caught fire\nsecond line")

    monkeypatch.setattr(tenancy, "summarise_tenancy", broken)
    result = cli("tenants", "list")
    log = get_settings().data_dir / "logs" / "errors.log"
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        "error: `zhengyun tenants list` failed unexpectedly (RuntimeError: the disk caught fire); "
        f"the details were logged to {log}\n"
    )
    assert "Traceback (most recent call last)" in result.logged and "second line" in result.logged
    as_json = cli("tenants", "list", "--json")
    assert as_json.code == 1 and str(log) in as_json.json()["error"] and as_json.stderr == ""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ZHENGYUN, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_real_process_never_prints_a_traceback(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), ZHENGYUN_LANG="en", ZHENGYUN_DATA_DIR=str(tmp_path / "data"))
    env["ZHENGYUN_DATABASE_URL"] = "nosuchdb://somewhere/zhengyun"  # SQLAlchemy has no such dialect
    failed = _run(["tenants", "list"], env)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.count("\n") == 1 and "failed unexpectedly (NoSuchModuleError" in failed.stderr
    log = tmp_path / "data" / "logs" / "errors.log"
    assert str(log) in failed.stderr and "NoSuchModuleError" in log.read_text(encoding="utf-8")
    as_json = _run(["tenants", "list", "--json"], env)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["problems"] == []
    misuse = _run(["bills", "show", "--period", "2026-10", "--format", "xml", "--json"], env)
    assert misuse.returncode == 2 and "xml" in json.loads(misuse.stdout)["error"] and misuse.stderr == ""


def test_without_a_writable_data_directory_the_details_go_to_the_temporary_directory(tmp_path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO), ZHENGYUN_LANG="en", ZHENGYUN_DATA_DIR=str(blocked))
    env["ZHENGYUN_DATABASE_URL"] = "nosuchdb://somewhere/zhengyun"
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    failed = _run(["tenants", "list"], env)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert str(tmp_path / "tmp" / "zhengyun" / "logs" / "errors.log") in failed.stderr
