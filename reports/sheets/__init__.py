"""Human rating sheets: blinded export for raters, validated import, and the statistics of the ratings."""
from .aggregate import ratings_summary, sheets_status
from .export import export_sheets
from .importer import import_ratings

__all__ = ["export_sheets", "import_ratings", "ratings_summary", "sheets_status"]
