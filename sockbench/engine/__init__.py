"""trio drivers per transport, run orchestration and worker processes: the I/O layer."""
