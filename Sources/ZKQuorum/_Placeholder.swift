// ZKQuorum
