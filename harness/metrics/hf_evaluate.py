"""Hugging Face `evaluate` modules as metrics.

In suite.yaml, `- evaluate: NAME_OR_PATH` wraps a module. A local module folder (holding
`<folder name>.py`, as `evaluate` expects) is named relative to the suite folder and must lie
inside it; anything else is a Hub name, which needs the network. Options:

- `name`: the metric's name in results (default: the module's name);
- `key`: which key of the module's result to use (default: its only numeric key);
- `kind`: `mean` (default: the module scores one example at a time and the value is the mean of
  those scores, as for accuracy or per-example ROUGE) or `corpus` (the value is the module's score
  of the whole corpus, as for BLEU; intervals and tests then recompute it on resamples);
- `scale`, `lowest`, `higher_is_better`, `digits`: what the values mean (default 1, 0, true, 3);
- `args`: keyword arguments for the module's `compute`.

A module is Python code the suite brings: it runs with the harness's rights, so it is loaded only
after the user's trust decision (`load=True`, see `harness.suitedef.trust`). Without it the metric
is its declaration alone (name, kind, options, the files' hash), which is all that inspecting a
suite needs, and scoring with it is refused. `evaluate` copies a module it loads into its modules
cache: that cache is kept inside the harness's (`<HARNESS_CACHE>/modules`).
"""
from __future__ import annotations

import hashlib
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .base import NO_FIELDS, Metric, Score

if TYPE_CHECKING:
    import evaluate
    import evaluate.config as evaluate_config

    from harness.cache import dirs as cache_dirs
else:  # heavy, and only for a suite the user trusts: imported on first use
    cache_dirs = lazy_module("harness.cache.dirs")  # the cache's package is more than listing suites needs
    evaluate = lazy_module("evaluate")
    evaluate_config = lazy_module("evaluate.config")

_OWN_OPTIONS = ("name", "key", "kind", "scale", "lowest", "higher_is_better", "digits", "args")


def local_module(spec: str, suite_dir: Path) -> Path | None:
    """The module folder `spec` names inside the suite folder, or None for a Hub name."""
    looks_local = spec.startswith((".", "/", "~")) or "\\" in spec or (suite_dir / spec).exists()
    if not looks_local:
        return None
    folder = (suite_dir / Path(spec).expanduser()).resolve()
    if not folder.is_relative_to(suite_dir.resolve()):
        raise ValueError(f"evaluate module {spec!r} lies outside the suite folder; copy it into the suite")
    if not (folder / f"{folder.name}.py").is_file():
        raise ValueError(f"evaluate module {spec!r}: no {folder.name}.py in {folder.name}/ "
                         "(an evaluate module folder holds a script named like the folder)")
    return folder


def module_name(spec: str) -> str:
    """The default metric name for an `evaluate:` spec: its last path component."""
    return Path(spec.rstrip("/\\")).name or spec


class EvaluateMetric(Metric):
    """An `evaluate` module; `kind` and the scale are the suite's choice (see the module docstring)."""

    name = "evaluate"

    def __init__(self, module: str, language: str = "en", suite_dir: Path | None = None, key: str | None = None,
                 args: Mapping[str, Any] | None = None, load: bool = False):
        super().__init__(language)
        self.module, self.args, self.key = module, dict(args or {}), key
        folder = local_module(module, Path(suite_dir or "."))
        self._hash = files_digest(folder)[:16] if folder else None
        self._module = _load(module, folder) if load else None
        if load:
            try:  # a wrong key or a module that cannot score text should fail when the suite loads, not mid-run
                self._value(["a b"], ["a b"])
            except ValueError:
                raise
            except Exception as e:
                raise ValueError(f"evaluate module {module!r} fails on a test example: {type(e).__name__}: {e}") \
                    from None

    def _value(self, outputs: list[str], references: list[str]) -> float:
        if self._module is None:
            raise HarnessError(f"evaluate module {self.module!r} is the suite's own code and was not loaded: only "
                               "`run` and `eval` with --trust-suite-code run it")
        result = self._module.compute(predictions=outputs, references=references, **self.args)
        if not isinstance(result, dict):
            raise ValueError(f"evaluate module {self.module!r} returned {type(result).__name__}, not a dict")
        if self.key is None:
            numeric = [k for k, v in result.items() if isinstance(v, (int, float))]
            if len(numeric) != 1:
                raise ValueError(f"evaluate module {self.module!r} returns {sorted(result)}: name one with `key:`")
            self.key = numeric[0]
        if self.key not in result:
            raise ValueError(f"evaluate module {self.module!r} returns no {self.key!r} (it returns {sorted(result)})")
        return float(result[self.key])

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        return Score(self._value([output], [reference]))

    def corpus_score(self, outputs: list[str], references: list[str]) -> float:
        return self._value(outputs, references)

    @property
    def signature(self) -> str:
        """The module, the key and, for a local module, a hash of its files."""
        parts = [f"evaluate:{self.module}", f"key:{self.key or 'auto'}"]
        if self._hash:
            parts.append(f"sha256:{self._hash}")
        if self.args:
            parts.append("args:" + ",".join(f"{k}={v}" for k, v in sorted(self.args.items())))
        return "|".join(parts)


def make(module: str, language: str, suite_dir: Path, options: Mapping[str, Any],
         load: bool = False) -> tuple[str, Metric]:
    """(metric name, metric) for an `evaluate:` spec and its options; ValueError on bad options. The
    module's code runs only with `load` (the user trusts the suite's code)."""
    unknown = sorted(set(options) - set(_OWN_OPTIONS))
    if unknown:
        raise ValueError(f"evaluate metric {module!r}: unknown options {unknown}; known: {', '.join(_OWN_OPTIONS)}")
    kind = options.get("kind", "mean")
    if kind not in ("mean", "corpus"):
        raise ValueError(f"evaluate metric {module!r}: kind must be 'mean' or 'corpus', not {kind!r}")
    attrs = {k: options[k] for k in ("scale", "lowest", "higher_is_better", "digits") if k in options}
    cls = type("EvaluateMean" if kind == "mean" else "EvaluateCorpus", (EvaluateMetric,), {"kind": kind, **attrs})
    return options.get("name") or module_name(module), cls(module, language, suite_dir, options.get("key"),
                                                              options.get("args"), load)


def _load(module: str, folder: Path | None) -> Any:
    """The loaded module (this runs its code), with evaluate's caches inside the harness's."""
    try:
        with _modules_cache():
            return evaluate.load(str(folder) if folder else module, cache_dir=str(cache_dirs.cache_root() / "evaluate"),
                                 keep_in_memory=True)
    except Exception as e:  # evaluate raises FileNotFoundError, ConnectionError, ImportError, ...
        how = ("a local module folder failed to load" if folder else
               "offline, or no such module on the Hub; download its folder next to the suite and write "
               f"`evaluate: ./{module_name(module)}`")
        raise ValueError(f"evaluate module {module!r} cannot be loaded ({how}): "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


@contextmanager
def _modules_cache() -> Iterator[None]:
    """evaluate copies each module it loads into its modules cache (by default under
    ~/.cache/huggingface); it reads where at call time, so point it into the harness's cache."""
    before, ours = evaluate_config.HF_MODULES_CACHE, cache_dirs.cache_root() / "modules"
    evaluate_config.HF_MODULES_CACHE = ours
    # evaluate imports the copy as `evaluate_modules…` from the first such package on sys.path: make that
    # ours, and forget one imported from elsewhere (another cache, earlier in this process)
    sys.path.insert(0, str(ours))
    for name in [n for n in sys.modules if n == "evaluate_modules" or n.startswith("evaluate_modules.")]:
        if not str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(ours)):
            del sys.modules[name]
    try:
        yield
    finally:
        evaluate_config.HF_MODULES_CACHE = before
        while str(ours) in sys.path:
            sys.path.remove(str(ours))


def files_digest(folder: Path) -> str:
    """sha256 of every file of a module folder (names and bytes, in name order; compiled caches left out):
    what a user's trust in the module covers, and its signature."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as f:  # in chunks: a module folder may hold data files of any size
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
