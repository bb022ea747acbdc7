"""One English text, one Chinese: every module's translations agree (core.i18n)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from core import i18n

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tenants", "metering", "sla", "billing", "infra", "zhengyun", "dashboards")


def test_registering_the_same_text_with_another_chinese_is_recorded_not_raised(monkeypatch) -> None:
    monkeypatch.setattr(i18n, "_catalog", {})
    monkeypatch.setattr(i18n, "_conflicts", {})
    i18n.register({"hello": "你好"})
    i18n.register({"hello": "你好"})
    assert i18n.conflicts() == {}
    i18n.register({"hello": "您好"})
    assert i18n.conflicts() == {"hello": sorted(["你好", "您好"])}
    assert i18n.translations()["hello"] == "您好"  # the later one, as before


def test_every_module_of_the_project_agrees_on_each_translation() -> None:
    """Imports every module of the packages (faces too, wherever they live), in a fresh process, and
    fails on any English text registered twice with different Chinese."""
    script = textwrap.dedent(
        f"""
        import importlib, json, pkgutil, sys
        from core import i18n

        failed = {{}}
        for package in {PACKAGES!r}:
            root = importlib.import_module(package)
            for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
                if info.name.rsplit(".", 1)[-1] == "__main__":
                    continue  # program entry points: they run on import
                try:
                    importlib.import_module(info.name)
                except Exception as exc:  # reported, so that a module cannot escape the check unseen
                    failed[info.name] = repr(exc)
        print(json.dumps({{"conflicts": i18n.conflicts(), "failed": failed}}, ensure_ascii=False))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=True, timeout=300, capture_output=True, text=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, result["failed"]
    assert result["conflicts"] == {}, "one English text, two Chinese: " + json.dumps(
        result["conflicts"], ensure_ascii=False, indent=1
    )
