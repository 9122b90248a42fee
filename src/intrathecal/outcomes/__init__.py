"""Outcomes registry: instruments, scoring and cohort statistics (pure: no I/O, no clock)."""
