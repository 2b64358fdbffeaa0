"""A leaderboard's HTML report and CSV files, from its game log.

:func:`write_report` writes into one folder:

* ``index.html``: a self-contained page (no scripts, no external CSS, fonts or CDN) with the
  standings table (TrueSkill, online), the rating history, the predicted and the observed
  win-rate matrices, an order-independent Bradley-Terry fit with bootstrap intervals, the
  errored games, and every game with a link to its log;
* ``history.svg``, ``win_probability.svg``, ``observed.svg``, ``bradley_terry.svg``: the plots,
  hand-written SVG (no plotting library), referenced by the page;
* ``entrants.csv`` and ``games.csv``, written with pandas.

TrueSkill is a Microsoft trademark, used here under its non-commercial terms.
"""

from __future__ import annotations

import colorsys
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import numpy as np

from arena.ratings.standings import (
    ELO_PER_LOGIT,
    GAME_FIELDS,
    INTERVAL_Z,
    BradleyTerry,
    RatedLog,
    RatingHistory,
    Standing,
    _pair_matrices,
    _ratings,
    _sorted_by_id,
    bradley_terry,
    humanize_age,
    rated_log,
    rating_history,
    standings,
)
from arena.ratings.trueskill import Rating, RatingModel, TrueSkill

__all__ = ["FILES", "write_report"]

FILES = (
    "index.html",
    "entrants.csv",
    "games.csv",
    "history.svg",
    "win_probability.svg",
    "observed.svg",
    "bradley_terry.svg",
)
"""The files :func:`write_report` writes."""

TRADEMARK = (
    "TrueSkill is a Microsoft trademark; Arena uses the TrueSkill model under its "
    "non-commercial terms."
)

_PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#5f6b7a",
]  # fmt: skip  (Tableau 10, with a darker grey)
_MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"
_SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
_CHAR_W = 0.61  # width of a monospace character, in ems
_MAX_LABEL = 28


def _colours(n: int) -> list[str]:
    if n <= len(_PALETTE):
        return _PALETTE[:n]
    out = list(_PALETTE)
    for k in range(n - len(_PALETTE)):  # golden-angle hues, alternating lightness
        h = (0.07 + k * 0.381966) % 1.0
        r, g, b = colorsys.hls_to_rgb(h, 0.42 if k % 2 else 0.55, 0.55)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


# --------------------------------------------------------------------------------------------
# Formatting


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _short(name: str, limit: int = _MAX_LABEL) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _num(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}f}".replace("-", "−")


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _when(iso: str | None, suffix: bool = True) -> str:
    """``2024-05-01 12:03 UTC`` from an ISO string (as stored if unreadable)."""
    if not iso:
        return "—"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if suffix else "")


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _tick_label(t: float) -> str:
    return (f"{t:.0f}" if abs(t - round(t)) < 1e-9 else f"{t:g}").replace("-", "−")


def _lerp_colour(stops: list[tuple[float, tuple[int, int, int]]], x: float) -> tuple[int, ...]:
    x = min(max(x, stops[0][0]), stops[-1][0])
    for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
        if x <= x1:
            f = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            return tuple(round(a + (b - a) * f) for a, b in zip(c0, c1))
    return stops[-1][1]


_DIVERGING = [  # P(row beats column): red (loses) .. near white .. blue (wins)
    (0.0, (178, 24, 43)),
    (0.25, (239, 138, 98)),
    (0.5, (247, 247, 247)),
    (0.75, (103, 169, 207)),
    (1.0, (33, 102, 172)),
]


def _fill(p: float) -> tuple[str, str]:
    """Cell fill and a readable text colour for a probability."""
    r, g, b = _lerp_colour(_DIVERGING, p)
    luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    return f"rgb({r},{g},{b})", ("#ffffff" if luminance < 0.5 else "#1f2328")


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{_SANS}" font-size="12" '
        f'role="img"><title>{_e(title)}</title>'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(body) + "</svg>\n"
    )


# --------------------------------------------------------------------------------------------
# Plots


def _thin(x: np.ndarray, keep: int) -> np.ndarray:
    """Indices of at most about ``keep`` points: the first, and the last one in each of ``keep``
    equal x bins."""
    if len(x) <= keep:
        return np.arange(len(x))
    bins = np.minimum((x - x[0]) * keep // max(x[-1] - x[0], 1), keep - 1)
    last = np.flatnonzero(np.r_[bins[1:] != bins[:-1], True])
    return np.unique(np.r_[0, last])


def _steps(h: RatingHistory, total: int, keep: int = 400):
    """x, mu, sigma of an entrant's history as a step function from 0 to ``total``."""
    x = np.r_[0, h.game_index].astype(np.float64)
    mu = np.r_[h.start.mu, h.mu]
    sigma = np.r_[h.start.sigma, h.sigma]
    k = _thin(x, keep)
    return x[k], mu[k], sigma[k]


def _step_points(xs: list[float], ys: list[float], x_end: float) -> list[str]:
    """Polyline points of a step function that holds each value until the next x."""
    parts = [f"{xs[0]:.1f},{ys[0]:.1f}"]
    for k in range(1, len(ys)):
        parts.append(f"{xs[k]:.1f},{ys[k - 1]:.1f} {xs[k]:.1f},{ys[k]:.1f}")
    parts.append(f"{x_end:.1f},{ys[-1]:.1f}")
    return parts


def _history_range(histories: list[RatingHistory]) -> tuple[float, float]:
    lo = min([h.start.mu - 2 * h.start.sigma for h in histories] or [0.0])
    hi = max([h.start.mu + 2 * h.start.sigma for h in histories] or [1.0])
    for h in histories:
        if len(h.mu):
            lo = min(lo, float(np.min(h.mu - 2 * h.sigma)))
            hi = max(hi, float(np.max(h.mu + 2 * h.sigma)))
    pad = 0.04 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def history_svg(
    histories: list[RatingHistory], colours: list[str], total: int, width: int = 980
) -> str:
    """mu (line) and mu ± 2 sigma (band) per entrant, as step functions over rated games.

    Up to 24 entrants: small multiples, one panel per entrant (in the given order) on shared
    axes, with the other entrants' mu in grey behind. More: one panel with every line.
    """
    if len(histories) > 24:
        return _history_combined(histories, colours, total, width)
    n = len(histories)
    cols = 1 if n == 1 else 2 if n <= 4 else 3 if n <= 9 else 4
    rows = max(1, math.ceil(n / cols))
    left, right, top, bottom, gap_x, gap_y, title_h = 50, 12, 8, 44, 22, 20, 24
    pw = (width - left - right - gap_x * (cols - 1)) / cols
    ph = 150.0 if cols > 1 else 260.0
    height = top + rows * (title_h + ph) + (rows - 1) * gap_y + bottom
    x_end = max(total, 1)
    lo, hi = _history_range(histories)
    y_ticks = _nice_ticks(lo, hi, 5)
    x_ticks = [t for t in _nice_ticks(0, x_end, 5 if cols > 2 else 7) if t == int(t)]
    steps = [_steps(h, x_end) for h in histories]
    body = []
    for k, (h, colour, (x, mu, sigma)) in enumerate(zip(histories, colours, steps)):
        r, c = divmod(k, cols)
        ox = left + c * (pw + gap_x)
        oy = top + r * (title_h + ph + gap_y) + title_h

        def sx(v, ox=ox):
            return ox + pw * (v / x_end)

        def sy(v, oy=oy):
            return oy + ph * (1.0 - (v - lo) / (hi - lo))

        final = f"μ {_num(float(mu[-1]))} ± {_num(2 * float(sigma[-1]))}"
        body.append(
            f'<rect x="{ox:.1f}" y="{oy - title_h + 7:.1f}" width="10" height="10" rx="2" '
            f'fill="{colour}"/>'
            f'<text x="{ox + 15:.1f}" y="{oy - 8:.1f}" font-family="{_MONO}" font-weight="600" '
            f'fill="#1f2328">{_e(_short(h.name, 22))}</text>'
            f'<text x="{ox + pw:.1f}" y="{oy - 8:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{final}</text>'
            f'<rect x="{ox:.1f}" y="{oy:.1f}" width="{pw:.1f}" height="{ph:.1f}" fill="#fbfcfd" '
            'stroke="#d8dee4"/>'
        )
        for t in y_ticks:
            y = sy(t)
            body.append(
                f'<line x1="{ox:.1f}" y1="{y:.1f}" x2="{ox + pw:.1f}" y2="{y:.1f}" '
                'stroke="#edf0f3"/>'
            )
            if c == 0:
                body.append(
                    f'<text x="{ox - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                    f'fill="#57606a">{_tick_label(t)}</text>'
                )
        last_row = r == rows - 1 or k + cols >= n
        for t in x_ticks:
            xx = sx(t)
            body.append(
                f'<line x1="{xx:.1f}" y1="{oy + ph:.1f}" x2="{xx:.1f}" y2="{oy + ph + 4:.1f}" '
                'stroke="#afb8c1"/>'
            )
            if last_row:
                body.append(
                    f'<text x="{xx:.1f}" y="{oy + ph + 17:.1f}" text-anchor="middle" '
                    f'font-size="11" fill="#57606a">{_tick_label(t)}</text>'
                )
        for j, (xo, muo, _) in enumerate(steps):  # everyone else, in grey
            if j != k:
                pts = _step_points([sx(v) for v in xo], [sy(v) for v in muo], sx(x_end))
                body.append(
                    f'<polyline points="{" ".join(pts)}" fill="none" stroke="#c9d1d9" '
                    'stroke-width="1"/>'
                )
        xs = [sx(v) for v in x]
        upper = _step_points(xs, [sy(v) for v in mu + 2 * sigma], sx(x_end))
        lower = _step_points(xs, [sy(v) for v in mu - 2 * sigma], sx(x_end))
        body.append(
            f'<polygon points="{" ".join(upper + lower[::-1])}" fill="{colour}" '
            'fill-opacity="0.22"/>'
            f'<polyline points="{" ".join(_step_points(xs, [sy(v) for v in mu], sx(x_end)))}" '
            f'fill="none" stroke="{colour}" stroke-width="2.2" stroke-linejoin="round"/>'
        )
    body.append(
        f'<text x="{left + (width - left - right) / 2:.1f}" y="{height - 10:.1f}" '
        'text-anchor="middle" fill="#1f2328">rated games so far</text>'
        f'<text transform="translate(14 {top + (height - top - bottom) / 2:.1f}) rotate(-90)" '
        'text-anchor="middle" fill="#1f2328">TrueSkill μ ± 2σ</text>'
    )
    return _svg(width, height, body, "Rating history: TrueSkill mu ± 2 sigma per entrant")


def _history_combined(
    histories: list[RatingHistory], colours: list[str], total: int, width: int
) -> str:
    """Every entrant in one panel, with a legend (for many entrants)."""
    n = len(histories)
    label_chars = max([len(_short(h.name)) for h in histories] + [8])
    legend_w = label_chars * 12 * _CHAR_W + 44
    height = max(420, 60 + 16 * n)
    left, right, top, bottom = 58, legend_w + 16, 20, 48
    pw, ph = width - left - right, min(height - top - bottom, 520)
    x_end = max(total, 1)
    lo, hi = _history_range(histories)

    def sx(x):
        return left + pw * (x / x_end)

    def sy(y):
        return top + ph * (1.0 - (y - lo) / (hi - lo))

    body = []
    for t in _nice_ticks(lo, hi):
        y = sy(t)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e6e9ed"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
            f"{_tick_label(t)}</text>"
        )
    for t in _nice_ticks(0, x_end, 8):
        if t == int(t):
            body.append(
                f'<text x="{sx(t):.1f}" y="{top + ph + 18}" text-anchor="middle" '
                f'fill="#57606a">{_tick_label(t)}</text>'
            )
    body.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#c9d1d9"/>'
        f'<text x="{left + pw / 2:.1f}" y="{top + ph + 40}" text-anchor="middle" '
        'fill="#1f2328">rated games so far</text>'
        f'<text transform="translate(16 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
        'fill="#1f2328">TrueSkill μ ± 2σ</text>'
    )
    bands, lines = [], []
    for h, colour in zip(histories, colours):
        x, mu, sigma = _steps(h, x_end, 300)
        xs = [sx(v) for v in x]
        upper = _step_points(xs, [sy(v) for v in mu + 2 * sigma], sx(x_end))
        lower = _step_points(xs, [sy(v) for v in mu - 2 * sigma], sx(x_end))
        bands.append(
            f'<polygon points="{" ".join(upper + lower[::-1])}" fill="{colour}" '
            'fill-opacity="0.05"/>'
        )
        lines.append(
            f'<polyline points="{" ".join(_step_points(xs, [sy(v) for v in mu], sx(x_end)))}" '
            f'fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
    body += bands + lines
    lx = left + pw + 18
    for k, (h, colour) in enumerate(zip(histories, colours)):
        y = top + 10 + 16 * k
        body.append(
            f'<rect x="{lx}" y="{y - 8}" width="12" height="9" rx="2" fill="{colour}"/>'
            f'<text x="{lx + 18}" y="{y}" font-family="{_MONO}" font-size="11" fill="#1f2328">'
            f"{_e(_short(h.name))}</text>"
        )
    return _svg(width, height, body, "Rating history: TrueSkill mu ± 2 sigma per entrant")


def matrix_svg(
    names: list[str],
    value: np.ndarray,
    counts: np.ndarray | None = None,
    title: str = "",
) -> str:
    """A heatmap of ``value[i, j]`` (a probability that row i beats column j) with the numbers in
    the cells; with ``counts``, each cell also shows its number of games and empty cells are
    grey."""
    n = len(names)
    cell = 46 if n <= 12 else max(16, int(560 / n))
    show = cell >= 30
    labels = [_short(x) for x in names]
    label_w = max([len(x) for x in labels] + [14]) * 12 * _CHAR_W + 12
    diag = max([len(x) for x in labels] + [4]) * 12 * _CHAR_W * 0.7071 + 12
    left, top = label_w + 8, diag + 28
    width = left + n * cell + diag + 24
    height = top + n * cell + 40
    body = [
        f'<text x="{left - 10:.1f}" y="{top - 10:.1f}" text-anchor="end" fill="#57606a" '
        'font-size="11">row vs column</text>'
    ]
    for i, label in enumerate(labels):
        y = top + (i + 0.5) * cell
        body.append(
            f'<text x="{left - 8:.1f}" y="{y + 4:.1f}" text-anchor="end" font-family="{_MONO}" '
            f'fill="#1f2328">{_e(label)}</text>'
        )
        x = left + (i + 0.5) * cell
        body.append(
            f'<text transform="translate({x + 3:.1f} {top - 6:.1f}) rotate(-45)" '
            f'font-family="{_MONO}" fill="#1f2328">{_e(label)}</text>'
        )
    for i in range(n):
        for j in range(n):
            x, y = left + j * cell, top + i * cell
            cx, cy = x + cell / 2, y + cell / 2
            if i == j:
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" '
                    'fill="#eef1f4"/>'
                )
                continue
            c = int(counts[i, j]) if counts is not None else None
            if c == 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" '
                    'fill="#f6f8fa"/>'
                )
                if show:
                    body.append(
                        f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" '
                        'fill="#8c959f">·</text>'
                    )
                continue
            p = float(value[i, j])
            fill, ink = _fill(p)
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" fill="{fill}"/>'
            )
            if not show:
                continue
            text = f"{100 * p:.0f}%"
            if c is None:
                body.append(
                    f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" fill="{ink}" '
                    f'font-weight="600">{text}</text>'
                )
            else:
                body.append(
                    f'<text x="{cx:.1f}" y="{cy - 1:.1f}" text-anchor="middle" fill="{ink}" '
                    f'font-weight="600">{text}</text>'
                    f'<text x="{cx:.1f}" y="{cy + 12:.1f}" text-anchor="middle" fill="{ink}" '
                    f'font-size="9.5" fill-opacity="0.85">n={c}</text>'
                )
    # cell borders and frame
    for k in range(n + 1):
        body.append(
            f'<line x1="{left:.1f}" y1="{top + k * cell:.1f}" x2="{left + n * cell:.1f}" '
            f'y2="{top + k * cell:.1f}" stroke="#ffffff" stroke-width="1.5"/>'
            f'<line x1="{left + k * cell:.1f}" y1="{top:.1f}" x2="{left + k * cell:.1f}" '
            f'y2="{top + n * cell:.1f}" stroke="#ffffff" stroke-width="1.5"/>'
        )
    # colour key
    kx, ky, kw = left, top + n * cell + 16, min(240, max(120, n * cell))
    for s in range(48):
        fill, _ = _fill(s / 47)
        body.append(
            f'<rect x="{kx + s * kw / 48:.2f}" y="{ky:.1f}" width="{kw / 48 + 0.6:.2f}" '
            f'height="8" fill="{fill}"/>'
        )
    body.append(
        f'<text x="{kx:.1f}" y="{ky + 21:.1f}" fill="#57606a" font-size="11">0%</text>'
        f'<text x="{kx + kw / 2:.1f}" y="{ky + 21:.1f}" text-anchor="middle" fill="#57606a" '
        'font-size="11">50%</text>'
        f'<text x="{kx + kw:.1f}" y="{ky + 21:.1f}" text-anchor="end" fill="#57606a" '
        'font-size="11">100%</text>'
    )
    return _svg(width, height, body, title)


def bradley_terry_svg(fit: BradleyTerry, colours: dict[str, str], width: int = 600) -> str:
    """Point estimates and bootstrap intervals, strongest first."""
    order = [i for i in fit.order()]
    n = len(order)
    labels = [_short(fit.names[i]) for i in order]
    label_w = max([len(x) for x in labels] + [4]) * 12 * _CHAR_W + 16
    left, right, top, row = label_w + 8, 24, 12, 30
    height = top + n * row + 50
    pw = width - left - right
    vals = np.r_[fit.elo, fit.low, fit.high]
    vals = vals[np.isfinite(vals)]
    lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (-100.0, 100.0)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.05 * (hi - lo or 200.0)
    lo, hi = lo - pad, hi + pad

    def sx(v):
        return left + pw * (v - lo) / (hi - lo)

    body = []
    for t in _nice_ticks(lo, hi, 7):
        x = sx(t)
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + n * row}" '
            + ('stroke="#8c959f" stroke-dasharray="4 3"/>' if t == 0 else 'stroke="#eceff2"/>')
            + f'<text x="{x:.1f}" y="{top + n * row + 18}" text-anchor="middle" fill="#57606a">'
            f"{_tick_label(t)}</text>"
        )
    axis = "Elo, relative to " + (fit.anchor if fit.anchor else "the mean")
    body.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="#1f2328">'
        f"{_e(axis)}</text>"
    )
    for k, (i, label) in enumerate(zip(order, labels)):
        y = top + (k + 0.5) * row
        colour = colours.get(fit.names[i], "#4e79a7")
        if k % 2 == 0:
            body.append(
                f'<rect x="{left}" y="{y - row / 2:.1f}" width="{pw}" height="{row}" '
                'fill="#f6f8fa"/>'
            )
        body.append(
            f'<text x="{left - 8:.1f}" y="{y + 4:.1f}" text-anchor="end" font-family="{_MONO}" '
            f'fill="#1f2328">{_e(label)}</text>'
        )
        if fit.games[i] == 0:
            body.append(
                f'<text x="{left + 8:.1f}" y="{y + 4:.1f}" fill="#8c959f" font-size="11">'
                "no games</text>"
            )
            continue
        if math.isfinite(fit.low[i]) and math.isfinite(fit.high[i]):
            body.append(
                f'<line x1="{sx(fit.low[i]):.1f}" y1="{y:.1f}" x2="{sx(fit.high[i]):.1f}" '
                f'y2="{y:.1f}" stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
            )
        body.append(
            f'<circle cx="{sx(fit.elo[i]):.1f}" cy="{y:.1f}" r="5" fill="#ffffff" '
            f'stroke="{colour}" stroke-width="2.5"/>'
        )
    return _svg(width, height, body, "Bradley-Terry ratings with bootstrap 95% intervals")


# --------------------------------------------------------------------------------------------
# CSV files


def _games_frame(games: Sequence[Mapping], log: RatedLog):
    import pandas as pd

    rated = set(log.ids.tolist())
    rows = []
    for g in _sorted_by_id(games):
        row = {key: g.get(key) for key in GAME_FIELDS}
        for key in ("options", "sides"):
            if row[key] is not None and not isinstance(row[key], str):
                row[key] = json.dumps(row[key], sort_keys=True)
        row["rated"] = g.get("id") in rated
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*GAME_FIELDS, "rated"])
    for key in ("id", "seed", "score_a", "score_b", "frames"):
        frame[key] = pd.array(frame[key].tolist(), dtype="Int64")
    frame["wall_s"] = pd.to_numeric(frame["wall_s"], errors="coerce").astype("float64")
    frame["rated"] = frame["rated"].astype(bool)
    return frame


def _entrants_frame(rows: list[Standing], fit: BradleyTerry):
    import pandas as pd

    index = {name: i for i, name in enumerate(fit.names)}
    records = []
    for r in rows:
        i = index[r.name]
        records.append(
            {
                "rank": r.rank,
                "name": r.name,
                "mu": r.mu,
                "sigma": r.sigma,
                "conservative": r.conservative,
                "games": r.games,
                "wins": r.wins,
                "draws": r.draws,
                "losses": r.losses,
                "win_rate": r.win_rate,
                "last_played": r.last_played,
                "pinned": r.pinned,
                "errors": r.errors,
                "bt_elo": float(fit.elo[i]),
                "bt_low": float(fit.low[i]),
                "bt_high": float(fit.high[i]),
            }
        )
    columns = [
        "rank", "name", "mu", "sigma", "conservative", "games", "wins", "draws", "losses",
        "win_rate", "last_played", "pinned", "errors", "bt_elo", "bt_low", "bt_high",
    ]  # fmt: skip
    frame = pd.DataFrame(records, columns=columns)
    frame["win_rate"] = pd.to_numeric(frame["win_rate"], errors="coerce").astype("float64")
    return frame


# --------------------------------------------------------------------------------------------
# The page

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #eef1f4; --bg: #f4f6f8;
  --accent: #0969da; --mono: %(mono)s; }
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--fg); font: 15px/1.5 %(sans)s; }
header { background: linear-gradient(135deg, #182230 0%%, #2b3a52 100%%); color: #fff;
  padding: 30px 0 26px; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 28px; }
header .kicker { text-transform: uppercase; letter-spacing: .12em; font-size: 12px;
  color: #9fb3c8; margin: 0 0 4px; }
header h1 { margin: 0; font-size: 30px; font-weight: 700; letter-spacing: -.01em; }
header h1 code { font-size: 28px; }
header p.sub { margin: 6px 0 0; color: #c9d6e3; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
  margin-top: 22px; }
.tile { background: rgba(255, 255, 255, .08); border: 1px solid rgba(255, 255, 255, .14);
  border-radius: 10px; padding: 10px 14px; }
.tile b { display: block; font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.tile span { font-size: 12px; color: #b8c7d6; text-transform: uppercase; letter-spacing: .06em; }
.tile.warn b { color: #ffb4a8; }
nav { position: sticky; top: 0; z-index: 2; background: rgba(255, 255, 255, .94);
  border-bottom: 1px solid var(--line); }
nav .wrap { display: flex; flex-wrap: wrap; gap: 4px 18px; padding-top: 9px;
  padding-bottom: 9px; }
nav a { color: var(--muted); text-decoration: none; font-size: 14px; font-weight: 500; }
nav a:hover { color: var(--accent); }
main { padding-bottom: 40px; }
section { scroll-margin-top: 52px; background: #fff; border: 1px solid var(--line);
  border-radius: 12px; padding: 22px 26px 24px; margin: 22px 0;
  box-shadow: 0 1px 3px rgba(31, 35, 40, .04); }
h2 { font-size: 20px; margin: 0 0 4px; letter-spacing: -.005em; }
h2 small { font-weight: 500; color: var(--muted); font-size: 14px; margin-left: 8px; }
p.lead { margin: 0 0 16px; color: var(--muted); font-size: 14px; max-width: 920px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%%; font-variant-numeric: tabular-nums; }
th { text-align: left; font-size: 13px; font-weight: 600; color: var(--muted);
  padding: 8px 10px;
  border-bottom: 2px solid var(--line); white-space: nowrap; }
td { padding: 8px 10px; border-bottom: 1px solid var(--soft); white-space: nowrap; }
tbody tr:hover td { background: #f6f8fa; }
th.num, td.num { text-align: right; }
td.rank { font-weight: 700; font-size: 16px; width: 3.5em; }
td.rank .tie { color: var(--muted); font-weight: 500; font-size: 12px; margin-left: 2px; }
code, .spec { font-family: var(--mono); font-size: 13.5px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px;
  margin-right: 8px; vertical-align: 0; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 1px 7px;
  border-radius: 999px; background: #ddf4ff; color: #0550ae; margin-left: 8px;
  vertical-align: 1px; }
.badge.warn { background: #ffebe9; color: #a40e26; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.strong { font-weight: 650; }
td.cons { font-weight: 650; }
td.bar { padding-top: 4px; padding-bottom: 4px; }
td.bar svg { display: block; }
.wdl .w { color: #1a7f37; } .wdl .d { color: var(--muted); } .wdl .l { color: #cf222e; }
figure { margin: 6px 0 0; text-align: center; }
figure img { max-width: 100%%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.bt { display: grid; grid-template-columns: minmax(0, auto) minmax(0, 1fr); gap: 28px;
  align-items: start; }
@media (max-width: 900px) { .bt { grid-template-columns: minmax(0, 1fr); } }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 20px; }
.grid2 > div h3 { font-size: 15px; margin: 0 0 2px; }
.grid2 > div p { margin: 0 0 8px; color: var(--muted); font-size: 13.5px; }
.note { background: #f6f8fa; border-left: 3px solid #8c959f; padding: 8px 12px;
  border-radius: 0 6px 6px 0; font-size: 13.5px; color: var(--muted); margin: 14px 0 0; }
details summary { cursor: pointer; font-weight: 600; color: var(--accent); margin: 4px 0 10px; }
a { color: var(--accent); }
td.err { white-space: normal; max-width: 520px; font-family: var(--mono); font-size: 12.5px;
  color: #a40e26; }
td.win .spec { font-weight: 700; }
th.score, td.score { text-align: center; }
footer { color: var(--muted); font-size: 13px; padding: 8px 0 40px; }
footer p { margin: 4px 0; }
"""


def _link(log_path, out_dir: Path) -> str:
    if not log_path:
        return '<span class="muted">—</span>'
    path = Path(str(log_path))
    try:
        target = path if path.is_absolute() else Path.cwd() / path
        rel = os.path.relpath(target, out_dir.resolve())
        href = quote(Path(rel).as_posix())
    except ValueError:  # another drive
        href = path.resolve().as_uri()
    return f'<a href="{_e(href)}" title="{_e(str(log_path))}">{_e(path.name)}</a>'


def _bar(lo: float, hi: float, mu: float, cons: float, colour: str, span, w=130, h=18) -> str:
    a, b = span

    def sx(v):
        return 4 + (w - 8) * (min(max(v, a), b) - a) / (b - a)

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" aria-hidden="true">'
        f'<line x1="4" y1="{h / 2}" x2="{w - 4}" y2="{h / 2}" stroke="#eef1f4" stroke-width="6" '
        f'stroke-linecap="round"/>'
        f'<line x1="{sx(lo):.1f}" y1="{h / 2}" x2="{sx(hi):.1f}" y2="{h / 2}" stroke="{colour}" '
        f'stroke-opacity="0.45" stroke-width="6" stroke-linecap="round"/>'
        f'<line x1="{sx(cons):.1f}" y1="3" x2="{sx(cons):.1f}" y2="{h - 3}" stroke="#1f2328" '
        f'stroke-width="1.5"/>'
        f'<circle cx="{sx(mu):.1f}" cy="{h / 2}" r="4" fill="{colour}" stroke="#fff" '
        f'stroke-width="1.5"/></svg>'
    )


def _as_rating(value) -> Rating:
    return value if isinstance(value, Rating) else Rating(float(value[0]), float(value[1]))


def _model_line(model: RatingModel) -> str:
    if isinstance(model, TrueSkill):
        return (
            f"TrueSkill (exact 1v1 update) with μ₀ = {model.mu:g}, σ₀ = {model.sigma:.4g}, "
            f"β = {model.beta:.4g}, τ = {model.tau:.4g}, "
            f"draw probability {model.draw_probability:g}"
        )
    return _e(repr(model))


def _page(
    *,
    name: str,
    games: list[Mapping],
    log: RatedLog,
    rows: list[Standing],
    fit: BradleyTerry,
    colours: dict[str, str],
    model: RatingModel,
    pinned: Mapping | None,
    out_dir: Path,
    generated: datetime,
    max_games_listed: int,
    images: dict[str, tuple[int, int]],
) -> str:
    envs = sorted({str(g.get("env")) for g in games if g.get("env")})
    draws = int(np.sum(log.outcome == 0))
    errored = [g for g in games if g.get("status") != "ok"]
    times = [t for t in log.finished_at if t]
    span = f"{_when(min(times))} – {_when(max(times))}" if times else "no games yet"
    e = _e

    out: list[str] = []
    w = out.append
    w("<!DOCTYPE html>")
    w('<html lang="en">')
    w("<head>")
    w('<meta charset="utf-8">')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">')
    w('<link rel="icon" href="data:,">')
    w(f"<title>{e(name)} · Arena leaderboard</title>")
    w(f"<style>{_CSS % {'mono': _MONO, 'sans': _SANS}}</style>")
    w("</head>")
    w("<body>")
    w("<header><div class=\"wrap\">")
    w('<p class="kicker">Arena leaderboard</p>')
    w(f"<h1>{e(name)}</h1>")
    env_text = ", ".join(f"<code>{e(x)}</code>" for x in envs) or "no env yet"
    w(f'<p class="sub">{env_text} · {e(span)}</p>')
    w('<div class="tiles">')
    tiles = [
        (len(log.names), "entrants", ""),
        (len(log), "rated games", ""),
        (draws, "draws", ""),
        (len(errored), "errored games", " warn" if errored else ""),
    ]
    if log.n_left_out:
        tiles.append((log.n_left_out, "left out", ""))
    for value, label, cls in tiles:
        w(f'<div class="tile{cls}"><b>{value:,}</b><span>{e(label)}</span></div>')
    w("</div></div></header>")
    w('<nav><div class="wrap">')
    for anchor, label in (
        ("standings", "Standings"),
        ("history", "Rating history"),
        ("matrices", "Win matrices"),
        ("bradley-terry", "Bradley-Terry"),
        ("errors", "Errored games"),
        ("games", "Games"),
    ):
        w(f'<a href="#{anchor}">{label}</a>')
    w("</div></nav>")
    w('<main class="wrap">')

    # ---- standings
    w('<section id="standings">')
    w("<h2>Standings <small>TrueSkill, online</small></h2>")
    w(
        '<p class="lead">Ranks tie where the 95% '
        f"intervals μ ± {INTERVAL_Z}σ overlap: an entrant's rank is one plus the number of "
        "entrants whose whole interval lies above its own, so a new or rarely played entrant (wide "
        "interval) shares a high rank until its games place it. Within a rank, rows sort by the "
        "conservative score μ − 3σ. Win rate counts a draw as half a win. Errored games are never rated.</p>"
    )
    span_lo = min([r.low for r in rows] + [r.conservative for r in rows] or [0.0])
    span_hi = max([r.high for r in rows] or [1.0])
    if span_hi <= span_lo:
        span_hi = span_lo + 1.0
    ranks = [r.rank for r in rows]
    w('<div class="scroll"><table class="standings">')
    w(
        "<thead><tr><th>Rank</th><th>Entrant</th><th class=\"num\">μ</th>"
        '<th class="num">σ</th><th class="num">μ − 3σ</th><th>95% interval</th>'
        '<th class="num">Games</th><th class="num">W–D–L</th><th class="num">Win rate</th>'
        "<th>Last played (UTC)</th></tr></thead><tbody>"
    )
    for r in rows:
        tie = '<span class="tie">=</span>' if ranks.count(r.rank) > 1 else ""
        badges = ""
        if r.pinned:
            badges += '<span class="badge" title="rating held fixed">pinned</span>'
        if r.errors:
            badges += (
                f'<span class="badge warn" title="errored games, not rated">{r.errors} '
                f"error{'s' if r.errors != 1 else ''}</span>"
            )
        colour = colours[r.name]
        bar = _bar(r.low, r.high, r.mu, r.conservative, colour, (span_lo, span_hi))
        w(
            f'<tr><td class="rank">{r.rank}{tie}</td>'
            f'<td><span class="swatch" style="background:{colour}"></span>'
            f'<span class="spec">{e(r.name)}</span>{badges}</td>'
            f'<td class="num">{_num(r.mu)}</td><td class="num">{_num(r.sigma)}</td>'
            f'<td class="num cons">{_num(r.conservative)}</td>'
            f'<td class="bar">{bar}</td>'
            f'<td class="num">{r.games:,}</td>'
            f'<td class="num wdl"><span class="w">{r.wins}</span>–'
            f'<span class="d">{r.draws}</span>–<span class="l">{r.losses}</span></td>'
            f'<td class="num">{_pct(r.win_rate)}</td>'
            f"<td>{e(_when(r.last_played, suffix=False))}"
            + (
                f' <span class="muted small">· {e(humanize_age(r.last_played_age_s))}</span>'
                if r.last_played
                else ""
            )
            + "</td></tr>"
        )
    w("</tbody></table></div>")
    pins = ", ".join(
        f"<code>{e(k)}</code> at μ = {r.mu:g}, σ = {r.sigma:g}"
        for k, r in ((k, _as_rating(v)) for k, v in (pinned or {}).items())
    )
    w(
        f'<p class="note">Model: {_model_line(model)}. Games are rated one by one in the order '
        "they were recorded, so these numbers depend on that order; the Bradley-Terry fit below "
        "does not."
        + (f" Pinned (held fixed, the reference of the scale): {pins}." if pins else "")
        + " In the interval column the dot is μ, the bar μ ± 1.96σ and the tick μ − 3σ.</p>"
    )
    w("</section>")

    # ---- history
    iw, ih = images["history.svg"]
    w('<section id="history">')
    w("<h2>Rating history <small>μ ± 2σ per entrant</small></h2>")
    w(
        '<p class="lead">Each line is an entrant\'s TrueSkill μ after every rated game, the band '
        "μ ± 2σ. The x axis counts rated games in the whole leaderboard; a line only moves when "
        "its entrant plays.</p>"
    )
    w(
        f'<figure><img src="history.svg" width="{iw}" height="{ih}" '
        'alt="Rating history: TrueSkill mu plus or minus 2 sigma per entrant over rated games">'
        "</figure>"
    )
    w("</section>")

    # ---- matrices
    w('<section id="matrices">')
    w("<h2>Win matrices <small>row against column</small></h2>")
    w('<div class="grid2">')
    pw_, ph_ = images["win_probability.svg"]
    w(
        "<div><h3>Predicted win probability</h3>"
        "<p>P(row beats column) = Φ((μ<sub>row</sub> − μ<sub>col</sub>) / "
        "√(2β² + σ<sub>row</sub>² + σ<sub>col</sub>²)), from the current TrueSkill "
        "ratings.</p>"
        f'<figure><img src="win_probability.svg" width="{pw_}" height="{ph_}" '
        'alt="Predicted win-probability matrix"></figure></div>'
    )
    ow, oh = images["observed.svg"]
    w(
        "<div><h3>Observed win rate</h3>"
        "<p>What the row entrant scored against the column entrant (a draw counts half), and "
        "the number of rated games <i>n</i>; grey cells have no games.</p>"
        f'<figure><img src="observed.svg" width="{ow}" height="{oh}" '
        'alt="Observed win-rate matrix with game counts"></figure></div>'
    )
    w("</div></section>")

    # ---- Bradley-Terry
    bw, bh = images["bradley_terry.svg"]
    w('<section id="bradley-terry">')
    w("<h2>Bradley-Terry <small>order-independent fit, bootstrap 95% intervals</small></h2>")
    ref = f"<code>{e(fit.anchor)}</code> (pinned) at 0" if fit.anchor else "the mean at 0"
    w(
        '<p class="lead">The table above is <b>online TrueSkill</b>, which depends on the order '
        "of the games. This is a <b>Bradley-Terry</b> model fitted to all rated games at once, "
        "so the order does not matter: P(i beats j) = 1 / (1 + 10<sup>−(R<sub>i</sub> − "
        "R<sub>j</sub>)/400</sup>), on the Elo scale (400 points = 10:1 odds), with "
        f"{ref}. A draw counts as half a win for each side; a weak N(0, "
        f"{fit.prior_sd * ELO_PER_LOGIT:.0f}²) prior keeps undefeated entrants finite. "
        f"Intervals are the 2.5th and 97.5th percentiles over {fit.n_bootstrap} bootstrap "
        f"resamplings of the games (seed {fit.seed}).</p>"
    )
    w('<div class="bt"><div class="scroll"><table>')
    w(
        '<thead><tr><th>#</th><th>Entrant</th><th class="num">Rating</th>'
        '<th class="num">95% interval</th><th class="num">Games</th></tr></thead><tbody>'
    )
    for k, i in enumerate(fit.order(), 1):
        nm = fit.names[i]
        played = fit.games[i] > 0
        interval = f"{_num(fit.low[i], 0)} … {_num(fit.high[i], 0)}" if played else "—"
        rating = _num(fit.elo[i], 0) if played else "—"
        w(
            f'<tr><td class="muted">{k}</td><td><span class="swatch" '
            f'style="background:{colours[nm]}"></span><span class="spec">{e(nm)}</span></td>'
            f'<td class="num strong">{rating}</td><td class="num">{interval}</td>'
            f'<td class="num">{int(fit.games[i]):,}</td></tr>'
        )
    w("</tbody></table></div>")
    w(
        f'<figure><img src="bradley_terry.svg" width="{bw}" height="{bh}" '
        'alt="Bradley-Terry ratings with bootstrap 95% intervals"></figure></div>'
    )
    w("</section>")

    # ---- errors
    w('<section id="errors">')
    w(f"<h2>Errored games <small>{len(errored):,}, never rated</small></h2>")
    if errored:
        w(
            '<p class="lead">Games that failed (emulator crash, agent exception, timeout). They '
            "count for nobody: not as wins, not as losses, not in any rating.</p>"
        )
        w(
            '<div class="scroll"><table><thead><tr><th class="num">Id</th>'
            "<th>Finished (UTC)</th><th>A</th><th>B</th><th>Error</th><th>Log</th></tr></thead>"
            "<tbody>"
        )
        for g in errored[-max_games_listed:][::-1]:
            msg = str(g.get("error") or "")
            short = msg if len(msg) <= 240 else msg[:239] + "…"
            w(
                f'<tr><td class="num">{e(g.get("id", ""))}</td>'
                f"<td>{e(_when(g.get('finished_at'), suffix=False))}</td>"
                f'<td class="spec">{e(g.get("a"))}</td><td class="spec">{e(g.get("b"))}</td>'
                f'<td class="err" title="{e(msg)}">{e(short)}</td>'
                f"<td>{_link(g.get('log_path'), out_dir)}</td></tr>"
            )
        w("</tbody></table></div>")
        if len(errored) > max_games_listed:
            w(
                f'<p class="muted small">The latest {max_games_listed:,} are listed here; '
                '<a href="games.csv">games.csv</a> has all of them.</p>'
            )
    else:
        w('<p class="lead">None: every game finished.</p>')
    w("</section>")

    # ---- games
    ok = [g for g in games if g.get("status") == "ok"]
    shown = ok[-max_games_listed:][::-1]
    w('<section id="games">')
    w(f"<h2>Games <small>{len(ok):,} finished, newest first</small></h2>")
    w(
        '<p class="lead">Every finished game with its score (the winner in bold) and a link to '
        'its log. <a href="games.csv">games.csv</a> holds all games, errored ones included, and '
        '<a href="entrants.csv">entrants.csv</a> the standings.</p>'
    )
    head = (
        '<div class="scroll"><table class="games"><thead><tr><th class="num">Id</th>'
        '<th>Finished (UTC)</th><th class="num">A</th><th class="score">Score</th><th>B</th>'
        '<th class="num">Seed</th><th class="num">Frames</th><th class="num">Wall</th>'
        "<th>Log</th></tr></thead><tbody>"
    )
    first, rest = shown[:_GAMES_OPEN], shown[_GAMES_OPEN:]
    if first:
        w(head)
        for g in first:
            w(_game_row(g, out_dir))
        w("</tbody></table></div>")
    if rest:
        older = f"{len(rest):,} older game{'s' if len(rest) != 1 else ''}"
        w(f"<details><summary>Show {older}</summary>{head}")
        for g in rest:
            w(_game_row(g, out_dir))
        w("</tbody></table></div></details>")
    if len(shown) < len(ok):
        w(
            f'<p class="muted small">The latest {len(shown):,} games are listed here; '
            '<a href="games.csv">games.csv</a> has all of them.</p>'
        )
    if not ok:
        w('<p class="muted">No finished games yet.</p>')
    w("</section>")
    w("</main>")
    w('<footer><div class="wrap">')
    w(
        f"<p>Generated by Arena on {e(generated.strftime('%Y-%m-%d %H:%M'))} UTC from "
        f"{len(games):,} recorded games. Files: <a href=\"entrants.csv\">entrants.csv</a>, "
        '<a href="games.csv">games.csv</a>.</p>'
    )
    w(f"<p>{e(TRADEMARK)}</p>")
    w("</div></footer>")
    w("</body>")
    w("</html>")
    return "\n".join(out) + "\n"


_GAMES_OPEN = 12  # games listed before "show older games"


def _game_row(g: Mapping, out_dir: Path) -> str:
    e = _e
    winner = g.get("winner")
    sa, sb = g.get("score_a"), g.get("score_b")
    score = f"{sa if sa is not None else '—'} – {sb if sb is not None else '—'}"
    if winner == "draw":
        score += ' <span class="muted small">draw</span>'
    seat = g.get("a_seat")
    b_seat = next((x for x in (g.get("sides") or {}) if x != seat), None)
    a_cls = "num win" if winner == "a" else "num"
    b_cls = ' class="win"' if winner == "b" else ""
    frames, wall = g.get("frames"), g.get("wall_s")
    a_seat = f'<span class="muted small">{e(seat)}</span> ' if seat else ""
    b_seat_html = f' <span class="muted small">{e(b_seat)}</span>' if b_seat else ""
    return (
        f'<tr><td class="num muted">{e(g.get("id", ""))}</td>'
        f"<td>{e(_when(g.get('finished_at'), suffix=False))}</td>"
        f'<td class="{a_cls}">{a_seat}<span class="spec">{e(g.get("a"))}</span></td>'
        f'<td class="score">{score}</td>'
        f'<td{b_cls}><span class="spec">{e(g.get("b"))}</span>{b_seat_html}</td>'
        f'<td class="num">{e(g.get("seed", ""))}</td>'
        f'<td class="num">{f"{frames:,}" if isinstance(frames, int) else "—"}</td>'
        f'<td class="num">{f"{wall:.1f} s" if isinstance(wall, (int, float)) else "—"}</td>'
        f"<td>{_link(g.get('log_path'), out_dir)}</td></tr>"
    )


def _size(svg: str) -> tuple[int, int]:
    head = svg[: svg.index(">")]
    width = head.split('width="', 1)[1].split('"', 1)[0]
    height = head.split('height="', 1)[1].split('"', 1)[0]
    return int(float(width)), int(float(height))


def write_report(
    out_dir: str | os.PathLike,
    name: str,
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
    *,
    now=None,
    n_bootstrap: int = 200,
    seed: int = 0,
    max_games_listed: int = 1000,
) -> Path:
    """Write the leaderboard ``name``'s report into ``out_dir`` (created if missing; the files in
    :data:`FILES` are overwritten) and return the path of its ``index.html``.

    ``games``, ``entrants``, ``pinned`` and ``model`` mean what they mean in
    :mod:`arena.ratings.standings`. ``now`` dates the page and the "last played" ages (default: the
    current time); the Bradley-Terry bootstrap uses ``n_bootstrap`` replicates seeded by
    ``seed``; the page lists at most ``max_games_listed`` games (the CSV has all of them).
    """
    import pandas as pd  # noqa: F401  (fail early if pandas is missing)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model or TrueSkill()
    games = _sorted_by_id(games)
    log = rated_log(games, entrants)
    if now is None:
        generated = datetime.now(timezone.utc)
    elif isinstance(now, str):
        generated = datetime.fromisoformat(now)
    elif isinstance(now, (int, float)):
        generated = datetime.fromtimestamp(now, timezone.utc)
    else:
        generated = now
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=timezone.utc)
    generated = generated.astimezone(timezone.utc)

    rows = standings(log, pinned=pinned, model=model, now=generated)
    order = [log.names.index(r.name) for r in rows]
    palette = _colours(len(rows))
    colours = {r.name: c for r, c in zip(rows, palette)}
    ratings = _ratings(log, pinned, model)
    prob = np.asarray(model.win_probability_matrix(ratings.mu, ratings.sigma))
    wins, counts = _pair_matrices(len(log.names), log.a, log.b, log.outcome)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(counts > 0, wins / np.maximum(counts, 1), np.nan)
    history = rating_history(log, pinned=pinned, model=model)
    fit = bradley_terry(log, pinned=pinned, n_bootstrap=n_bootstrap, seed=seed)

    ix = np.ix_(order, order)
    ordered_names = [log.names[i] for i in order]
    svgs = {
        "history.svg": history_svg([history[n] for n in ordered_names], palette, len(log)),
        "win_probability.svg": matrix_svg(
            ordered_names, prob[ix], title="Predicted probability that the row beats the column"
        ),
        "observed.svg": matrix_svg(
            ordered_names,
            rate[ix],
            counts[ix].astype(np.int64),
            title="Observed win rate of the row against the column, with game counts",
        ),
        "bradley_terry.svg": bradley_terry_svg(fit, colours),
    }
    for file, text in svgs.items():
        (out / file).write_text(text, encoding="utf-8")
    _games_frame(games, log).to_csv(out / "games.csv", index=False)
    _entrants_frame(rows, fit).to_csv(out / "entrants.csv", index=False)
    page = _page(
        name=name,
        games=games,
        log=log,
        rows=rows,
        fit=fit,
        colours=colours,
        model=model,
        pinned=pinned,
        out_dir=out,
        generated=generated,
        max_games_listed=max_games_listed,
        images={k: _size(v) for k, v in svgs.items()},
    )
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return index


# Public names for the SVG helpers that other hand-drawn plots share (arena.training.curves).
escape = _e
nice_ticks = _nice_ticks
tick_label = _tick_label
series_colours = _colours
svg_document = _svg
svg_size = _size
