"""Writing a static site: the Jinja environment, number formats, shared assets and relative links.

Every page links to the stylesheet, the script and the other pages by relative paths, so a
report folder works from file:// wherever it is copied. Autoescaping is on for every template;
the only markup passed in pre-built is charts (matplotlib SVG) and diffs (escaped in diff.py).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Iterator

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.common.errors import HarnessError
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



GENERATED = re.compile(r"suites/[^/]+/(examples-\d+\.html|search-\d+\.js|index\.html)|pairs/[^/]+\.html"
                       r"|strategy\.html|training\.html")
"""Pages of a site (relative to its root) that exist only while the run has them: a suite with fewer
examples, a pair no longer compared, or the tuning pages of a run re-rendered as an evaluation, must not
keep the pages an earlier render wrote."""


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A fresh folder beside `out_dir` to write a site into; put in place only once the whole site is written.

    A render that fails leaves `out_dir` as it was (no stray report.css, no folder it created); one that
    succeeds replaces the previous render's pages there and keeps any other files the folder holds."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HarnessError("exists and is not a folder", str(out_dir))
    created = next((p for p in reversed([out_dir, *out_dir.parents]) if not p.exists()), None)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    except OSError as e:
        raise HarnessError(f"cannot write the report here: {e.strerror}", str(out_dir)) from None
    try:
        yield staging
        _move_in(staging, out_dir)
    except BaseException:
        if created is not None and created != out_dir:
            shutil.rmtree(created, ignore_errors=True)  # folders above out_dir made for this render
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_in(staging: Path, out_dir: Path) -> None:
    """Put a fully written site in place: as a whole when `out_dir` is new, file by file over an old render."""
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    for css in out_dir.rglob(ASSETS[0]):  # every site root, a comparison's run sites included
        root = css.parent
        for path in root.rglob("*"):
            if GENERATED.fullmatch(path.relative_to(root).as_posix()) and path.is_file():
                path.unlink()
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            target = out_dir / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
