"""Test-driven evaluation harness for instruction tuning."""
__version__ = "0.1.0"
