"""What people read: HTML reports rendered from run records. Never runs a model."""
from .render import render_report

__all__ = ["render_report"]
