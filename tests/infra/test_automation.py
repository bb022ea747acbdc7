"""The Automation API driver's pieces that need no Pulumi CLI: workspace, configuration, the missing-CLI check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.automation import PulumiNotInstalled, Workspace, policy_config, require_pulumi, run_stack, stack_config
from infra.policy.policies import RANGES_POLICY
from tenants.formats import TenancySpec


def test_the_default_backend_is_a_local_file_backend_under_the_data_directory(tmp_path: Path) -> None:
    workspace = Workspace.default(tmp_path)
    assert workspace.backend_url == f"file://{tmp_path}/pulumi/state"
    assert workspace.env_vars()["PULUMI_BACKEND_URL"] == workspace.backend_url
    workspace.prepare()
    assert (tmp_path / "pulumi" / "state").is_dir() and workspace.work_dir.is_dir()


def test_another_backend_is_used_as_given(tmp_path: Path) -> None:
    workspace = Workspace.default(tmp_path, "s3://zhengyun-state?endpoint=127.0.0.1:9000")
    workspace.prepare()
    assert workspace.env_vars()["PULUMI_BACKEND_URL"] == "s3://zhengyun-state?endpoint=127.0.0.1:9000"
    assert not (tmp_path / "pulumi" / "state").exists()


def test_a_stacks_configuration_names_the_tenancy_file_the_cloud_and_its_region(
    demo_spec: TenancySpec, demo_export: Path
) -> None:
    assert stack_config(demo_spec, "gz", demo_export) == {
        "zhengyun:tenancy": str(demo_export.resolve()),
        "zhengyun:cloud": "gz",
        "aws:region": "cn-south-gz-1",
    }
    assert stack_config(demo_spec, "province", demo_export)["aws:region"] == "cn-south-1"
    assert json.loads(json.dumps(policy_config(demo_export))) == {
        RANGES_POLICY: {"tenancy": str(demo_export.resolve())}
    }


def test_without_the_pulumi_cli_nothing_is_started(
    demo_spec: TenancySpec, demo_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PulumiNotInstalled):
        require_pulumi()
    workspace = Workspace.default(tmp_path / "data")
    with pytest.raises(PulumiNotInstalled, match="get.pulumi.com"):
        run_stack(spec=demo_spec, stack="gz", action="preview", tenancy=demo_export, workspace=workspace)
    assert not (tmp_path / "data").exists()


def test_a_pulumi_on_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\necho v3.0.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert require_pulumi() == str(fake)
