"""Run the program offline under Pulumi's own mocks and keep what it declared (tests and `bench/infra.py`).

`export_through_registry` gives them what the program reads: tenancy files imported into a registry
and exported with the ranges it allocated.

The mocks stand in for the engine and the AWS provider: every registered resource is recorded with
its type, name, URN, parent, provider and inputs, and answers with its inputs plus the computed
properties the program reads (ids, ARNs, bucket names). No cloud, no Pulumi CLI.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from sqlalchemy import Engine

from core.db import session_scope
from tenants import tenancy
from tenants.permissions import SYSTEM

ACCOUNT_ID = "123456789012"
ORGANIZATION_ROOT = "r-zy00"
PROVIDER_TYPE = "pulumi:providers:aws"


@dataclass
class Declared:
    """One registered resource (custom or component) as the engine saw it."""

    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None

    @property
    def provider_urn(self) -> str:
        """The provider reference without its id (`urn::id`)."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    @property
    def tags(self) -> dict[str, str]:
        """The resource's own tags."""
        return dict(self.inputs.get("tags") or {})


@dataclass
class Declaration:
    """Everything one stack declared, in registration order."""

    stack: str
    resources: list[Declared] = field(default_factory=list)

    def by_urn(self) -> dict[str, Declared]:
        """Resources by URN."""
        return {r.urn: r for r in self.resources}

    def custom(self) -> list[Declared]:
        """Resources managed by a provider (not components, not providers)."""
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]

    def providers(self) -> dict[str, Declared]:
        """Provider resources by URN."""
        return {r.urn: r for r in self.resources if r.type.startswith("pulumi:providers:")}

    def effective_tags(self, resource: Declared) -> dict[str, str]:
        """Its provider's default tags overlaid with its own tags (what AWS would store)."""
        provider = next((r for r in self.resources if r.urn == resource.provider_urn), None)
        defaults: dict[str, str] = {}
        if provider is not None:
            raw = provider.inputs.get("defaultTags")
            parsed = json.loads(raw) if isinstance(raw, str) else (raw or {})
            defaults = dict(parsed.get("tags") or {})
        return {**defaults, **resource.tags}


def _computed(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The id and the computed properties a real provider would return."""
    module, _, kind = typ.partition("/")
    service = module.split(":")[-1]
    resource_kind = kind.split(":")[0]
    if typ == "aws:s3/bucket:Bucket":
        return name, {"bucket": name, "arn": f"arn:aws:s3:::{name}"}
    rid = f"{name}-id"
    extra: dict[str, Any] = {}
    if service == "iam":
        extra["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:{resource_kind}/{name}"
        extra["name"] = name
    elif typ == "aws:kms/key:Key":
        extra.update(arn=f"arn:aws:kms:mock:{ACCOUNT_ID}:key/{rid}", keyId=rid)
    elif typ == "aws:sns/topic:Topic":
        extra["arn"] = f"arn:aws:sns:mock:{ACCOUNT_ID}:{name}"
    else:
        extra["arn"] = f"arn:aws:{service}:mock:{ACCOUNT_ID}:{resource_kind}/{rid}"
    return rid, extra


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations and the two data sources the program reads."""

    def __init__(self) -> None:
        # the monitor calls new_resource on the thread that registers, so the inputs of the
        # registration in flight are kept per thread
        self.current = threading.local()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Inputs plus computed properties."""
        self.current.inputs = dict(args.inputs)
        if not args.custom:
            return f"{args.name}-id", dict(args.inputs)
        rid, computed = _computed(args.typ, args.name, args.inputs)
        return rid, {**args.inputs, **computed}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """The account (STS) and the organisation root."""
        return self._answer(args.token), []

    @staticmethod
    def _answer(token: str) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/zhengyun-platform-deployer",
                "userId": "AROAMOCK",
                "id": ACCOUNT_ID,
            }
        if token == "aws:organizations/getOrganization:getOrganization":
            return {
                "id": "o-zy00",
                "arn": f"arn:aws:organizations::{ACCOUNT_ID}:organization/o-zy00",
                "masterAccountId": ACCOUNT_ID,
                "featureSet": "ALL",
                "roots": [
                    {
                        "id": ORGANIZATION_ROOT,
                        "name": "Root",
                        "arn": f"arn:aws:organizations::{ACCOUNT_ID}:root/o-zy00/{ORGANIZATION_ROOT}",
                        "policyTypes": [],
                    }
                ],
            }
        raise NotImplementedError(f"no mock for {token}")


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps the parent of each registration and the outputs it registered."""

    def __init__(self, mocks: RecordingMocks, declaration: Declaration):
        super().__init__(mocks)
        self.recording = mocks
        self.declaration = declaration
        self._by_urn: dict[str, Declared] = {}

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        """Answer as the mock monitor does, and record the registration."""
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            declared = Declared(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                provider=request.provider,
                custom=bool(request.custom),
                inputs=self.recording.current.inputs,
                state=self.resources[response.urn].state,
            )
            self.declaration.resources.append(declared)
            self._by_urn[response.urn] = declared
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # gRPC method name
        """Keep the outputs a component registered."""
        from pulumi.runtime import rpc

        declared = self._by_urn.get(request.urn)
        if declared is not None:
            declared.outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def declare_offline(program: Callable[[], Any], *, stack: str, project: str = "zhengyun") -> Declaration:
    """Run `program` as the stack `stack` under the mocks; return what it declared."""
    declaration = Declaration(stack)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=RecordingMonitor(mocks, declaration)
    )
    pulumi.runtime.test(program)()
    return declaration


def export_through_registry(engine: Engine, files: Iterable[Path]) -> str:
    """Import tenancy files in order into the (migrated) registry behind `engine`; return its export."""
    for file in files:
        with session_scope(engine=engine) as session:
            tenancy.import_tenancy(session, actor=SYSTEM, path=file)
    with session_scope(engine=engine) as session:
        return tenancy.export_tenancy(session, actor=SYSTEM)
