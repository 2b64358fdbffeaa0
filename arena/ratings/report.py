"""A leaderboard's HTML report and CSV files, from its game log.

:func:`write_report` writes into one folder:

* ``index.html``: a self-contained page (no scripts, no external CSS, fonts or CDN) with the
  standings table (TrueSkill, online), the rating history, the predicted and the observed
  win-rate matrices, an order-independent Bradley-Terry fit with bootstrap intervals, the
  errored games, and every game with a link to its log;
* ``history.svg``, ``win_probability.svg``, ``observed.svg``, ``bradley_terry.svg``: the plots,
  drawn with matplotlib (:mod:`arena.plotting`), referenced by the page;
* ``entrants.csv`` and ``games.csv``, written with pandas.

Plots and tables name entrants by short labels (:func:`arena.ratings.labels.entrant_labels`:
``rac@102k`` for ``experiments/rac/snapshots/000000102400.pt``); the full spec is in each
table cell's tooltip and in the CSV files.

TrueSkill is a Microsoft trademark, used here under its non-commercial terms.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import numpy as np

from arena.games.record import NAMES, GameRecord, as_record
from arena.ratings.labels import entrant_labels
from arena.ratings.standings import (
    ELO_PER_LOGIT,
    INTERVAL_Z,
    BradleyTerry,
    RatedLog,
    RatingHistory,
    Standing,
    _pair_matrices,
    _ratings,
    bradley_terry,
    humanize_age,
    rated_log,
    rating_history,
    standings,
)
from arena.ratings.trueskill import Rating, RatingModel, TrueSkill

__all__ = ["FILES", "entrant_labels", "write_report"]

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

TRADEMARK = "TrueSkill is a Microsoft trademark; Arena uses the TrueSkill model under its non-commercial terms."

_MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"
_SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"


# --------------------------------------------------------------------------------------------
# Formatting


def _e(value) -> str:
    return html.escape(str(value), quote=True)


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
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if suffix else "")


# --------------------------------------------------------------------------------------------
# Plots (matplotlib, through arena.plotting)

_DIVERGING = [  # P(row beats column): red (loses) .. near white .. blue (wins)
    (0.0, "#b2182b"),
    (0.25, "#ef8a62"),
    (0.5, "#f7f7f7"),
    (0.75, "#67a9cf"),
    (1.0, "#2166ac"),
]
_EMPTY_CELL = "#f6f8fa"
_DIAGONAL = "#eef1f4"
_STEP_POINTS = 400  # points kept of an entrant's own history line; others' lines get fewer


def _history_steps(h: RatingHistory, total: int, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, mu, sigma of an entrant's history as a step function (``where="post"``) from 0 to
    ``total``, thinned to about ``keep`` steps."""
    from arena.plotting import thin

    x = np.r_[0, h.game_index, total].astype(np.float64)
    mu = np.r_[h.start.mu, h.mu, h.mu[-1] if len(h.mu) else h.start.mu]
    sigma = np.r_[h.start.sigma, h.sigma, h.sigma[-1] if len(h.sigma) else h.start.sigma]
    k = thin(x, keep)
    return x[k], mu[k], sigma[k]


def _history_range(histories: list[RatingHistory]) -> tuple[float, float]:
    lo = min([h.start.mu - 2 * h.start.sigma for h in histories] or [0.0])
    hi = max([h.start.mu + 2 * h.start.sigma for h in histories] or [1.0])
    for h in histories:
        if len(h.mu):
            lo = min(lo, float(np.min(h.mu - 2 * h.sigma)))
            hi = max(hi, float(np.max(h.mu + 2 * h.sigma)))
    pad = 0.04 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def history_figure(histories: list[RatingHistory], colours: list[str], labels: list[str], total: int, width: int = 980):
    """mu (line) and mu ± 2 sigma (band) per entrant, as step functions over rated games.

    Up to 24 entrants: small multiples, one panel per entrant (in the given order) on shared
    axes, with the other entrants' mu in grey behind. More: one panel with every line and a
    legend.
    """
    from arena import plotting

    n = len(histories)
    x_end = max(total, 1)
    lo, hi = _history_range(histories)
    if n > 24:
        with plotting.figure(width, max(440, 70 + 15 * n)) as fig:
            ax = fig.add_subplot()
            for h, colour, label in zip(histories, colours, labels):
                x, mu, sigma = _history_steps(h, x_end, 300)
                # bands from each entrant's first game: before it, everyone's is the same prior
                played = x >= (h.game_index[0] if len(h.game_index) else x_end)
                ax.fill_between(x, mu - 2 * sigma, mu + 2 * sigma, where=played, step="post", color=colour,
                                alpha=0.05, lw=0)  # fmt: skip
                ax.step(x, mu, where="post", color=colour, lw=1.3, label=label)
            ax.set(xlim=(0, x_end), ylim=(lo, hi), xlabel="rated games so far", ylabel="TrueSkill μ ± 2σ")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=1 if n <= 40 else 2, fontsize=7.5)
        return fig

    cols = 1 if n <= 1 else 2 if n <= 4 else 3 if n <= 9 else 4
    rows = max(1, math.ceil(n / cols))
    panel = 190 if cols > 1 else 300
    with plotting.figure(width, 36 + rows * panel) as fig:
        axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
        others = [_history_steps(h, x_end, 150)[:2] for h in histories]
        titles, finals = [], []  # each panel's label, and its final mu ± 2 sigma right of it
        for k, (h, colour, label) in enumerate(zip(histories, colours, labels)):
            ax = axes[k]
            for j, (xo, muo) in enumerate(others):
                if j != k:
                    ax.step(xo, muo, where="post", color=plotting.FAINT, lw=0.8)
            x, mu, sigma = _history_steps(h, x_end, _STEP_POINTS)
            ax.fill_between(x, mu - 2 * sigma, mu + 2 * sigma, step="post", color=colour, alpha=0.22, lw=0)
            ax.step(x, mu, where="post", color=colour, lw=1.9)
            titles.append(ax.annotate(
                label, (0, 1), xycoords="axes fraction", xytext=(0, 6), textcoords="offset points",
                va="baseline", fontsize=10, fontweight="bold", color=colour if n > 1 else plotting.INK,
            ))  # fmt: skip
            finals.append(ax.annotate(
                f"μ {_num(float(mu[-1]))} ± {_num(2 * float(sigma[-1]))}", (1, 1), xycoords="axes fraction",
                xytext=(0, 6), textcoords="offset points", ha="right", va="baseline", fontsize=8,
                color=plotting.MUTED,
            ))  # fmt: skip
            if k + cols >= n:  # the lowest panel of its column: show its x labels
                ax.xaxis.set_tick_params(labelbottom=True)
        for ax in axes[n:]:
            ax.set_visible(False)
        axes[0].set(xlim=(0, x_end), ylim=(lo, hi))
        axes[0].xaxis.set_major_locator(_integer_locator(5 if cols > 2 else 7))
        fig.supxlabel("rated games so far", fontsize=9)
        fig.supylabel("TrueSkill μ ± 2σ", fontsize=9)
        _make_room_for_titles(fig, titles, finals, cols)
    return fig


def _make_room_for_titles(fig, titles, finals, cols: int) -> None:
    """A label longer than its panel is set smaller (down to 7 points); where a label is too
    long to share the line with its final μ ± 2σ, that value moves inside the panel, to its
    lower right corner."""
    renderer = fig.canvas.get_renderer()
    room = (fig.get_figwidth() * fig.dpi - 80) / cols - 16  # a panel's width, about
    for title in titles:  # before the layout, which would make room for too long a label
        width = title.get_window_extent(renderer).width
        if width > room:
            title.set_fontsize(max(7.0, title.get_fontsize() * room / width))
    fig.draw_without_rendering()  # lays the figure out, so the titles have their places
    for title, final in zip(titles, finals):
        if title.get_window_extent(renderer).x1 + 6 > final.get_window_extent(renderer).x0:
            ax = final.axes
            final.remove()
            ax.text(0.98, 0.04, final.get_text(), transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=8, color=final.get_color(), bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                    "ec": "none", "alpha": 0.85})  # fmt: skip


def _integer_locator(bins: int):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=bins, integer=True, min_n_ticks=2)


def _diverging_map():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("arena-diverging", _DIVERGING)


def _ink(rgba) -> str:
    """A readable text colour on a cell of colour ``rgba``."""
    r, g, b = rgba[:3]
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "#1f2328"


def matrix_figure(labels: list[str], value: np.ndarray, counts: np.ndarray | None = None):
    """A heatmap of ``value[i, j]`` (a probability that row i beats column j) with the numbers in
    the cells; with ``counts``, each cell also shows its number of games and empty cells are
    grey. Cells keep one size (smaller for many entrants, then without numbers); the labels
    take the room they need."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    from arena import plotting

    n = len(labels)
    cell = 46 if n <= 12 else max(16, int(560 / n))
    show = cell >= 30
    side = max(n, 1) * cell
    cmap = _diverging_map()
    with plotting.figure(side + 40, side + 60, layout=None) as fig:
        w, h = fig.get_size_inches() * 96
        ax = fig.add_axes((20 / w, 50 / h, side / w, side / h))
        cax = fig.add_axes((20 / w, 14 / h, min(240, max(120, side)) / w, 8 / h))
        ax.grid(False)
        ax.set_facecolor(_EMPTY_CELL)
        for spine in ax.spines.values():
            spine.set_visible(False)
        shown = np.array(value, dtype=np.float64, copy=True)
        if counts is not None:
            shown[counts == 0] = np.nan
        np.fill_diagonal(shown, np.nan)
        if n:  # one pixel per cell, drawn unsmoothed: a small file however many entrants there are
            ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="none",
                      extent=(0, n, n, 0), aspect="auto")  # fmt: skip
        for i in range(n):
            ax.add_patch(Rectangle((i, i), 1, 1, color=_DIAGONAL, lw=0))
        ax.hlines(np.arange(n + 1), 0, n, colors="white", lw=1.5)
        ax.vlines(np.arange(n + 1), 0, n, colors="white", lw=1.5)
        ax.set(xlim=(0, max(n, 1)), ylim=(max(n, 1), 0))
        ax.set_xticks(np.arange(n) + 0.5, labels, rotation=45, ha="left", rotation_mode="anchor")
        ax.set_yticks(np.arange(n) + 0.5, labels)
        ax.tick_params(length=0, labelcolor=plotting.INK, labelsize=8.5, top=True, labeltop=True,
                       bottom=False, labelbottom=False)  # fmt: skip
        ax.text(-0.02, 1.02, "row vs column", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=8, color=plotting.MUTED)  # fmt: skip
        for i in range(n):
            for j in range(n):
                if i == j or not show:
                    continue
                c = int(counts[i, j]) if counts is not None else None
                if c == 0:
                    ax.text(j + 0.5, i + 0.5, "–", ha="center", va="center", color="#afb8c1")
                    continue
                p = float(value[i, j])
                ink = _ink(cmap(p))
                if c is None:
                    ax.text(j + 0.5, i + 0.5, f"{100 * p:.0f}%", ha="center", va="center", color=ink,
                            fontsize=8.5, fontweight="bold")  # fmt: skip
                else:
                    ax.text(j + 0.5, i + 0.43, f"{100 * p:.0f}%", ha="center", va="bottom", color=ink,
                            fontsize=8.5, fontweight="bold")  # fmt: skip
                    ax.text(j + 0.5, i + 0.5, f"n={c}", ha="center", va="top", color=ink, fontsize=7, alpha=0.85)
        scale = ScalarMappable(Normalize(0.0, 1.0), cmap)
        bar = fig.colorbar(scale, cax=cax, orientation="horizontal", ticks=[0, 0.5, 1])
        bar.ax.set_xticklabels(["0%", "50%", "100%"])
        bar.ax.tick_params(length=0, labelsize=7.5)
        bar.outline.set_visible(False)
    return fig


def bradley_terry_figure(fit: BradleyTerry, colours: dict[str, str], labels: dict[str, str], width: int = 600):
    """Point estimates and bootstrap intervals, strongest first."""
    from arena import plotting

    order = fit.order()
    n = len(order)
    with plotting.figure(width, 70 + 26 * max(n, 1)) as fig:
        ax = fig.add_subplot()
        vals = np.r_[fit.elo, fit.low, fit.high]
        vals = vals[np.isfinite(vals)]
        lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (-100.0, 100.0)
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        pad = 0.05 * (hi - lo or 200.0)
        ax.set(xlim=(lo - pad, hi + pad), ylim=(max(n, 1) - 0.5, -0.5))
        ax.grid(axis="y", visible=False)
        ax.set_facecolor("white")
        ax.axvline(0.0, color="#8c959f", lw=1, ls=(0, (4, 3)))
        for k, i in enumerate(order):
            colour = colours.get(fit.names[i], plotting.PALETTE[0])
            if k % 2 == 0:
                ax.axhspan(k - 0.5, k + 0.5, color=_EMPTY_CELL, lw=0, zorder=0)
            if fit.games[i] == 0:
                ax.text(0.01, k, "no games", transform=ax.get_yaxis_transform(), va="center",
                        fontsize=8, color="#8c959f")  # fmt: skip
                continue
            if math.isfinite(fit.low[i]) and math.isfinite(fit.high[i]):
                ax.hlines(k, fit.low[i], fit.high[i], color=colour, lw=3, capstyle="round")
            ax.plot([fit.elo[i]], [k], "o", ms=7, mfc="white", mec=colour, mew=2)
        ax.set_yticks(range(n), [labels.get(fit.names[i], fit.names[i]) for i in order])
        ax.tick_params(axis="y", length=0, labelcolor=plotting.INK, labelsize=8.5)
        anchor = labels.get(fit.anchor, fit.anchor) if fit.anchor else "the mean"
        ax.set_xlabel(f"Elo, relative to {anchor}")
    return fig


# --------------------------------------------------------------------------------------------
# CSV files


GAME_COLUMNS = tuple(name for name in NAMES if name != "traceback")
"""The columns of ``games.csv`` (then ``rated``): a game record's fields, less the traceback."""


def _games_frame(games: Sequence[GameRecord], log: RatedLog):
    import pandas as pd

    rated = set(log.ids.tolist())
    rows = []
    for g in games:
        row = {key: getattr(g, key) for key in GAME_COLUMNS}
        for key in ("options", "sides", "score"):
            if row[key] is not None and not isinstance(row[key], str):
                row[key] = json.dumps(row[key], sort_keys=True)
        row["rated"] = g.id in rated
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*GAME_COLUMNS, "rated"])
    for key in ("id", "seed", "game", "score_a", "score_b", "frames", "pid"):
        frame[key] = pd.array(frame[key].tolist(), dtype="Int64")
    frame["truncated"] = pd.array(frame["truncated"].tolist(), dtype="boolean")
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
.ci { position: relative; width: 130px; height: 18px; }
.ci::before { content: ""; position: absolute; left: 0; right: 0; top: 6px; height: 6px;
  border-radius: 3px; background: var(--soft); }
.ci span { position: absolute; display: block; }
.ci .band { top: 6px; height: 6px; min-width: 2px; border-radius: 3px; opacity: .45; }
.ci .cons { top: 3px; bottom: 3px; width: 2px; margin-left: -1px; background: var(--fg); }
.ci .mu { top: 4px; width: 10px; height: 10px; margin-left: -5px; border-radius: 50%%;
  border: 1.5px solid #fff; }
td.who, td.when { white-space: normal; }
td.who .spec { overflow-wrap: break-word; }
.seat { display: block; color: var(--muted); font-size: 12px; line-height: 1.2; }
a.file { display: inline-block; max-width: 13em; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; vertical-align: bottom; }
.nw { white-space: nowrap; }
td.when .age { display: block; color: var(--muted); font-size: 12.5px; white-space: nowrap; }
.wdl .w { color: #1a7f37; } .wdl .d { color: var(--muted); } .wdl .l { color: #cf222e; }
figure { margin: 6px 0 0; text-align: center; }
figure img { max-width: 100%%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.bt { display: grid; grid-template-columns: minmax(0, auto) minmax(0, 1fr); gap: 28px;
  align-items: start; }
@media (max-width: 900px) { .bt { grid-template-columns: minmax(0, 1fr); } }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 20px; }
.grid2.wide { grid-template-columns: minmax(0, 1fr); }
.grid2 > div h3 { font-size: 15px; margin: 0 0 2px; }
.grid2 > div p { margin: 0 0 8px; color: var(--muted); font-size: 13.5px; }
.note { background: #f6f8fa; border-left: 3px solid #8c959f; padding: 8px 12px;
  border-radius: 0 6px 6px 0; font-size: 13.5px; color: var(--muted); margin: 14px 0 0; }
details summary { cursor: pointer; font-weight: 600; color: var(--accent); margin: 4px 0 10px; }
a { color: var(--accent); }
td.err { white-space: normal; max-width: 420px; overflow-wrap: anywhere; font-family: var(--mono); font-size: 12.5px;
  color: #a40e26; }
td.win .spec { font-weight: 700; }
th.score, td.score { text-align: center; }
footer { color: var(--muted); font-size: 13px; padding: 8px 0 40px; }
footer p { margin: 4px 0; }
"""


def _link(log_path, out_dir: Path, label: str | None = None) -> str:
    if not log_path:
        return '<span class="muted">—</span>'
    path = Path(str(log_path))
    try:
        target = path if path.is_absolute() else Path.cwd() / path
        rel = os.path.relpath(target, out_dir.resolve())
        href = quote(Path(rel).as_posix())
    except ValueError:  # another drive
        href = path.resolve().as_uri()
    return f'<a class="file" href="{_e(href)}" title="{_e(str(log_path))}">{_e(label or path.name)}</a>'


def _replay_links(g: GameRecord, out_dir: Path) -> str:
    """Links to a recorded game's movie and, when `arena replay` rendered one beside it, its video."""
    from arena.games.replay import VIDEO_FORMATS, find_replay

    movie = find_replay(g)
    if movie is None:
        return ""
    links = [_link(movie, out_dir, "replay")]
    links += [_link(movie.with_suffix(s), out_dir, s[1:]) for s in VIDEO_FORMATS if movie.with_suffix(s).is_file()]
    return '<br><span class="replay">' + " · ".join(links) + "</span>"


def _bar(lo: float, hi: float, mu: float, cons: float, colour: str, span: tuple[float, float]) -> str:
    """The interval mini bar: plain HTML, positioned spans in a track (the band mu ± 1.96 sigma,
    a tick at mu - 3 sigma, a dot at mu), in percent of ``span``."""
    a, b = span

    def at(v: float) -> float:
        return 100.0 * (min(max(v, a), b) - a) / (b - a)

    left, right = at(lo), at(hi)
    return (
        '<div class="ci" aria-hidden="true">'
        f'<span class="band" style="left:{left:.1f}%;width:{right - left:.1f}%;background:{colour}"></span>'
        f'<span class="cons" style="left:{at(cons):.1f}%"></span>'
        f'<span class="mu" style="left:{at(mu):.1f}%;background:{colour}"></span></div>'
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


_SECTIONS = (
    ("standings", "Standings"),
    ("history", "Rating history"),
    ("matrices", "Win matrices"),
    ("bradley-terry", "Bradley-Terry"),
    ("errors", "Errored games"),
    ("games", "Games"),
)
"""The page's sections, as the navigation bar links them: (anchor, label)."""


def _who(labels: dict[str, str]) -> Callable[..., str]:
    """``who(spec, cls="spec")``: an entrant's short label, its full spec on hover."""

    def who(spec, cls: str = "spec") -> str:
        spec = str(spec)
        label = labels.get(spec) or spec
        title = f' title="{_e(spec)}"' if label != spec else ""
        return f'<span class="{cls}"{title}>{_e(label).replace("/", "/<wbr>")}</span>'

    return who


def _page(
    numbers: _Numbers,
    *,
    name: str,
    model: RatingModel,
    pinned: Mapping | None,
    out_dir: Path,
    generated: datetime,
    max_games_listed: int,
    images: dict[str, tuple[int, int]],
    guests: set[str] = frozenset(),
) -> str:
    """The HTML of ``index.html``, one section after another."""
    games, log, fit, colours = numbers.records, numbers.log, numbers.fit, numbers.colours
    errored = [g for g in games if g.status != "ok"]
    who = _who(numbers.labels)
    lines = [
        *_head(name),
        "<body>",
        *_banner(name, games, log, errored),
        *_nav(),
        '<main class="wrap">',
        *_standings_section(numbers.rows, colours, model, pinned, who, guests),
        *_history_section(images["history.svg"]),
        *_matrices_section(images["win_probability.svg"], images["observed.svg"]),
        *_bradley_terry_section(fit, colours, images["bradley_terry.svg"], who),
        *_errors_section(errored, out_dir, max_games_listed, who),
        *_games_section(games, out_dir, max_games_listed, who),
        "</main>",
        *_footer(generated, len(games)),
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


def _head(name: str) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(name)} · Arena leaderboard</title>",
        f"<style>{_CSS % {'mono': _MONO, 'sans': _SANS}}</style>",
        "</head>",
    ]


def _banner(name: str, games: list[GameRecord], log: RatedLog, errored: list[GameRecord]) -> list[str]:
    """The header: the title, the envs and the time span, and the tiles with the counts."""
    envs = sorted({str(g.env) for g in games if g.env})
    env_text = ", ".join(f"<code>{_e(x)}</code>" for x in envs) or "no env yet"
    times = [t for t in log.finished_at if t]
    span = f"{_when(min(times))} – {_when(max(times))}" if times else "no games yet"
    tiles = [
        (len(log.names), "entrants", ""),
        (len(log), "rated games", ""),
        (int(np.sum(log.outcome == 0)), "draws", ""),
        (len(errored), "errored games", " warn" if errored else ""),
    ]
    if log.n_left_out:
        tiles.append((log.n_left_out, "left out", ""))
    return [
        '<header><div class="wrap">',
        '<p class="kicker">Arena leaderboard</p>',
        f"<h1>{_e(name)}</h1>",
        f'<p class="sub">{env_text} · {_e(span)}</p>',
        '<div class="tiles">',
        *(f'<div class="tile{cls}"><b>{value:,}</b><span>{_e(label)}</span></div>' for value, label, cls in tiles),
        "</div></div></header>",
    ]


def _nav() -> list[str]:
    return [
        '<nav><div class="wrap">',
        *(f'<a href="#{anchor}">{label}</a>' for anchor, label in _SECTIONS),
        "</div></nav>",
    ]


def _standings_section(
    rows: list[Standing], colours: dict[str, str], model: RatingModel, pinned: Mapping | None, who, guests: set[str]
) -> list[str]:
    span_lo = min([r.low for r in rows] + [r.conservative for r in rows] or [0.0])
    span_hi = max([r.high for r in rows] or [1.0])
    if span_hi <= span_lo:
        span_hi = span_lo + 1.0
    ranks = [r.rank for r in rows]
    return [
        '<section id="standings">',
        "<h2>Standings <small>TrueSkill, online</small></h2>",
        (
            '<p class="lead">Ranks tie where the 95% '
            f"intervals μ ± {INTERVAL_Z}σ overlap: an entrant's rank is one plus the number of "
            "entrants whose whole interval lies above its own, so a new or rarely played entrant (wide "
            "interval) shares a high rank until its games place it. Within a rank, rows sort by the "
            "conservative score μ − 3σ. Win rate counts a draw as half a win. Errored games are never rated.</p>"
        ),
        '<div class="scroll"><table class="standings">',
        (
            '<thead><tr><th>Rank</th><th>Entrant</th><th class="num">μ</th>'
            '<th class="num">σ</th><th class="num">μ − 3σ</th><th>95% interval</th>'
            '<th class="num">Games</th><th class="num">W–D–L</th><th class="num">Win rate</th>'
            "<th>Last played (UTC)</th></tr></thead><tbody>"
        ),
        *(_standings_row(r, ranks.count(r.rank) > 1, colours[r.name], (span_lo, span_hi), who, r.name in guests) for r in rows),
        "</tbody></table></div>",
        _model_note(model, pinned, who),
        "</section>",
    ]


def _standings_row(r: Standing, tied: bool, colour: str, span: tuple[float, float], who, guest: bool) -> str:
    tie = '<span class="tie">=</span>' if tied else ""
    badges = ""
    if r.pinned:
        badges += '<span class="badge" title="rating held fixed">pinned</span>'
    if guest:
        badges += '<span class="badge" title="not among the definition\'s entrants: rated, never scheduled">guest</span>'
    if r.errors:
        badges += (
            f'<span class="badge warn" title="errored games, not rated">{r.errors} error{"s" if r.errors != 1 else ""}</span>'
        )
    bar = _bar(r.low, r.high, r.mu, r.conservative, colour, span)
    return (
        f'<tr><td class="rank">{r.rank}{tie}</td>'
        f'<td class="who"><span class="swatch" style="background:{colour}"></span>'
        f"{who(r.name)}{badges}</td>"
        f'<td class="num">{_num(r.mu)}</td><td class="num">{_num(r.sigma)}</td>'
        f'<td class="num cons">{_num(r.conservative)}</td>'
        f'<td class="bar">{bar}</td>'
        f'<td class="num">{r.games:,}</td>'
        f'<td class="num wdl"><span class="w">{r.wins}</span>–'
        f'<span class="d">{r.draws}</span>–<span class="l">{r.losses}</span></td>'
        f'<td class="num">{_pct(r.win_rate)}</td>'
        f'<td class="when"><span class="nw">{_e(_when(r.last_played, suffix=False))}</span>'
        + (f'<span class="age">{_e(humanize_age(r.last_played_age_s))}</span>' if r.last_played else "")
        + "</td></tr>"
    )


def _model_note(model: RatingModel, pinned: Mapping | None, who) -> str:
    """The note under the standings: the model, the pinned entrants, how to read the bars."""
    pins = ", ".join(
        f"<code>{who(k, 'pin')}</code> at μ = {r.mu:g}, σ = {r.sigma:g}"
        for k, r in ((k, _as_rating(v)) for k, v in (pinned or {}).items())
    )
    return (
        f'<p class="note">Model: {_model_line(model)}. Games are rated one by one in the order '
        "they were recorded, so these numbers depend on that order; the Bradley-Terry fit below "
        "does not."
        + (f" Pinned (held fixed, the reference of the scale): {pins}." if pins else "")
        + " In the interval column the dot is μ, the bar μ ± 1.96σ and the tick μ − 3σ.</p>"
    )


def _history_section(size: tuple[int, int]) -> list[str]:
    iw, ih = size
    return [
        '<section id="history">',
        "<h2>Rating history <small>μ ± 2σ per entrant</small></h2>",
        (
            '<p class="lead">Each line is an entrant\'s TrueSkill μ after every rated game, the band '
            "μ ± 2σ. The x axis counts rated games in the whole leaderboard; a line only moves when "
            "its entrant plays.</p>"
        ),
        (
            f'<figure><img src="history.svg" width="{iw}" height="{ih}" '
            'alt="Rating history: TrueSkill mu plus or minus 2 sigma per entrant over rated games">'
            "</figure>"
        ),
        "</section>",
    ]


def _matrices_section(predicted: tuple[int, int], observed: tuple[int, int]) -> list[str]:
    """The predicted and the observed win-rate matrices: side by side while both fit at their
    own size, one above the other when they are larger."""
    pw, ph = predicted
    ow, oh = observed
    wide = max(pw, ow) > 520
    return [
        '<section id="matrices">',
        "<h2>Win matrices <small>row against column</small></h2>",
        f'<div class="grid2{" wide" if wide else ""}">',
        (
            "<div><h3>Predicted win probability</h3>"
            "<p>P(row beats column) = Φ((μ<sub>row</sub> − μ<sub>col</sub>) / "
            "√(2β² + σ<sub>row</sub>² + σ<sub>col</sub>²)), from the current TrueSkill "
            "ratings.</p>"
            f'<figure><img src="win_probability.svg" width="{pw}" height="{ph}" '
            'alt="Predicted win-probability matrix"></figure></div>'
        ),
        (
            "<div><h3>Observed win rate</h3>"
            "<p>What the row entrant scored against the column entrant (a draw counts half), and "
            "the number of rated games <i>n</i>; grey cells have no games.</p>"
            f'<figure><img src="observed.svg" width="{ow}" height="{oh}" '
            'alt="Observed win-rate matrix with game counts"></figure></div>'
        ),
        "</div></section>",
    ]


def _bradley_terry_section(fit: BradleyTerry, colours: dict[str, str], size: tuple[int, int], who) -> list[str]:
    bw, bh = size
    ref = f"<code>{who(fit.anchor, 'pin')}</code> (pinned) at 0" if fit.anchor else "the mean at 0"
    return [
        '<section id="bradley-terry">',
        "<h2>Bradley-Terry <small>order-independent fit, bootstrap 95% intervals</small></h2>",
        (
            '<p class="lead">The table above is <b>online TrueSkill</b>, which depends on the order '
            "of the games. This is a <b>Bradley-Terry</b> model fitted to all rated games at once, "
            "so the order does not matter: P(i beats j) = 1 / (1 + 10<sup>−(R<sub>i</sub> − "
            "R<sub>j</sub>)/400</sup>), on the Elo scale (400 points = 10:1 odds), with "
            f"{ref}. A draw counts as half a win for each side; a weak N(0, "
            f"{fit.prior_sd * ELO_PER_LOGIT:.0f}²) prior keeps undefeated entrants finite. "
            f"Intervals are the 2.5th and 97.5th percentiles over {fit.n_bootstrap} bootstrap "
            f"resamplings of the games (seed {fit.seed}).</p>"
        ),
        '<div class="bt"><div class="scroll"><table>',
        (
            '<thead><tr><th>#</th><th>Entrant</th><th class="num">Rating</th>'
            '<th class="num">95% interval</th><th class="num">Games</th></tr></thead><tbody>'
        ),
        *(_bradley_terry_row(fit, k, i, colours[fit.names[i]], who) for k, i in enumerate(fit.order(), 1)),
        "</tbody></table></div>",
        (
            f'<figure><img src="bradley_terry.svg" width="{bw}" height="{bh}" '
            'alt="Bradley-Terry ratings with bootstrap 95% intervals"></figure></div>'
        ),
        "</section>",
    ]


def _bradley_terry_row(fit: BradleyTerry, rank: int, i: int, colour: str, who) -> str:
    played = fit.games[i] > 0
    interval = f"{_num(fit.low[i], 0)} … {_num(fit.high[i], 0)}" if played else "—"
    rating = _num(fit.elo[i], 0) if played else "—"
    return (
        f'<tr><td class="muted">{rank}</td><td class="who"><span class="swatch" '
        f'style="background:{colour}"></span>{who(fit.names[i])}</td>'
        f'<td class="num strong">{rating}</td><td class="num">{interval}</td>'
        f'<td class="num">{int(fit.games[i]):,}</td></tr>'
    )


def _errors_section(errored: list[GameRecord], out_dir: Path, max_games_listed: int, who) -> list[str]:
    lines = ['<section id="errors">', f"<h2>Errored games <small>{len(errored):,}, never rated</small></h2>"]
    if not errored:
        return [*lines, '<p class="lead">None: every game finished.</p>', "</section>"]
    lines += [
        (
            '<p class="lead">Games that failed (emulator crash, agent exception, timeout). They '
            "count for nobody: not as wins, not as losses, not in any rating.</p>"
        ),
        (
            '<div class="scroll"><table><thead><tr><th class="num">Id</th>'
            "<th>Finished (UTC)</th><th>A</th><th>B</th><th>Error</th><th>Log</th></tr></thead>"
            "<tbody>"
        ),
        *(_error_row(g, out_dir, who) for g in errored[-max_games_listed:][::-1]),
        "</tbody></table></div>",
    ]
    if len(errored) > max_games_listed:
        lines.append(
            f'<p class="muted small">The latest {max_games_listed:,} are listed here; '
            '<a href="games.csv">games.csv</a> has all of them.</p>'
        )
    return [*lines, "</section>"]


def _error_row(g: GameRecord, out_dir: Path, who) -> str:
    msg = str(g.error or "")
    short = msg if len(msg) <= 240 else msg[:239] + "…"
    return (
        f'<tr><td class="num">{_e(_blank(g.id))}</td>'
        f"<td>{_e(_when(g.finished_at, suffix=False))}</td>"
        f'<td class="who">{who(g.a)}</td><td class="who">{who(g.b)}</td>'
        f'<td class="err" title="{_e(msg)}">{_e(short)}</td>'
        f'<td class="log">{_link(g.log_path, out_dir)}</td></tr>'
    )


_GAMES_OPEN = 12  # games listed before "show older games"
_GAMES_HEAD = (
    '<div class="scroll"><table class="games"><thead><tr><th class="num">Id</th>'
    '<th>Finished (UTC)</th><th class="num">A</th><th class="score">Score</th><th>B</th>'
    '<th class="num">Seed</th><th class="num">Frames</th><th class="num">Wall</th>'
    "<th>Log</th></tr></thead><tbody>"
)


def _games_section(games: list[GameRecord], out_dir: Path, max_games_listed: int, who) -> list[str]:
    """The newest finished games: the first few in a table, the older ones folded away."""
    ok = [g for g in games if g.status == "ok"]
    shown = ok[-max_games_listed:][::-1]
    lines = [
        '<section id="games">',
        f"<h2>Games <small>{len(ok):,} finished, newest first</small></h2>",
        (
            '<p class="lead">Every finished game with its score (the winner in bold) and a link to '
            "its log (and to its replay when it was recorded with <code>--record</code>: "
            '<code>arena replay FILE</code> renders it). <a href="games.csv">games.csv</a> holds all games, errored ones included, and '
            '<a href="entrants.csv">entrants.csv</a> the standings.</p>'
        ),
    ]
    first, rest = shown[:_GAMES_OPEN], shown[_GAMES_OPEN:]
    if first:
        lines += [_GAMES_HEAD, *(_game_row(g, out_dir, who) for g in first), "</tbody></table></div>"]
    if rest:
        older = f"{len(rest):,} older game{'s' if len(rest) != 1 else ''}"
        lines += [
            f"<details><summary>Show {older}</summary>{_GAMES_HEAD}",
            *(_game_row(g, out_dir, who) for g in rest),
            "</tbody></table></div></details>",
        ]
    if len(shown) < len(ok):
        lines.append(
            f'<p class="muted small">The latest {len(shown):,} games are listed here; '
            '<a href="games.csv">games.csv</a> has all of them.</p>'
        )
    if not ok:
        lines.append('<p class="muted">No finished games yet.</p>')
    return [*lines, "</section>"]


def _blank(value) -> str:
    return "" if value is None else str(value)


def _game_row(g: GameRecord, out_dir: Path, who) -> str:
    e = _e
    winner = g.winner
    sa, sb = g.score_a, g.score_b
    score = f"{sa if sa is not None else '—'} – {sb if sb is not None else '—'}"
    if winner == "draw":
        score += ' <span class="muted small">draw</span>'
    seat = g.a_seat
    b_seat = next((x for x in (g.sides or {}) if x != seat), None)
    a_cls = "num who win" if winner == "a" else "num who"
    b_cls = "who win" if winner == "b" else "who"
    frames, wall = g.frames, g.wall_s
    a_seat = f'<span class="seat">{e(seat)}</span>' if seat else ""
    b_seat_html = f'<span class="seat">{e(b_seat)}</span>' if b_seat else ""
    return (
        f'<tr><td class="num muted">{e(_blank(g.id))}</td>'
        f"<td>{e(_when(g.finished_at, suffix=False))}</td>"
        f'<td class="{a_cls}">{who(g.a)}{a_seat}</td>'
        f'<td class="score">{score}</td>'
        f'<td class="{b_cls}">{who(g.b)}{b_seat_html}</td>'
        f'<td class="num">{e(_blank(g.seed))}</td>'
        f'<td class="num">{f"{frames:,}" if isinstance(frames, int) else "—"}</td>'
        f'<td class="num">{f"{wall:.1f} s" if isinstance(wall, (int, float)) else "—"}</td>'
        f'<td class="log">{_link(g.log_path, out_dir)}{_replay_links(g, out_dir)}</td></tr>'
    )


def _footer(generated: datetime, n_games: int) -> list[str]:
    return [
        '<footer><div class="wrap">',
        (
            f"<p>Generated by Arena on {_e(generated.strftime('%Y-%m-%d %H:%M'))} UTC from "
            f'{n_games:,} recorded games. Files: <a href="entrants.csv">entrants.csv</a>, '
            '<a href="games.csv">games.csv</a>.</p>'
        ),
        f"<p>{_e(TRADEMARK)}</p>",
        "</div></footer>",
    ]


def write_report(
    out_dir: str | os.PathLike,
    name: str,
    games: Sequence[Mapping | GameRecord],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
    *,
    now=None,
    n_bootstrap: int = 200,
    seed: int = 0,
    max_games_listed: int = 1000,
    guests: Collection[str] = (),
) -> Path:
    """Write the leaderboard ``name``'s report into ``out_dir`` (created if missing; the files in
    :data:`FILES` are overwritten) and return the path of its ``index.html``.

    ``games`` (dicts or :class:`~arena.games.record.GameRecord` objects), ``entrants``,
    ``pinned`` and ``model`` mean what they mean in :mod:`arena.ratings.standings`. ``now`` dates the page and the "last played" ages (default: the
    current time); the Bradley-Terry bootstrap uses ``n_bootstrap`` replicates seeded by
    ``seed``; the page lists at most ``max_games_listed`` games (the CSV has all of them).
    ``guests`` are entrants the leaderboard's definition does not list (marked so on the page).
    """
    import pandas as pd  # noqa: F401  (fail early if pandas is missing)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model or TrueSkill()
    generated = _utc(now)
    numbers = _compute(games, entrants, pinned, model, generated, n_bootstrap=n_bootstrap, seed=seed)
    images = _draw_figures(numbers, out)
    _write_csvs(numbers, out)
    page = _page(
        numbers,
        name=name,
        model=model,
        pinned=pinned,
        out_dir=out,
        generated=generated,
        max_games_listed=max_games_listed,
        images=images,
        guests=set(guests),
    )
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return index


def _utc(now) -> datetime:
    """``now`` (None: the current time; an ISO string; a Unix time; a datetime, naive read as UTC)
    as an aware UTC datetime."""
    if now is None:
        generated = datetime.now(UTC)
    elif isinstance(now, str):
        generated = datetime.fromisoformat(now)
    elif isinstance(now, (int, float)):
        generated = datetime.fromtimestamp(now, UTC)
    else:
        generated = now
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=UTC)
    return generated.astimezone(UTC)


@dataclass(frozen=True)
class _Numbers:
    """What the report shows, computed once from the game log."""

    log: RatedLog
    records: list[GameRecord]  # every game, errored ones included, in id order
    rows: list[Standing]  # the standings, in table order
    order: list[int]  # indices into log.names, in table order
    colours: dict[str, str]  # entrant -> colour, by table order
    labels: dict[str, str]  # spec -> short label
    prob: np.ndarray  # predicted P(row beats column), in log.names order
    rate: np.ndarray  # observed win rate (NaN without games)
    counts: np.ndarray  # rated games per pair
    history: dict[str, RatingHistory]
    fit: BradleyTerry


def _compute(games, entrants, pinned, model: RatingModel, generated: datetime, *, n_bootstrap: int, seed: int) -> _Numbers:
    from arena import plotting

    log = rated_log(games, entrants)
    records = _by_id([as_record(g) for g in games])
    rows = standings(log, pinned=pinned, model=model, now=generated)
    ratings = _ratings(log, pinned, model)
    wins, counts = _pair_matrices(len(log.names), log.a, log.b, log.outcome)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(counts > 0, wins / np.maximum(counts, 1), np.nan)
    return _Numbers(
        log=log,
        records=records,
        rows=rows,
        order=[log.names.index(r.name) for r in rows],
        colours={r.name: c for r, c in zip(rows, plotting.colours(len(rows)))},
        labels=entrant_labels([*log.names, *(s for g in records for s in (g.a, g.b)), *(pinned or {})]),
        prob=np.asarray(model.win_probability_matrix(ratings.mu, ratings.sigma)),
        rate=rate,
        counts=counts,
        history=rating_history(log, pinned=pinned, model=model),
        fit=bradley_terry(log, pinned=pinned, n_bootstrap=n_bootstrap, seed=seed),
    )


def _draw_figures(numbers: _Numbers, out: Path) -> dict[str, tuple[int, int]]:
    """Write the four SVG plots; return each file's size in CSS pixels."""
    from arena import plotting

    ix = np.ix_(numbers.order, numbers.order)
    ordered = [numbers.log.names[i] for i in numbers.order]
    ordered_labels = [numbers.labels[n] for n in ordered]
    history = [numbers.history[n] for n in ordered]
    palette = [numbers.colours[n] for n in ordered]
    return {
        "history.svg": plotting.write_svg(
            history_figure(history, palette, ordered_labels, len(numbers.log)),
            out / "history.svg",
            "Rating history: TrueSkill mu ± 2 sigma per entrant",
        ),
        "win_probability.svg": plotting.write_svg(
            matrix_figure(ordered_labels, numbers.prob[ix]),
            out / "win_probability.svg",
            "Predicted probability that the row beats the column",
            tight=True,
        ),
        "observed.svg": plotting.write_svg(
            matrix_figure(ordered_labels, numbers.rate[ix], numbers.counts[ix].astype(np.int64)),
            out / "observed.svg",
            "Observed win rate of the row against the column, with game counts",
            tight=True,
        ),
        "bradley_terry.svg": plotting.write_svg(
            bradley_terry_figure(numbers.fit, numbers.colours, numbers.labels),
            out / "bradley_terry.svg",
            "Bradley-Terry ratings with bootstrap 95% intervals",
        ),
    }


def _write_csvs(numbers: _Numbers, out: Path) -> None:
    _games_frame(numbers.records, numbers.log).to_csv(out / "games.csv", index=False)
    _entrants_frame(numbers.rows, numbers.fit).to_csv(out / "entrants.csv", index=False)


def _by_id(games: list[GameRecord]) -> list[GameRecord]:
    """In id order (the order they were rated in), when every game has an id; else as given."""
    if all(isinstance(g.id, int) for g in games) and any(x.id > y.id for x, y in pairwise(games)):
        games = sorted(games, key=lambda g: g.id)  # stable: equal ids keep insertion order
    return games
