"""Human rating sheets: blinded export for raters, validated import, and where things stand.

What the ratings say is the core's to compute (`harness.evaluation.ratings`) and run.json's to hold.
Names load with their module, so the report's status line does not load the spreadsheet libraries."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "export": ["export_sheets"],
    "importer": ["import_ratings"],
    "status": ["sheets_status"],
})
__all__ = ["export_sheets", "import_ratings", "sheets_status"]
