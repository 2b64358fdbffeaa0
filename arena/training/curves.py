"""Learning curves from an experiment's ``metrics.jsonl``, as hand-drawn SVG.

The learner appends one JSON object per update to ``experiments/NAME/metrics.jsonl``: at least
``frames`` (cumulative emulator frames), ``steps``, ``updates`` and ``wall_s``, and optional
numbers such as ``reward``, ``fps``, ``loss``, ``loss/policy``, ``loss/value``, ``entropy`` and
``win_rate/<enemy>`` (null while there are no recent games against that enemy).

:func:`write_curves` turns that file into ``curves/*.svg`` and a ``curves/index.html`` page;
:func:`curves_svg` draws one chart, with one line per run, for comparing experiments. The SVG
helpers are the leaderboard report's (:mod:`arena.ratings.report`), so both look alike.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from arena.ratings.report import (
    escape,
    nice_ticks,
    series_colours,
    svg_document,
    svg_size,
    tick_label,
)

__all__ = ["CURVES", "curves_svg", "load_metrics", "write_curves"]

CURVES = ("reward.svg", "win_rate.svg", "fps.svg", "loss.svg", "entropy.svg")
"""The charts :func:`write_curves` can write, each only when its metrics exist."""

X_LABELS = {
    "frames": "emulator frames",
    "steps": "environment steps",
    "updates": "learner updates",
    "wall_s": "wall time (s)",
}

_CHAR_PX = 7.4  # width of an average legend character at 12 px
_MAX_LABEL = 32


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


def _thin(points: list[tuple[float, float]], keep: int) -> list[tuple[float, float]]:
    """Every n-th point and the last, so long runs stay small files."""
    if len(points) <= keep:
        return points
    stride = math.ceil(len(points) / keep)
    thinned = points[::stride]
    if thinned[-1] is not points[-1]:
        thinned.append(points[-1])
    return thinned


def _series(
    records: Sequence[Mapping], x: str, key: str, smooth: int, keep: int
) -> tuple[list[list[tuple[float, float]]], list[list[tuple[float, float]]]]:
    """Raw and smoothed segments of ``key`` against ``x``; a record without a value (a win rate
    with no recent games) ends a segment, so the line shows the gap instead of bridging it."""
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

    def segments(values: list[float]) -> list[list[tuple[float, float]]]:
        out: list[list[tuple[float, float]]] = []
        for xv, yv, new in zip(xs, values, breaks):
            if new or not out:
                out.append([])
            out[-1].append((xv, yv))
        return [_thin(s, keep) for s in out]

    return segments(ys), segments(smoothed)


def _scaled_labels(ticks: list[float]) -> list[str]:
    """Tick labels, in thousands (k), millions (M) or billions (G) when the numbers are long:
    10M frames reads better than 10000000."""
    top = max([abs(t) for t in ticks] + [0.0])
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if top >= 10 * scale or (suffix != "k" and top >= scale):
            return [tick_label(round(t / scale, 9)) + (suffix if t else "") for t in ticks]
    return [tick_label(t) for t in ticks]


def _domain(values: list[float], pad: float) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi <= lo:  # one value: centre it
        half = abs(lo) * 0.1 or 1.0
        return lo - half, hi + half
    margin = pad * (hi - lo)
    return lo - margin, hi + margin


# --------------------------------------------------------------------------------------------
# The chart


def curves_svg(
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
) -> str:
    """``key`` against ``x`` for each run (name -> metrics records), one coloured line each, on
    shared axes with a legend.

    ``hline`` draws a dashed reference line (0: even against the opponent); ``smooth`` > 1
    draws the trailing mean over that many records as the line, with the raw values faint
    behind it; ``y_range`` fixes the y axis (win rates: ``(0, 1)``), otherwise it spans the
    data (and ``hline``) with a 5% margin while x spans the data exactly. Each run is thinned
    to about ``max_points`` points.
    """
    names = list(runs)
    colours = series_colours(len(names))
    smooth = max(1, int(smooth))
    series = [_series(runs[name], x, key, smooth, max_points) for name in names]

    labels = [n if len(n) <= _MAX_LABEL else n[: _MAX_LABEL - 1] + "…" for n in names]
    legend_w = max([len(s) for s in labels] + [6]) * _CHAR_PX + 34
    left, right, top, bottom = 64, legend_w + 18, 40, 48
    height = max(height, top + 20 * len(names) + bottom)
    pw, ph = width - left - right, height - top - bottom

    xs = [p[0] for raw, _ in series for seg in raw for p in seg]
    ys = [p[1] for raw, _ in series for seg in raw for p in seg]
    x0, x1 = _domain(xs, 0.0)
    if y_range is not None:
        y0, y1 = map(float, y_range)
    else:
        y0, y1 = _domain(ys + ([hline] if hline is not None else []), 0.05)

    def sx(v: float) -> float:
        return left + pw * (v - x0) / (x1 - x0)

    def sy(v: float) -> float:
        return top + ph * (1.0 - (v - y0) / (y1 - y0))

    def path_d(segments: list[list[tuple[float, float]]]) -> str:
        # "l0,0" after a lone point: with round caps it shows as a dot
        return " ".join(
            "M" + " L".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in seg)
            + (" l0,0" if len(seg) == 1 else "")
            for seg in segments
        )

    body = [
        '<defs><clipPath id="plot-area">'  # a little wider: lines at y_range's ends show whole
        f'<rect x="{left - 3}" y="{top - 3}" width="{pw + 6:.1f}" height="{ph + 6:.1f}"/>'
        "</clipPath></defs>"
        f'<text x="{left}" y="{top - 16}" font-size="14" font-weight="600" fill="#1f2328">'
        f"{escape(title)}</text>"
        f'<rect class="plot" x="{left}" y="{top}" width="{pw:.1f}" height="{ph:.1f}" '
        'fill="#fbfcfd" stroke="#d8dee4"/>'
    ]
    y_ticks = [t for t in nice_ticks(y0, y1, 6) if y0 <= t <= y1]
    for t, label in zip(y_ticks, _scaled_labels(y_ticks)):
        y = sy(t)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw:.1f}" y2="{y:.1f}" '
            'stroke="#edf0f3"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{label}</text>'
        )
    x_ticks = [t for t in nice_ticks(x0, x1, 7) if x0 <= t <= x1]
    for t, label in zip(x_ticks, _scaled_labels(x_ticks)):
        xx = sx(t)
        body.append(
            f'<line x1="{xx:.1f}" y1="{top + ph:.1f}" x2="{xx:.1f}" y2="{top + ph + 4:.1f}" '
            'stroke="#afb8c1"/>'
            f'<text x="{xx:.1f}" y="{top + ph + 17:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#57606a">{label}</text>'
        )
    body.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 10}" text-anchor="middle" fill="#1f2328">'
        f"{escape(x_label or X_LABELS.get(x, x))}</text>"
        f'<text transform="translate(16 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'fill="#1f2328">{escape(y_label)}</text>'
    )
    if hline is not None and y0 <= hline <= y1:
        body.append(
            f'<line class="hline" x1="{left}" y1="{sy(hline):.1f}" x2="{left + pw:.1f}" '
            f'y2="{sy(hline):.1f}" stroke="#8c959f" stroke-dasharray="5 4"/>'
        )
    if not xs:
        body.append(
            f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" text-anchor="middle" '
            f'fill="#8c959f">no {escape(key)} values yet</text>'
        )
    body.append(
        '<g clip-path="url(#plot-area)" fill="none" stroke-linejoin="round" '
        'stroke-linecap="round">'
    )
    for (raw, smoothed), colour in zip(series, colours):
        if smooth > 1 and raw:
            body.append(
                f'<path class="raw" d="{path_d(raw)}" stroke="{colour}" stroke-opacity="0.25" '
                'stroke-width="1"/>'
            )
    for name, (raw, smoothed), colour in zip(names, series, colours):
        if smoothed:
            body.append(
                f'<path class="series" d="{path_d(smoothed)}" stroke="{colour}" '
                f'stroke-width="1.8"><title>{escape(name)}</title></path>'
            )
    body.append("</g>")
    lx = left + pw + 18
    for k, (label, colour) in enumerate(zip(labels, colours)):
        y = top + 10 + 20 * k
        body.append(
            f'<line x1="{lx}" y1="{y - 4}" x2="{lx + 18}" y2="{y - 4}" stroke="{colour}" '
            'stroke-width="3" stroke-linecap="round"/>'
            f'<text class="legend" x="{lx + 26}" y="{y}" fill="#1f2328">{escape(label)}</text>'
        )
    return svg_document(width, height, body, title)


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


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file, so a page open in a browser never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_curves(
    experiment_dir: str | os.PathLike, *, x: str = "frames", smooth: int | None = None
) -> list[Path]:
    """Draw ``experiment_dir/metrics.jsonl`` into ``experiment_dir/curves/``: ``reward.svg``,
    ``win_rate.svg`` (one line per enemy), ``fps.svg``, ``loss.svg`` (total and parts) and
    ``entropy.svg``, each only when its metrics have values, and an ``index.html`` showing them.
    Returns the paths written, ``index.html`` last.

    ``smooth`` is the moving-average window in records (default: 1% of the records, so about
    100 windows across the run; 1 turns smoothing off).
    """
    exp = Path(experiment_dir)
    records = load_metrics(exp / "metrics.jsonl")
    name = exp.resolve().name
    window = max(1, len(records) // 100) if smooth is None else max(1, smooth)
    keys = _keys(records)
    common = dict(x=x, smooth=window)

    charts: list[tuple[str, str, str]] = []  # file, heading, svg
    if "reward" in keys:
        charts.append((
            "reward.svg",
            "Reward",
            curves_svg(
                {name: records}, "reward", title=f"{name}: reward",
                y_label="mean score difference", hline=0.0, **common,
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


def _page(name: str, records: Sequence[Mapping], charts, window: int) -> str:
    last = records[-1] if records else {}

    def fact(key: str, fmt: str) -> str:
        value = _number(last.get(key))
        return "—" if value is None else format(value, fmt)

    summary = (
        f"{len(records):,} records · {fact('updates', ',.0f')} updates · "
        f"{fact('frames', ',.0f')} frames · {fact('wall_s', ',.0f')} s"
    )
    smoothing = (
        f" Lines are trailing means over {window} records, the raw values faint behind them."
        if window > 1
        else ""
    )
    figures = "\n".join(
        f'<section><h2>{escape(heading)}</h2><img src="{file}" width="{w}" height="{h}" '
        f'alt="{escape(heading)}"></section>'
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
<title>{escape(name)} · Arena learning curves</title>
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
<h1>{escape(name)}</h1>
<p>{escape(summary)}.{escape(smoothing)}</p>
{figures}
</body>
</html>
"""
