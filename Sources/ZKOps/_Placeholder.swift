// ZKOps
