"""Writing a static site: the Jinja environment, number formats, shared assets and relative links.

Every page links to the stylesheet, the script and the other pages by relative paths, so a
report folder works from file:// wherever it is copied. Autoescaping is on for every template;
the only markup passed in pre-built is charts (matplotlib SVG) and diffs (escaped in diff.py).
"""
from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.common.files import write_text

ASSETS = ("report.css", "report.js")


def _num(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _signed(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:+.{digits}f}"


def _pval(p) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _thousands(n) -> str:
    return "—" if n is None else f"{n:,}"


env = Environment(
    loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
env.filters.update(num=_num, signed=_signed, pval=_pval, thousands=_thousands)


def unique_slugs(names: list[str]) -> list[str]:
    """A file-system-safe folder name per name, unique in the list (names may hold dots; `..` must not escape)."""
    out: list[str] = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"
        slug, i = base, 2
        while slug in out:
            slug, i = f"{base}-{i}", i + 1
        out.append(slug)
    return out


def slugs(names: list[str]) -> dict[str, str]:
    """Name → its file-system-safe slug (see `unique_slugs`)."""
    return dict(zip(names, unique_slugs(names)))


class Site:
    def __init__(self, out_dir: Path, title: str, nav: list[tuple[str, str]]):
        self.out_dir, self.title, self.nav = Path(out_dir), title, nav

    def page(self, relpath: str, template: str, **context) -> Path:
        root = "../" * relpath.count("/")
        html = env.get_template(template).render(
            site_title=self.title, nav=self.nav, current=relpath, root=root, **context)
        return self.write(relpath, html)

    def write(self, relpath: str, text: str) -> Path:
        path = self.out_dir / relpath
        write_text(path, text)
        return path

    def copy_assets(self) -> None:
        for name in ASSETS:
            self.write(name, (files("reports") / "templates" / name).read_text(encoding="utf-8"))

    def clear_pages(self, folder: str) -> None:
        """The .html pages a previous render left directly in `folder` (e.g. pairs that no longer exist)."""
        target = self.out_dir / folder
        if target.is_dir():
            for path in target.iterdir():
                if path.suffix == ".html" and path.is_file():
                    path.unlink()

    def remove_pages(self, relpaths: list[str]) -> None:
        """Pages a previous render wrote that this one does not (e.g. a run re-rendered after a change)."""
        for relpath in relpaths:
            (self.out_dir / relpath).unlink(missing_ok=True)

    def clear_generated(self, folder: str) -> None:
        """Pages and index files a previous render left in `folder`: a shorter suite must not keep them."""
        target = self.out_dir / folder
        if target.is_dir():
            for path in target.glob("*/*"):
                if re.fullmatch(r"(examples-\d+\.html|search-\d+\.js|index\.html)", path.name):
                    path.unlink()
