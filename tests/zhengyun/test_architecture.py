"""The shape docs/architecture.md describes, checked: layers, one way in, explicit wiring, internal list."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zhengyun.app import INTERNAL_SERVICES

REPO = Path(__file__).resolve().parents[2]
DOMAINS = ("core", "tenants", "metering", "sla", "billing", "infra")
#: The one rule of the layers (docs/architecture.md): what each folder may import of the project — itself
#: and the modules named here, nothing else. The domains sit below the faces; `zhengyun` (the composition
#: root with the command line, the API and the scheduler) imports the domains and starts the dashboards
#: by path; the dashboards import the domains and the one way in; benchmarks stand on top.
MAY_IMPORT = {
    "core": (),
    "tenants": ("core",),
    "metering": ("core", "tenants"),
    "sla": ("core", "tenants", "metering"),
    "billing": ("core", "tenants", "metering", "sla"),
    "infra": ("core", "tenants"),
    "zhengyun": DOMAINS,
    "dashboards": (*DOMAINS, "zhengyun.app"),
    "bench": (*DOMAINS, "zhengyun", "dashboards"),
}
FRAMEWORKS = {"typer", "click", "fastapi", "starlette", "uvicorn", "streamlit", "apscheduler"}
PROJECT = set(MAY_IMPORT)


def _imports(path: Path) -> set[str]:
    """Every name a file imports, at the top or inside a function (`from a.b import c` gives `a.b.c`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, modules: tuple[str, ...]) -> bool:
    """Whether an imported name is one of `modules` or inside one."""
    return any(name == m or name.startswith(f"{m}.") for m in modules)


def _files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_folder_imports_only_itself_and_what_lies_below_it(package: str) -> None:
    wrong = []
    for path in _files(package):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in PROJECT and top != package and not _within(module, MAY_IMPORT[package]):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_no_two_folders_depend_on_each_other() -> None:
    """The folder-level graph of the imports actually written has no circle (not only the table above)."""
    edges = {
        (package, module.split(".")[0])
        for package in PROJECT
        for path in _files(package)
        for module in _imports(path)
        if module.split(".")[0] in PROJECT - {package}
    }
    reach = {p: {b for a, b in edges if a == p} for p in PROJECT}
    for _ in PROJECT:  # transitive closure
        reach = {p: r | {c for b in r for c in reach[b]} for p, r in reach.items()}
    assert not [p for p in PROJECT if p in reach[p]], reach


def test_the_domains_import_no_framework() -> None:
    wrong = [
        f"{path.relative_to(REPO)} imports {module}"
        for package in DOMAINS
        for path in _files(package)
        for module in _imports(path)
        if module.split(".")[0] in FRAMEWORKS
    ]
    for name in ("app.py", "wiring.py"):  # the way in itself imports no framework
        imported = _imports(REPO / "zhengyun" / name)
        wrong += [f"zhengyun/{name} imports {m}" for m in imported if m.split(".")[0] in FRAMEWORKS]
    assert not wrong, "\n".join(wrong)


def _private_uses(path: Path) -> list[str]:
    """Private names (`_x`) of other project modules that a file imports or reads as an attribute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in PROJECT:
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"imports {node.module}.{alias.name}")
                bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            bound.update(
                alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name.split(".")[0] in PROJECT
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"reads {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    """What modules share is public and named for what it does."""
    wrong = [
        f"{path.relative_to(REPO)} {use}"
        for package in PROJECT
        for path in _files(package)
        for use in _private_uses(path)
    ]
    assert not wrong, "\n".join(wrong)


def _command_modules() -> list[Path]:
    """One module per command word: everything in zhengyun/cli/ but the package, the root and the support."""
    skip = {"__init__.py", "__main__.py", "main.py", "support.py"}
    return [p for p in sorted((REPO / "zhengyun" / "cli").glob("*.py")) if p.name not in skip]


def test_every_command_module_goes_through_the_one_way_in() -> None:
    modules = _command_modules()
    assert {p.stem for p in modules} >= {"tenants", "contracts", "users", "audit", "usage", "sla", "ratings"}
    for path in modules:
        imported = _imports(path)
        if any(_within(m, DOMAINS[1:]) for m in imported):  # it calls a service (serve, dashboard, demo start servers)
            assert any(_within(m, ("zhengyun.cli.support",)) for m in imported), path
        mapping = [m for m in imported if _within(m, ("core.db", "sqlalchemy.exc"))]
        assert not mapping, f"{path} opens sessions or maps database errors itself: {mapping}"
        rules = [m for m in imported if _within(m, ("tenants.permissions",))]
        assert not rules, f"{path} checks permissions itself: {rules}"


def test_every_router_module_goes_through_the_one_way_in() -> None:
    routers = [
        p for p in sorted((REPO / "zhengyun" / "api").glob("*.py")) if p.stem not in {"__init__", "main", "support"}
    ]
    assert {p.stem for p in routers} >= {"tenants", "contracts", "usage", "ratings", "tickets", "bills"}
    for path in routers:
        imported = _imports(path)
        assert any(_within(m, ("zhengyun.api.support",)) for m in imported), path
        wrong = [m for m in imported if _within(m, ("core.db", "sqlalchemy", "tenants.permissions"))]
        assert not wrong, f"{path} opens sessions or checks permissions itself: {wrong}"


def _public_session_functions() -> dict[str, inspect.Signature]:
    found = {}
    for package in DOMAINS:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):  # Pulumi's entry points run on import
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
                    continue
                signature = inspect.signature(value)
                if "session" in signature.parameters:
                    found[f"{module.__name__}.{name}"] = signature
    return found


def test_every_public_service_function_takes_the_acting_user_or_is_listed_as_internal() -> None:
    functions = _public_session_functions()
    unlisted = [
        name for name, sig in functions.items() if "actor" not in sig.parameters and name not in INTERNAL_SERVICES
    ]
    assert not unlisted, f"take `actor` or add to zhengyun.app.INTERNAL_SERVICES: {unlisted}"
    for name, sig in functions.items():
        if "actor" in sig.parameters:
            assert sig.parameters["actor"].kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: actor is keyword-only"
    stale = sorted(n for n in INTERNAL_SERVICES if n not in functions or "actor" in functions[n].parameters)
    assert not stale, f"listed as internal but missing or taking an actor: {stale}"


def test_importing_billing_registers_nothing_by_itself() -> None:
    script = textwrap.dedent(
        """
        import billing.models, billing.service
        import tenants.service as registry
        assert registry.CONTRACT_TERM_GUARDS == [], registry.CONTRACT_TERM_GUARDS
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=120)


def test_a_fresh_process_with_only_the_registry_and_the_wiring_refuses_terms_under_an_approved_bill(
    cli, tmp_path: Path
) -> None:
    data = REPO / "tests" / "billing" / "data"
    for args in (
        ("tenants", "import", data / "worked_tenancy.yaml"),
        ("contracts", "import", data / "worked_contracts.yaml"),
        ("users", "add", "fin1", "--role", "finance"),
        ("users", "add", "fin2", "--role", "finance"),
        ("bills", "run", "--period", "2026-10", "--as", "fin1"),
        ("bills", "approve", "WORKED-IAAS-2026@2026-10", "--as", "fin2"),
    ):
        assert cli(*args).code == 0, args
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (data / "worked_contracts.yaml").read_text(encoding="utf-8").replace('"0.0005"', '"0.0006"'), encoding="utf-8"
    )
    script = textwrap.dedent(
        f"""
        import sys
        from core.db import session_scope
        from core.errors import InvalidInput
        from tenants.permissions import SYSTEM
        from tenants import service
        from zhengyun.wiring import wire

        assert not [m for m in sys.modules if m.split(".")[0] in ("billing", "sla", "metering")], "imported too much"
        with session_scope() as session:  # unwired, the registry knows nothing of bills
            result = service.import_contracts(session, actor=SYSTEM, path={str(changed)!r}, dry_run=True)
            assert result.changes, "the price change is a change"
        wire()
        try:
            with session_scope() as session:
                service.import_contracts(session, actor=SYSTEM, path={str(changed)!r})
        except InvalidInput as exc:
            print("refused:", exc.problems[0])
        else:
            sys.exit("the terms changed under an approved bill")
        """
    )
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "2026-10" in done.stdout, done.stdout
    # and the command line wires by itself: a fresh `zhengyun` process refuses it too
    command = [sys.executable, "-m", "zhengyun.cli", "--lang", "en", "contracts", "import", str(changed), "--json"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "approved bills for 2026-10" in done.stdout and "cannot change" in done.stdout, done.stdout
