"""Benchmarks and synthetic fixtures; not part of the installed package."""
