"""Fixtures of the infra tests: tenancy files exported by the registry, and the demo province's stacks
declared once under Pulumi's mocks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.db import make_engine
from infra.mocks import Declaration, declare_offline, export_through_registry
from infra.program import declare
from infra.tenancy import load_tenancy, stack_names
from tenants.formats import TenancySpec

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tenants" / "demo" / "guangdong.yaml"
SMALL = REPO / "tests" / "tenants" / "data" / "tenancy.yaml"
#: A department added to the demo: its id sorts before every other of its cloud.
NEW_DEPARTMENT = "  - {id: zh-aaa-new, name: 珠海市新设局, level: city, city: zh, cloud: zh, quota: {vcpu: 8}}\n"

Exporter = Callable[..., Path]


def pytest_configure(config: pytest.Config) -> None:
    """pulumi-aws warns about its own deprecated classes when a module loads; that is not ours to fix."""
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
    config.addinivalue_line("filterwarnings", "ignore:NotImplemented should not be used:DeprecationWarning:pulumi.*")


@pytest.fixture(scope="session")
def export_registry(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Exporter:
    """Import tenancy files in order into a fresh registry and write what `tenants export` prints."""

    def export(*files: Path) -> Path:
        workdir = tmp_path_factory.mktemp("registry")
        db = workdir / "zhengyun.db"
        shutil.copy(sqlite_template, db)
        engine = make_engine(f"sqlite:///{db}")
        try:
            text = export_through_registry(engine, files)
        finally:
            engine.dispose()
        out = workdir / "tenancy.yaml"
        out.write_text(text, encoding="utf-8")
        return out

    return export


@pytest.fixture(scope="session")
def demo_export(export_registry: Exporter) -> Path:
    """The demo province as `zhengyun tenants export` writes it (with its ranges)."""
    return export_registry(DEMO)


@pytest.fixture(scope="session")
def demo_spec(demo_export: Path) -> TenancySpec:
    """The exported demo province, loaded as the program loads it."""
    return load_tenancy(demo_export)


@pytest.fixture(scope="session")
def demo_stacks(demo_spec: TenancySpec) -> dict[str, Declaration]:
    """Every stack of the demo province, declared under the mocks."""
    return {
        stack: declare_offline(lambda s=stack: declare(demo_spec, s), stack=stack) for stack in stack_names(demo_spec)
    }


@pytest.fixture(scope="session")
def grown_demo_export(export_registry: Exporter, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo registry after a second import that adds one department to the Zhuhai cloud."""
    grown = tmp_path_factory.mktemp("grown") / "guangdong.yaml"
    grown.write_text(DEMO.read_text(encoding="utf-8").rstrip("\n") + "\n" + NEW_DEPARTMENT, encoding="utf-8")
    return export_registry(DEMO, grown)
