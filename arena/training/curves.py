"""Learning curves from an experiment's ``metrics.jsonl``, drawn with matplotlib.

The learner appends one JSON object per update to ``experiments/NAME/metrics.jsonl``: at least
``frames`` (cumulative emulator frames), ``steps``, ``updates`` and ``wall_s``, and optional
numbers such as ``reward``, ``fps``, ``loss``, ``loss/policy``, ``loss/value``, ``entropy`` and
``win_rate/<enemy>`` (null while there are no recent games against that enemy).

:func:`write_curves` turns that file into ``curves/*.svg`` and a ``curves/index.html`` page;
:func:`curves_figure` draws one chart, with one line per run, for comparing experiments, and
:func:`curves_svg` gives it as SVG text. The style is :mod:`arena.plotting`'s, shared with the
leaderboard report, so both look alike.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["CURVES", "curves_figure", "curves_svg", "load_metrics", "write_curves"]

CURVES = ("reward.svg", "score.svg", "win_rate.svg", "fps.svg", "loss.svg", "entropy.svg")
"""The charts :func:`write_curves` can write, each only when its metrics exist."""

X_LABELS = {
    "frames": "emulator frames",
    "steps": "environment steps",
    "updates": "learner updates",
    "wall_s": "wall time (s)",
}


def load_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics file, in order.

    A last line that is not valid JSON is skipped: a process killed mid-write (or a file read
    while the learner appends) leaves one. A bad line anywhere else raises :class:`ValueError`.
    """
    path = Path(path)
    # errors="replace": a write cut inside a multi-byte character must not hide the whole file
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: the truncated last line
                break
            raise ValueError(f"{path}:{number}: not a JSON line ({error})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        records.append(record)
    return records


# --------------------------------------------------------------------------------------------
# Series


def _number(value) -> float | None:
    """A finite float, or None for what cannot be plotted (null, NaN, a string, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _trailing_mean(values: list[float], window: int) -> list[float]:
    """The mean of each value and the ``window - 1`` before it (fewer at the start): a curve
    that never looks ahead, like the training itself."""
    out, total = [], 0.0
    for k, v in enumerate(values):
        total += v
        if k >= window:
            total -= values[k - window]
        out.append(total / min(k + 1, window))
    return out


def _series(records: Sequence[Mapping], x: str, key: str, smooth: int, keep: int) -> tuple[list[float], list[float], list[float]]:
    """x, raw and smoothed values of ``key`` against ``x``, thinned to about ``keep`` points; a
    record without a value (a win rate with no recent games) puts a NaN between its neighbours,
    so the line shows the gap instead of bridging it. The smoothed value is the trailing mean
    over the last ``smooth`` values (gaps skipped)."""
    from arena.plotting import thin

    xs, ys, breaks = [], [], []
    gap = False
    for record in records:
        xv, yv = _number(record.get(x)), _number(record.get(key))
        if xv is None:
            continue
        if yv is None:
            gap = True
            continue
        breaks.append(gap and bool(xs))
        gap = False
        xs.append(xv)
        ys.append(yv)
    smoothed = _trailing_mean(ys, smooth) if smooth > 1 else ys
    keep_at = set(thin(xs, keep))
    keep_at.update(k for k, new in enumerate(breaks) if new)  # both ends of every gap stay
    keep_at.update(k - 1 for k, new in enumerate(breaks) if new)
    out_x, out_raw, out_smooth = [], [], []
    for k in sorted(keep_at):
        if breaks[k]:
            out_x.append(math.nan)
            out_raw.append(math.nan)
            out_smooth.append(math.nan)
        out_x.append(xs[k])
        out_raw.append(ys[k])
        out_smooth.append(smoothed[k])
    return out_x, out_raw, out_smooth


def _domain(values: list[float], pad: float) -> tuple[float, float]:
    values = [v for v in values if math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi <= lo:  # one value: centre it
        half = abs(lo) * 0.1 or 1.0
        return lo - half, hi + half
    margin = pad * (hi - lo)
    return lo - margin, hi + margin


def _lone_points(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """The points with a gap (or an end) on both sides: a line cannot show them, a dot can."""
    out_x, out_y = [], []
    for k, (xv, yv) in enumerate(zip(xs, ys)):
        if math.isnan(xv):
            continue
        before = k == 0 or math.isnan(xs[k - 1])
        after = k == len(xs) - 1 or math.isnan(xs[k + 1])
        if before and after:
            out_x.append(xv)
            out_y.append(yv)
    return out_x, out_y


# --------------------------------------------------------------------------------------------
# The chart


def curves_figure(
    runs: Mapping[str, Sequence[Mapping]],
    key: str,
    *,
    x: str = "frames",
    title: str,
    y_label: str,
    x_label: str | None = None,
    hline: float | None = None,
    smooth: int = 1,
    y_range: tuple[float, float] | None = None,
    width: int = 760,
    height: int = 340,
    max_points: int = 1000,
):
    """``key`` against ``x`` for each run (name -> metrics records), one coloured line each, on
    shared axes with a legend, as a matplotlib figure of ``width`` x ``height`` CSS pixels.

    ``hline`` draws a dashed reference line (0: even against the opponent); ``smooth`` > 1
    draws the trailing mean over that many records as the line, with the raw values faint
    behind it; ``y_range`` fixes the y axis (win rates: ``(0, 1)``), otherwise it spans the
    data (and ``hline``) with a 5% margin while x spans the data exactly. Each run is thinned
    to about ``max_points`` points. Runs are labelled as entrants are
    (:func:`arena.ratings.labels.entrant_labels`: a snapshot path reads ``NAME@102k``).
    """
    from arena import plotting
    from arena.ratings.labels import entrant_labels

    names = list(runs)
    labels = entrant_labels(names)
    colours = plotting.colours(len(names))
    smooth = max(1, int(smooth))
    series = [_series(runs[name], x, key, smooth, max_points) for name in names]
    xs = [v for sx, _, _ in series for v in sx]
    ys = [v for _, raw, _ in series for v in raw]
    x0, x1 = _domain(xs, 0.0)
    if y_range is not None:
        y0, y1 = map(float, y_range)
    else:
        y0, y1 = _domain(ys + ([hline] if hline is not None else []), 0.05)

    with plotting.figure(width, max(height, 90 + 18 * len(names))) as fig:
        ax = fig.add_subplot()
        ax.set_title(title, fontsize=10.5)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=x_label or X_LABELS.get(x, x), ylabel=y_label)
        ax.xaxis.set_major_formatter(plotting.short_number_formatter())
        ax.yaxis.set_major_formatter(plotting.short_number_formatter())
        if hline is not None and y0 <= hline <= y1:
            ax.axhline(hline, color="#8c959f", lw=1, ls=(0, (5, 4)), gid="hline")
        if not any(math.isfinite(v) for v in xs):
            ax.text(0.5, 0.5, f"no {key} values yet", transform=ax.transAxes, ha="center", va="center",
                    color="#8c959f")  # fmt: skip
        for (sx, raw, _), colour in zip(series, colours):
            if smooth > 1 and sx:
                ax.plot(sx, raw, color=colour, alpha=0.25, lw=0.8, gid="raw")
        for k, (name, (sx, _, smoothed), colour) in enumerate(zip(names, series, colours)):
            # a run without values still gets its (empty) line, so it shows in the legend
            ax.plot(sx, smoothed, color=colour, lw=1.6, label=labels[name], gid=f"series-{k}")
            lx, ly = _lone_points(sx, smoothed)
            if lx:
                ax.plot(lx, ly, "o", color=colour, ms=3, gid=f"points-{k}")
        if names:
            fig.legend(loc="outside right upper", handlelength=1.4)
    return fig


def curves_svg(runs: Mapping[str, Sequence[Mapping]], key: str, **options) -> str:
    """:func:`curves_figure` as an SVG document (its ``<title>`` is the chart's title)."""
    from arena import plotting

    return plotting.svg_text(curves_figure(runs, key, **options), options.get("title"))


# --------------------------------------------------------------------------------------------
# An experiment's charts and page


def _keys(records: Sequence[Mapping]) -> list[str]:
    """Keys with at least one plottable value, in order of first appearance."""
    seen: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in seen and _number(value) is not None:
                seen[key] = None
    return list(seen)


def _column(records: Sequence[Mapping], x: str, key: str) -> list[dict]:
    """Records reduced to ``x`` and one metric renamed ``value``, so several metrics of one
    run can be drawn as several lines."""
    return [{x: r.get(x), "value": r.get(key)} for r in records]


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file, so a page open in a browser never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_curves(experiment_dir: str | os.PathLike, *, x: str = "frames", smooth: int | None = None) -> list[Path]:
    """Draw ``experiment_dir/metrics.jsonl`` into ``experiment_dir/curves/``: ``reward.svg``,
    ``score.svg``, ``win_rate.svg`` (one line per enemy), ``fps.svg``, ``loss.svg`` (total and parts) and
    ``entropy.svg``, each only when its metrics have values, and an ``index.html`` showing them.
    Returns the paths written, ``index.html`` last.

    ``smooth`` is the moving-average window in records (default: 1% of the records, so about
    100 windows across the run; 1 turns smoothing off).
    """
    exp = Path(experiment_dir)
    records = load_metrics(exp / "metrics.jsonl")
    name = exp.resolve().name
    window = max(1, len(records) // 100) if smooth is None else max(1, smooth)
    charts = _charts(name, records, x=x, window=window)

    out = exp / "curves"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file, _, svg in charts:
        _write_atomic(out / file, svg)
        written.append(out / file)
    index = out / "index.html"
    _write_atomic(index, _page(name, records, charts, window))
    written.append(index)
    return written


def _charts(name: str, records: Sequence[Mapping], *, x: str, window: int) -> list[tuple[str, str, str]]:
    """(file, heading, svg) of each chart whose metrics have values, in :data:`CURVES` order."""
    keys = _keys(records)
    common = {"x": x, "smooth": window}
    charts: list[tuple[str, str, str]] = []
    if "reward" in keys:
        charts.append((
            "reward.svg",
            "Reward",
            curves_svg(
                {name: records}, "reward", title=f"{name}: reward",
                y_label="mean score difference", hline=0.0, **common,
            ),
        ))  # fmt: skip
    if "score" in keys:
        charts.append((
            "score.svg",
            "Score",
            curves_svg(
                {name: records}, "score", title=f"{name}: score",
                y_label="the learner's mean score a game", **common,
            ),
        ))  # fmt: skip
    enemies = [k for k in keys if k.startswith("win_rate/")]
    if enemies:
        charts.append((
            "win_rate.svg",
            "Win rate by enemy",
            curves_svg(
                {k.split("/", 1)[1]: _column(records, x, k) for k in enemies}, "value",
                title=f"{name}: win rate by enemy", y_label="win rate", hline=0.5,
                y_range=(0.0, 1.0), **common,
            ),
        ))  # fmt: skip
    if "fps" in keys:
        charts.append((
            "fps.svg",
            "Throughput",
            curves_svg(
                {name: records}, "fps", title=f"{name}: throughput",
                y_label="emulator frames per second", **common,
            ),
        ))  # fmt: skip
    losses = [k for k in keys if k == "loss" or k.startswith("loss/")]
    if losses:
        charts.append((
            "loss.svg",
            "Losses",
            curves_svg(
                {("total" if k == "loss" else k.split("/", 1)[1]): _column(records, x, k)
                 for k in losses},
                "value", title=f"{name}: losses", y_label="loss", **common,
            ),
        ))  # fmt: skip
    if "entropy" in keys:
        charts.append((
            "entropy.svg",
            "Policy entropy",
            curves_svg(
                {name: records}, "entropy", title=f"{name}: policy entropy",
                y_label="entropy (nats)", **common,
            ),
        ))  # fmt: skip
    return charts


def _page(name: str, records: Sequence[Mapping], charts, window: int) -> str:
    from arena.plotting import svg_size

    last = records[-1] if records else {}

    def fact(key: str, fmt: str) -> str:
        value = _number(last.get(key))
        return "—" if value is None else format(value, fmt)

    summary = (
        f"{len(records):,} records · {fact('updates', ',.0f')} updates · "
        f"{fact('frames', ',.0f')} frames · {fact('wall_s', ',.0f')} s"
    )
    smoothing = f" Lines are trailing means over {window} records, the raw values faint behind them." if window > 1 else ""
    figures = "\n".join(
        f'<section><h2>{_escape(heading)}</h2><img src="{file}" width="{w}" height="{h}" alt="{_escape(heading)}"></section>'
        for file, heading, svg in charts
        for w, h in [svg_size(svg)]
    )
    if not charts:
        figures = "<p>No metrics with values yet.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{_escape(name)} · Arena learning curves</title>
<style>
body {{ margin: 0 auto; max-width: 820px; padding: 24px; color: #1f2328; background: #f4f6f8;
  font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif; }}
h1 {{ font-size: 26px; margin: 0 0 2px; }}
p {{ color: #59636e; margin: 0 0 16px; }}
section {{ background: #fff; border: 1px solid #d1d9e0; border-radius: 12px;
  padding: 14px 18px; margin: 16px 0; }}
h2 {{ font-size: 17px; margin: 0 0 6px; }}
img {{ max-width: 100%; height: auto; display: block; }}
</style>
</head>
<body>
<h1>{_escape(name)}</h1>
<p>{_escape(summary)}.{_escape(smoothing)}</p>
{figures}
</body>
</html>
"""
