"""How the harness runs on this machine: data-parallel processes (`--processes`, accelerate), CPU threads, and
measuring what a step costs (wall time, peak memory)."""
