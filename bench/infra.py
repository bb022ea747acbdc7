"""Benchmark: the provincial cloud's stack of a synthetic 2,000-department province under Pulumi's mocks.

    .venv/bin/python bench/infra.py [--departments 2000] [--clouds 25] [--seed 0] [--all-stacks]

The synthetic registry (`bench/synthetic.py`) is imported into a temporary SQLite registry and
exported, so the program reads real allocated ranges. The provincial cloud's stack (its foundation
and the landing zones of every department placed on it, the hosted cities' included) is declared
under the mocks the tests use; `--all-stacks` declares every stack of the province instead.

Printed: resources declared per second, and as the same-run baseline the rate of declaring as many
bare `aws.s3.Bucket`s (no components, no policy documents, no outputs) under the same mocks, with
the ratio. Both rates are bounded by the Pulumi Python SDK's own per-resource cost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

from bench.synthetic import write_registry  # noqa: E402
from core.db import make_engine  # noqa: E402
from infra.mocks import Declaration, declare_offline, export_through_registry  # noqa: E402
from infra.program import declare  # noqa: E402
from infra.tenancy import load_tenancy, provincial_cloud, stack_names  # noqa: E402
from tenants.formats import TenancySpec  # noqa: E402
from zhengyun.database import upgrade  # noqa: E402


def exported_province(workdir: Path, *, clouds: int, departments: int, seed: int) -> Path:
    """Write a synthetic registry, import it into a fresh SQLite registry and export it with its ranges."""
    tenancy, _ = write_registry(workdir / "registry", clouds=clouds, departments=departments, seed=seed)
    engine = make_engine(f"sqlite:///{workdir / 'zhengyun.db'}")
    try:
        upgrade(engine=engine)
        text = export_through_registry(engine, [tenancy])
    finally:
        engine.dispose()
    out = workdir / "tenancy.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def timed(program, stack: str) -> tuple[Declaration, float]:
    """Declare under the mocks; the wall time of the whole run (registration included)."""
    start = time.perf_counter()
    declared = declare_offline(program, stack=stack)
    return declared, time.perf_counter() - start


def bare_buckets(spec: TenancySpec, count: int) -> None:
    """The baseline program: `count` plain buckets through the same kind of explicit provider."""
    home = provincial_cloud(spec)
    provider = aws.Provider(home.id, region=home.region or "cn-sim-1")
    for i in range(count):
        aws.s3.Bucket(
            f"bare-{i}", tags={"zhengyun:department": f"d{i}"}, opts=pulumi.ResourceOptions(provider=provider)
        )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=2000)
    parser.add_argument("--clouds", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--all-stacks", action="store_true", help="declare every stack, not only the provincial cloud's"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="zhengyun-bench-infra-") as tmp:
        spec = load_tenancy(
            exported_province(Path(tmp), clouds=args.clouds, departments=args.departments, seed=args.seed)
        )
    home = provincial_cloud(spec)
    stacks = stack_names(spec) if args.all_stacks else [home.id]
    on_home = sum(1 for d in spec.departments if d.cloud == home.id and d.status == "active")
    print(
        f"province: {len(spec.clouds)} clouds, {len(spec.departments)} departments; "
        f"{home.id}: {on_home} departments (hosted cities' included)"
    )

    # warm-up: the SDK loads pulumi_aws modules lazily on first use
    timed(lambda: declare(spec, "province"), "warm-up")
    timed(lambda: bare_buckets(spec, 20), "warm-up-bare")

    total = custom = 0
    elapsed = 0.0
    for stack in stacks:
        declared, seconds = timed(lambda s=stack: declare(spec, s), stack)
        total += len(declared.resources)
        custom += len(declared.custom())
        elapsed += seconds
        if args.all_stacks:
            print(f"  {stack:24} {len(declared.resources):7} resources {seconds:8.2f} s")
    rate = total / elapsed
    print(
        f"program:  {total} resources ({custom} cloud resources, the rest components and providers) "
        f"in {elapsed:.2f} s = {rate:.0f} resources/s"
    )

    baseline, bare_seconds = timed(lambda: bare_buckets(spec, total - 1), "bare")
    bare_rate = len(baseline.resources) / bare_seconds
    print(
        f"baseline: {len(baseline.resources)} bare aws.s3.Bucket resources in {bare_seconds:.2f} s = "
        f"{bare_rate:.0f} resources/s"
    )
    print(f"ratio program/baseline: {rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
