"""Network allocation (docs/reference.md#the-registry): a /16 per cloud with infrastructure, a /22 per department.

The first /16 of the supernet is the platform's. Ranges are handed out lowest-free-first and are
never moved or reused, so this allocator only ever adds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from core.errors import Conflict
from core.i18n import register

PLATFORM = "<platform>"
_SLOTS_PER_16 = 64  # /22 blocks in a /16

register(
    {
        "the supernet {supernet} has no free /16 left": "超网 {supernet} 已没有空闲的 /16",
        "network {cidr} is allocated to {owner}": "网段 {cidr} 已分配给 {owner}",
        "network {cidr} is outside the supernet {supernet}": "网段 {cidr} 不在超网 {supernet} 内",
        "network {cidr} is not in a block of cloud '{cloud}'": "网段 {cidr} 不在云“{cloud}”的地址块内",
    }
)


@dataclass(frozen=True)
class Allocation:
    """A range and its owner (a cloud's /16, or a department's /22 with its cloud)."""

    cidr: str
    prefix: int
    cloud_id: str
    department_id: str | None = None


class Allocator:
    """Lowest-free allocation over what is already allocated; records what it adds."""

    def __init__(self, supernet: str, existing: list[Allocation]):
        self.supernet = ipaddress.IPv4Network(supernet)
        self._base = int(self.supernet.network_address)
        self._count16 = 2 ** (16 - self.supernet.prefixlen)
        self._owner16: dict[int, str] = {0: PLATFORM}
        self._blocks: dict[str, list[int]] = {}
        self._owner22: dict[int, str | None] = {}
        self.added: list[Allocation] = []
        for a in existing:
            self._record(a)

    def _index16(self, net: ipaddress.IPv4Network) -> int:
        return (int(net.network_address) - self._base) >> 16

    def _record(self, a: Allocation) -> None:
        net = ipaddress.IPv4Network(a.cidr)
        if a.prefix == 16:
            idx = self._index16(net)
            self._owner16[idx] = a.cloud_id
            self._blocks.setdefault(a.cloud_id, []).append(idx)
            self._blocks[a.cloud_id].sort()
        else:
            self._owner22[int(net.network_address)] = a.department_id

    def _net16(self, idx: int) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network((self._base + (idx << 16), 16))

    def blocks_of(self, cloud_id: str) -> list[str]:
        """The /16 blocks of a cloud, lowest first."""
        return [str(self._net16(i)) for i in self._blocks.get(cloud_id, [])]

    def _add(self, a: Allocation) -> str:
        self._record(a)
        self.added.append(a)
        return a.cidr

    def allocate_cloud(self, cloud_id: str) -> str:
        """The lowest free /16 for a cloud."""
        for idx in range(self._count16):
            if idx not in self._owner16:
                return self._add(Allocation(str(self._net16(idx)), 16, cloud_id))
        raise Conflict("the supernet {supernet} has no free /16 left", supernet=str(self.supernet))

    def claim_cloud(self, cloud_id: str, cidr: str) -> None:
        """Give a declared /16 to a cloud, unless another owner holds it."""
        net = ipaddress.IPv4Network(cidr)
        if not net.subnet_of(self.supernet):
            raise Conflict("network {cidr} is outside the supernet {supernet}", cidr=cidr, supernet=str(self.supernet))
        owner = self._owner16.get(self._index16(net))
        if owner == cloud_id:
            return
        if owner is not None:
            raise Conflict("network {cidr} is allocated to {owner}", cidr=cidr, owner=owner)
        self._add(Allocation(str(net), 16, cloud_id))

    def allocate_department(self, cloud_id: str, department_id: str) -> str:
        """The lowest free /22 in the cloud's blocks; a new /16 for the cloud when they are full."""
        for idx in self._blocks.get(cloud_id, []):
            start = self._base + (idx << 16)
            for slot in range(_SLOTS_PER_16):
                addr = start + (slot << 10)
                if addr not in self._owner22:
                    return self._add(Allocation(str(ipaddress.IPv4Network((addr, 22))), 22, cloud_id, department_id))
        self.allocate_cloud(cloud_id)
        return self.allocate_department(cloud_id, department_id)

    def claim_department(self, cloud_id: str, department_id: str, cidr: str) -> None:
        """Give a declared /22 to a department, unless it is outside its cloud or held by another."""
        net = ipaddress.IPv4Network(cidr)
        addr = int(net.network_address)
        if addr in self._owner22:
            owner = self._owner22[addr]
            if owner == department_id:
                return
            raise Conflict("network {cidr} is allocated to {owner}", cidr=cidr, owner=owner or PLATFORM)
        if self._owner16.get(self._index16(net)) != cloud_id:
            raise Conflict("network {cidr} is not in a block of cloud '{cloud}'", cidr=cidr, cloud=cloud_id)
        self._add(Allocation(str(net), 22, cloud_id, department_id))
