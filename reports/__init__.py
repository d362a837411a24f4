"""What people read: HTML reports rendered from run records. Never runs a model."""
from .compare_runs import render_comparison
from .render import render_report

__all__ = ["render_comparison", "render_report"]
