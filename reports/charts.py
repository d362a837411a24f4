"""Charts as inline SVG, drawn with matplotlib: readable without JavaScript, no files, no fonts.

Figures are built with `matplotlib.figure.Figure` and saved by the SVG canvas, never through
pyplot, so rendering a report changes no process-wide backend or rc state. Text stays text
(`svg.fonttype: none`), math parsing is off (a `$` in a suite name is just a dollar), and the
XML prologue, metadata and namespace URLs are stripped: the SVG is meant to sit inside HTML.

Drawing is most of a report's time. With `remember_in(folder)` each chart is kept in a folder of the
harness cache under a hash of everything it is drawn from, and a report drawn again with the same
numbers reads it back (its bytes checked against the hash in the file's name) instead of drawing it.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

import matplotlib
from markupsafe import Markup, escape
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from harness.common.files import write_bytes

BASE_COLOR = "#9aa0ac"
COLORS = ["#3b6fd8", "#e07b22", "#2a9d6f", "#b8439b", "#7c5cd6", "#c9a227", "#1f9bb8", "#d64545"]
RC: Any = {  # matplotlib types its keys as a Literal of every rc name
    "svg.fonttype": "none", "svg.hashsalt": "report", "svg.image_inline": True, "text.parse_math": False,
    "font.family": "sans-serif", "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#e6e8ef", "grid.linewidth": 0.6,
    "axes.axisbelow": True, "legend.frameon": False, "axes.formatter.useoffset": False,
    "axes.formatter.use_mathtext": False,
}


_MEMO: list[Path] = []
"""The folder charts are kept in (none: every chart is drawn)."""
_SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
MAX_CHART_BYTES = 8 << 20
"""A kept chart larger than this is not read back (drawn again)."""
Draw = TypeVar("Draw", bound=Callable[..., Markup])


def remember_in(folder: Path | None) -> None:
    """Keep every chart drawn from now on in `folder`, named by a hash of what decides it (the chart's function
    and arguments, this module's source, matplotlib's version), and read it back when asked again; None: draw
    every chart."""
    _MEMO[:] = [] if folder is None else [Path(folder)]


def _plain(value: Any) -> Any:
    """A record (an attention view) as its fields, for a chart's key; anything else cannot be keyed."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def _kept(draw: Draw) -> Draw:
    """`draw`, through the folder of `remember_in`."""
    @functools.wraps(draw)
    def chart(*args: Any, **kwargs: Any) -> Markup:
        try:
            key = hashlib.sha256(json.dumps([draw.__name__, args, kwargs, _SOURCE, matplotlib.__version__],
                                            sort_keys=True, default=_plain).encode()).hexdigest()[:32]
        except (TypeError, ValueError):
            key = ""
        if not _MEMO or not key:
            return draw(*args, **kwargs)
        for path in _MEMO[0].glob(f"{key}-*.svg"):
            if path.stat().st_size <= MAX_CHART_BYTES:
                data = path.read_bytes()
                if path.stem.endswith("-" + hashlib.sha256(data).hexdigest()[:16]):
                    return Markup(data.decode("utf-8"))
        svg = draw(*args, **kwargs)
        data = str(svg).encode("utf-8")
        try:
            write_bytes(_MEMO[0] / f"{key}-{hashlib.sha256(data).hexdigest()[:16]}.svg", data)
        except OSError:
            pass  # a chart that cannot be kept is drawn again next time
        return svg

    return chart  # type: ignore[return-value]


def color_of(state: str, states: list[str]) -> str:
    """A state's colour, the same on every chart."""
    if state == "base":
        return BASE_COLOR
    tuned = [s for s in states if s != "base"]
    return COLORS[tuned.index(state) % len(COLORS)] if state in tuned else COLORS[-1]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig: Figure, title: str) -> Markup:
    """The figure as an <svg> element for inline use, with ids unique in the page and an accessible label."""
    with matplotlib.rc_context(RC):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")
    # ids must be unique within a page holding several charts; a content hash keeps output stable
    prefix, ids = "c" + hashlib.sha1(svg.encode()).hexdigest()[:8] + "-", set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'(id="|#)([^"\)\s]+)(?=["\)])',
                 lambda m: m[1] + prefix + m[2] if m[2] in ids else m[0], svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
    return Markup(svg)


@_kept
def metric_bars(metrics: list[dict], states: list[str]) -> Markup:
    """One panel per metric: a bar per state, 95% interval whiskers where the record has them.

    `metrics`: [{name, scale, values: {state: (value, low, high) | None}}].
    """
    with matplotlib.rc_context(RC):
        fig = _figure(max(3.0, 2.3 * len(metrics)), 2.5)
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, m in zip(axes, metrics):
            shown = [s for s in states if m["values"].get(s) is not None]
            xs = range(len(shown))
            vals = [m["values"][s][0] for s in shown]
            ax.bar(xs, vals, color=[color_of(s, states) for s in shown], width=0.7)
            for x, s in zip(xs, shown):
                value, low, high = m["values"][s]
                if low is not None and high is not None:
                    ax.errorbar([x], [value], yerr=[[max(0.0, value - low)], [max(0.0, high - value)]],
                                color="#1d2330", capsize=3, linewidth=1)
                ax.annotate(f"{value:.3g}", (x, value), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8)
            ax.set_xticks(list(xs), shown)
            ax.set_title(m["name"])
            ax.set_ylim(0, m["scale"] * 1.12)
            ax.grid(axis="x", visible=False)
    return to_svg(fig, "Metric values per state with 95% intervals")


@_kept
def pareto(points: list[dict], base_quality: float | None, quality_label: str) -> Markup:
    """Quality against two costs (wall time, trainable parameters); the front joined by a line.

    `points`: [{label, state, wall, params, quality, quality_low?, quality_high?, mark?}] with quality on a
    0–1 scale; low/high (a strategy's lowest and highest training seed) are drawn as a whisker; `mark`, when
    set, labels the point instead of `label` (a number keyed in the page's table). `base` costs
    nothing to tune: a point at zero wall time (where the front starts), and a dashed line on the
    logarithmic parameter axis, which has no zero.
    """
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.9)
        axes = fig.subplots(1, 2)
        for ax, key, xlabel, log in ((axes[0], "wall", "wall time (s)", False),
                                     (axes[1], "params", "trainable parameters", True)):
            pts = [p for p in points if p.get(key) and p.get("quality") is not None]
            with_base = pts + ([{"label": "base", key: 0.0, "quality": base_quality}]
                               if base_quality is not None and not log else [])
            front = sorted((with_base[i] for i in pareto_front([(p[key], p["quality"]) for p in with_base])),
                           key=lambda p: p[key])
            if len(front) > 1:
                ax.plot([p[key] for p in front], [p["quality"] for p in front], color="#1d2330",
                        linewidth=1, linestyle=":", drawstyle="steps-post", label="Pareto front")
            for i, p in enumerate(pts):
                on = p in front
                color = COLORS[i % len(COLORS)]
                if p.get("quality_low") is not None and p.get("quality_high") is not None:
                    ax.plot([p[key], p[key]], [p["quality_low"], p["quality_high"]], color=color, linewidth=1.2)
                ax.scatter([p[key]], [p["quality"]], s=46 if on else 30, color=color,
                           edgecolors="#1d2330" if on else "none", zorder=3)
                ax.annotate(p.get("mark") or p["label"], (p[key], p["quality"]), xytext=(5, 4),
                            textcoords="offset points", fontsize=8)
            if base_quality is not None and log:
                ax.axhline(base_quality, color=BASE_COLOR, linestyle="--", linewidth=1, label="base")
            elif base_quality is not None:
                ax.scatter([0.0], [base_quality], s=40, color=BASE_COLOR, edgecolors="#1d2330", zorder=3)
                ax.annotate("base", (0.0, base_quality), xytext=(5, 4), textcoords="offset points", fontsize=8)
            if log and pts and all(p[key] > 0 for p in pts):
                ax.set_xscale("log")
                _log_ticks(ax.xaxis)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
            ax.set_xlabel(xlabel + " (lower is cheaper)")
            ax.set_ylabel(quality_label)
            highest = max([p.get("quality_high") or p["quality"] for p in pts] + [base_quality or 0.0])
            ax.set_ylim(0, 1.05 if highest > 0.5 else max(0.1, highest * 1.5))  # low qualities get room to differ
            _pad_x(ax, [p[key] for p in (pts if log else with_base)], log)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=8)
    return to_svg(fig, "Quality against cost per strategy, base at zero cost, Pareto front marked")


def _pad_x(ax, xs: list[float], log: bool) -> None:
    """Room to the right for point labels; a single point gets a range around it."""
    if not xs:
        return
    lo, hi = min(xs), max(xs)
    if log and lo > 0:
        ax.set_xlim(lo / 2, hi * 4)
    else:
        span = (hi - lo) or max(hi, 1.0)
        ax.set_xlim(max(0.0, lo - 0.15 * span), hi + 0.45 * span)


def _log_ticks(axis) -> None:
    """Plain tick labels (1, 2, 5 per decade): matplotlib's default ones are mathtext, which is off."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    axis.set_minor_formatter(NullFormatter())


def _compact(v: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:g}{unit}"
    return f"{v:g}"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of (cost, quality) points no other point beats on both (lower cost, higher quality)."""
    def dominated(i):
        c, q = points[i]
        return any(c2 <= c and q2 >= q and (c2 < c or q2 > q) for j, (c2, q2) in enumerate(points) if j != i)

    return [i for i in range(len(points)) if not dominated(i)]


@_kept
def loss_curves(curves: dict[str, list[tuple[int, float]]], states: list[str]) -> Markup:
    """Training loss against step, one line per backend; log scale when it spans a decade or more."""
    return step_curves(curves, states, "training loss", "Training loss per backend")


def step_curves(curves: dict[str, list[tuple[int, float]]], states: list[str], ylabel: str, title: str,
                log: bool = True) -> Markup:
    """A logged series against step, one line per state; with `log`, log scale when it spans a decade or more."""
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 3.0)
        ax = fig.subplots()
        values = []
        for name, curve in curves.items():
            if curve:
                steps, losses = zip(*curve)
                values += [v for v in losses if v > 0 and math.isfinite(v)]
                ax.plot(steps, losses, color=color_of(name, states), linewidth=1.4, label=name)
        if log and values and min(values) > 0 and max(values) / min(values) >= 10:
            ax.set_yscale("log")
            _log_ticks(ax.yaxis)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        if values:
            ax.legend(loc="upper right")
    return to_svg(fig, title)


@_kept
def attention_svg(attention, title: str) -> Markup:
    """A heat map of `harness.record.Attention`: output tokens down, prompt tokens across, darker = more
    attention (scaled to the map's largest weight). Drawn as plain SVG rectangles and text."""
    cell, left, top = 11, 64, 56
    rows, cols = attention.rows, attention.columns
    width, height = left + cell * len(cols) + 4, top + cell * len(rows) + 4
    peak = max((w for row in attention.weights for w in row), default=0) or 1
    parts = [f'<svg role="img" aria-label="{escape(title)}" class="attention" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-size="8" font-family="monospace">',
             f"<title>{escape(title)}</title>"]
    for j, label in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(f'<text transform="translate({x:.0f},{top - 3}) rotate(-60)">{escape(_short(label))}</text>')
    for i, label in enumerate(rows):
        parts.append(f'<text x="{left - 3}" y="{top + i * cell + 8}" text-anchor="end">{escape(_short(label))}</text>')
    parts.append(f'<g fill="{COLORS[0]}">')
    for i, row in enumerate(attention.weights):
        for j, w in enumerate(row):
            shade = w / peak
            if shade >= 0.05:
                parts.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                             f'height="{cell - 1}" opacity="{shade:.2f}"/>')
    parts.append("</g></svg>")
    return Markup("".join(parts))


def _short(token: str) -> str:
    text = token.replace("\n", "⏎").strip() or "␣"
    return text if len(text) <= 9 else text[:8] + "…"


@_kept
def length_histograms(splits: list[tuple[str, list[float], list[int]]], limits: list[tuple[int, str]]) -> Markup:
    """Token lengths per split as overlaid step histograms; a dashed line at each `max_length` that falls
    within reach of the data. `splits`: [(split, edges, counts)]; `limits`: [(max_length, backends)]."""
    with matplotlib.rc_context(RC):
        fig = _figure(6.0, 2.4)
        ax = fig.subplots()
        largest = 0.0
        for i, (name, edges, counts) in enumerate(splits):
            ax.stairs(counts, edges, label=name, color=COLORS[i % len(COLORS)], linewidth=1.4,
                      fill=i == 0, alpha=0.35 if i == 0 else 1.0)
            largest = max(largest, edges[-1])
        for length, who in limits:
            if length <= 1.5 * largest:
                ax.axvline(length, color=COLORS[-1], linestyle="--", linewidth=1)
                ax.annotate(f"max_length {length} ({who})", (length, ax.get_ylim()[1]), xytext=(-4, -10),
                            textcoords="offset points", ha="right", fontsize=8, color=COLORS[-1])
        ax.set_xlabel("tokens (prompt + completion)")
        ax.set_ylabel("examples")
        ax.legend(loc="upper right")
    return to_svg(fig, "Token lengths per split")


@_kept
def label_bars(labels: list[str], splits: dict[str, dict[str, int]]) -> Markup:
    """Share of each label per split, side by side (labels in the order given)."""
    with matplotlib.rc_context(RC):
        fig = _figure(max(4.0, 0.55 * len(labels) + 1.5), 2.6)
        ax = fig.subplots()
        width = 0.8 / max(1, len(splits))
        for i, (name, counts) in enumerate(splits.items()):
            total = sum(counts.values()) or 1
            xs = [x + i * width for x in range(len(labels))]
            ax.bar(xs, [counts.get(label, 0) / total for label in labels], width=width, label=name,
                   color=COLORS[i % len(COLORS)])
        ax.set_xticks([x + width * (len(splits) - 1) / 2 for x in range(len(labels))], labels, rotation=30,
                      ha="right")
        ax.set_ylabel("share of the split")
        ax.grid(axis="x", visible=False)
        fig.legend(loc="outside upper right", ncols=len(splits), fontsize=8)  # above the bars, never over them
    return to_svg(fig, "Label balance per split")


@_kept
def forest(rows: list[dict], states: list[str]) -> Markup:
    """Δ against base with its 95% interval, one line per suite and metric, tuned states side by side. Each
    metric's Δ is drawn as a share of its scale (lowest to highest value), so different metrics share an axis;
    a filled point is a significant change. `rows`: [{"label", "span", "deltas": {state: (Δ, low, high,
    significant) | None}}]."""
    with matplotlib.rc_context(RC):
        fig = _figure(7.0, 0.9 + 0.32 * len(rows))
        ax = fig.subplots()
        step = 0.7 / max(1, len(states))
        for j, state in enumerate(states):
            color = COLORS[j % len(COLORS)]
            for i, row in enumerate(rows):
                d = row["deltas"].get(state)
                if d is None:
                    continue
                delta, low, high, significant = d
                y = i + (j - (len(states) - 1) / 2) * step
                if low is not None and high is not None:
                    ax.plot([low / row["span"], high / row["span"]], [y, y], color=color, linewidth=1.3)
                ax.scatter([delta / row["span"]], [y], s=22, color=color if significant else "white",
                           edgecolors=color, zorder=3, label=state if i == 0 else None)
        ax.axvline(0.0, color="#1d2330", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [row["label"] for row in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("Δ against base, as a share of the metric's scale (filled: significant)")
        ax.grid(axis="y", visible=False)
        if states:
            fig.legend(loc="outside upper right", ncols=len(states), fontsize=8)
    return to_svg(fig, "Change against base with 95% intervals per suite and metric")
