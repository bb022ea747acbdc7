"""Infrastructure as code (docs/reference.md#infrastructure-as-code): the Pulumi program for the province's 1+N+M clouds.

`tenancy` reads the exported tenancy file, `components` holds the three building blocks (province
organisation, cloud foundation, department landing zone), `program` declares the stacks,
`policy/` is the policy pack, `automation` drives the Pulumi CLI and `cli` is `zhengyun infra`.
Only `tenants` and `core` are imported from the rest of zhengyun.
"""
