"""The registry: province, 1+N+M clouds, operators, departments, networks, users, meters, contracts."""
