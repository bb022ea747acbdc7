"""Preview, update or destroy a stack through Pulumi's Automation API (`zhengyun infra`).

The program runs in this process (an inline program, the same `declare` the project's `Pulumi.yaml`
runs), with a local file backend under the data directory unless another backend is given, and the
policy pack `infra/policy` on every run. The Pulumi CLI is still needed: the Automation API drives it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.i18n import register
from infra.tenancy import PROVINCE_STACK, provincial_cloud, stack_cloud
from tenants.formats import TenancySpec

PROJECT = "zhengyun"
POLICY_PACK = Path(__file__).resolve().parent / "policy"
INSTALL_HINT = (
    "the Pulumi CLI is not installed (no `pulumi` on PATH); `zhengyun infra` drives it through the Automation API.\n"
    "Install it, then open a new shell:\n"
    "  curl -fsSL https://get.pulumi.com | sh      # Linux and macOS; or: brew install pulumi/tap/pulumi\n"
    "  choco install pulumi                        # Windows; or download from https://www.pulumi.com/docs/install/\n"
    "then choose a backend, e.g. `pulumi login --local` (zhengyun uses file://<data dir>/pulumi/state by default)\n"
    "and run the command again. See docs/infra.md."
)

register(
    {
        INSTALL_HINT: (
            "未安装 Pulumi CLI（PATH 中没有 `pulumi`）；`zhengyun infra` 通过 Automation API 调用它。\n"
            "请先安装，然后打开新的终端：\n"
            "  curl -fsSL https://get.pulumi.com | sh      # Linux 和 macOS；或：brew install pulumi/tap/pulumi\n"
            "  choco install pulumi                        # Windows；或从 https://www.pulumi.com/docs/install/ 下载\n"
            "再选择后端，例如 `pulumi login --local`（zhengyun 默认使用 file://<数据目录>/pulumi/state），\n"
            "然后重新运行命令。详见 docs/infra.md。"
        ),
    }
)


class PulumiNotInstalled(Exception):
    """The Pulumi CLI is missing: the caller prints `INSTALL_HINT` and exits 2."""


@dataclass(frozen=True)
class Workspace:
    """Where a run keeps its state and settings."""

    backend_url: str
    work_dir: Path

    @classmethod
    def default(cls, data_dir: Path, backend_url: str | None = None) -> Workspace:
        """A local file backend under the data directory unless another backend URL is given."""
        state = data_dir / "pulumi" / "state"
        return cls(backend_url=backend_url or f"file://{state}", work_dir=data_dir / "pulumi" / "workspace")

    def prepare(self) -> None:
        """Create the work directory and, for a local file backend, the state directory."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.backend_url.startswith("file://"):
            Path(self.backend_url.removeprefix("file://")).expanduser().mkdir(parents=True, exist_ok=True)

    def env_vars(self) -> dict[str, str]:
        """Environment the CLI runs with (added to the inherited one)."""
        return {"PULUMI_BACKEND_URL": self.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}


@dataclass
class RunResult:
    """What a run did: its resource changes by kind, and the stack's outputs after an update."""

    stack: str
    action: str
    changes: dict[str, int]
    outputs: dict[str, Any] = field(default_factory=dict)


def stack_config(spec: TenancySpec, stack: str, tenancy: Path) -> dict[str, str]:
    """The stack's configuration: the tenancy file, the cloud and, when known, the region."""
    cloud = provincial_cloud(spec) if stack == PROVINCE_STACK else stack_cloud(spec, stack)
    config = {f"{PROJECT}:tenancy": str(tenancy.resolve()), f"{PROJECT}:cloud": stack}
    if cloud.region:
        config["aws:region"] = cloud.region
    return config


def policy_config(tenancy: Path) -> dict[str, Any]:
    """The policy pack's configuration: the range policy reads the tenancy file."""
    from infra.policy.policies import RANGES_POLICY

    return {RANGES_POLICY: {"tenancy": str(tenancy.resolve())}}


def require_pulumi() -> str:
    """The path of the Pulumi CLI, or PulumiNotInstalled."""
    found = shutil.which("pulumi")
    if found is None:
        raise PulumiNotInstalled(INSTALL_HINT)
    return found


def _changes(op_map: Any) -> dict[str, int]:
    return {str(getattr(k, "value", k)): int(v) for k, v in (op_map or {}).items()}


def run_stack(
    *,
    spec: TenancySpec,
    stack: str,
    action: str,
    tenancy: Path,
    workspace: Workspace,
    on_output: Callable[[str], None] | None = None,
) -> RunResult:
    """Select or create the stack, set its configuration, then preview, update or destroy it."""
    require_pulumi()
    from pulumi import automation as auto

    from infra.program import declare

    workspace.prepare()
    pack_config = workspace.work_dir / f"policy-config.{stack}.json"
    pack_config.write_text(json.dumps(policy_config(tenancy), indent=2), encoding="utf-8")
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(workspace.work_dir),
        env_vars=workspace.env_vars(),
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=workspace.backend_url)
        ),
    )
    try:
        pulumi_stack = auto.create_or_select_stack(
            stack_name=stack, project_name=PROJECT, program=lambda: declare(spec, stack), opts=opts
        )
    except FileNotFoundError as exc:  # the CLI vanished between the check and the call
        raise PulumiNotInstalled(INSTALL_HINT) from exc
    pulumi_stack.set_all_config({k: auto.ConfigValue(value=v) for k, v in stack_config(spec, stack, tenancy).items()})
    packs, pack_configs = [str(POLICY_PACK)], [str(pack_config)]
    if action == "preview":
        preview = pulumi_stack.preview(on_output=on_output, policy_packs=packs, policy_pack_configs=pack_configs)
        return RunResult(stack, action, _changes(preview.change_summary))
    if action == "up":
        up = pulumi_stack.up(on_output=on_output, policy_packs=packs, policy_pack_configs=pack_configs)
        return RunResult(
            stack, action, _changes(up.summary.resource_changes), {k: v.value for k, v in up.outputs.items()}
        )
    destroy = pulumi_stack.destroy(on_output=on_output)
    return RunResult(stack, action, _changes(destroy.summary.resource_changes))
