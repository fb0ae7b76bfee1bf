"""Global selection over per-shard score arrays."""
