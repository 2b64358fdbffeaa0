"""Plotting shared by Arena's pages (the leaderboard report, an experiment's learning curves):
one matplotlib style, one colour palette, and figures written as SVG files.

matplotlib is imported inside the functions here, never when this module is imported, so the
command line starts without it. No pyplot: figures are :class:`matplotlib.figure.Figure`
objects on an Agg canvas, so nothing touches matplotlib's global figure manager or backend.

Sizes are CSS pixels: a figure made by :func:`figure` at ``width`` x ``height`` is saved as an
SVG that a browser shows at exactly that size (the SVG says it in points, 3/4 of a pixel). The
SVG files are reproducible: the same figure gives the same bytes (fixed element ids, no date).
Text is drawn as glyph outlines (DejaVu Sans, which ships with matplotlib), so a plot looks the
same on every machine and needs no font from anywhere.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "FAINT",
    "INK",
    "MUTED",
    "PALETTE",
    "colours",
    "figure",
    "short_number",
    "short_number_formatter",
    "style",
    "svg_size",
    "svg_text",
    "thin",
    "write_svg",
]

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#5f6b7a",
)  # fmt: skip
"""Series colours, in order (Tableau 10, with a darker grey); :func:`colours` extends them for
more series."""

INK = "#1f2328"
"""Text and emphasis."""
MUTED = "#57606a"
"""Tick labels and secondary text."""
FAINT = "#c9d1d9"
"""Lines behind the main ones (other entrants, references)."""
GRID = "#edf0f3"
PLOT_BG = "#fbfcfd"

_PX_PER_INCH = 96.0  # CSS pixels per inch; SVG sizes come out in points (72 per inch)

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: the same glyphs everywhere
    "font.size": 9.0,  # points: 12 CSS pixels
    "text.color": INK,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 6.0,
    "axes.labelsize": 9.0,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#d0d7de",
    "axes.linewidth": 0.8,
    "axes.facecolor": PLOT_BG,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": "#afb8c1",
    "ytick.color": "#afb8c1",
    "xtick.labelcolor": MUTED,
    "ytick.labelcolor": MUTED,
    "xtick.labelsize": 8.25,
    "ytick.labelsize": 8.25,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "legend.handlelength": 1.6,
    "lines.solid_capstyle": "round",
    "lines.solid_joinstyle": "round",
    "figure.facecolor": "white",
    "figure.dpi": _PX_PER_INCH,
    "savefig.facecolor": "white",
    "svg.fonttype": "path",
    "svg.hashsalt": "arena",  # fixed element ids: the same figure gives the same file
    "path.simplify": True,
}
"""matplotlib settings for every Arena figure (applied with :func:`style`)."""


def colours(n: int) -> list[str]:
    """``n`` distinguishable colours: :data:`PALETTE`, then golden-angle hues."""
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    out = list(PALETTE)
    for k in range(n - len(PALETTE)):  # golden-angle hues, alternating lightness
        h = (0.07 + k * 0.381966) % 1.0
        r, g, b = colorsys.hls_to_rgb(h, 0.42 if k % 2 else 0.55, 0.55)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


@contextmanager
def style() -> Iterator[None]:
    """Arena's matplotlib settings, for the duration of the block (restored afterwards)."""
    import matplotlib
    from matplotlib import cycler

    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}):
        yield


@contextmanager
def figure(width: float, height: float, *, layout: str | None = "constrained") -> Iterator[Figure]:
    """A new figure of ``width`` x ``height`` CSS pixels, on an Agg canvas, with Arena's style
    in force while the block draws it (fonts and colours are taken when artists are made)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=(width / _PX_PER_INCH, height / _PX_PER_INCH), layout=layout)
        FigureCanvasAgg(fig)
        yield fig


def svg_size(svg: str) -> tuple[int, int]:
    """The width and height in CSS pixels of an SVG document that :func:`svg_text` wrote (what a
    page's ``<img>`` should say)."""
    head = svg[svg.index("<svg") :]
    head = head[: head.index(">")]
    out = []
    for key in ("width", "height"):
        value = head.split(f'{key}="', 1)[1].split('"', 1)[0]
        number = float(value.rstrip("ptx"))
        out.append(round(number * _PX_PER_INCH / 72 if value.endswith("pt") else number))
    return out[0], out[1]


def svg_text(fig: Figure, title: str | None = None, *, tight: bool = False) -> str:
    """The figure as an SVG document; ``title`` becomes its ``<title>`` (a tooltip, and what
    screen readers say). ``tight`` crops (or grows) the page to what is drawn, for figures laid
    out by hand whose labels' lengths are not known in advance."""
    buffer = io.StringIO()
    metadata = {"Date": None, "Creator": "Arena (matplotlib)"}
    if title:
        metadata["Title"] = title
    extra = {"bbox_inches": "tight", "pad_inches": 0.08} if tight else {}
    with style():
        fig.savefig(buffer, format="svg", metadata=metadata, **extra)
    return buffer.getvalue()


def write_svg(fig: Figure, path: str | os.PathLike, title: str | None = None, *, tight: bool = False) -> tuple[int, int]:
    """Write the figure to ``path`` as SVG, atomically (a page open in a browser never sees half
    a file), and return its size in CSS pixels."""
    path = Path(path)
    text = svg_text(fig, title, tight=tight)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return svg_size(text)


# --------------------------------------------------------------------------------------------
# Data and tick helpers


def thin(x: Sequence[float], keep: int) -> list[int]:
    """Indices of at most about ``keep`` of the increasing values ``x``: the first, and the last
    one in each of ``keep`` equal-width bins of x (the last point always stays), so long series
    make small files without losing their end or their shape's timing."""
    n = len(x)
    if n <= keep or keep < 2:
        return list(range(n))
    x0, span = float(x[0]), float(x[-1]) - float(x[0])
    if not span > 0:
        stride = math.ceil(n / keep)
        return sorted(set(range(0, n, stride)) | {n - 1})
    out = [0]
    last_bin = None
    for i in range(1, n):
        b = min(int((float(x[i]) - x0) * keep // span), keep - 1)
        if b == last_bin:
            out[-1] = i
        else:
            out.append(i)
            last_bin = b
    return out


_SCALES = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def _plain(t: float) -> str:
    text = f"{t:.0f}" if abs(t - round(t)) < 1e-9 else f"{t:.6g}"
    return text.replace("-", "−")


def short_number(values: Sequence[float]) -> list[str]:
    """Tick labels in thousands (k), millions (M) or billions (G) when the numbers are long, one
    scale for all of them: ``20M`` frames reads better than ``20000000``."""
    top = max([abs(float(t)) for t in values] + [0.0])
    for scale, suffix in _SCALES:
        if top >= 10 * scale or (suffix != "k" and top >= scale):
            return [_plain(round(t / scale, 9)) + (suffix if t else "") for t in values]
    return [_plain(float(t)) for t in values]


def short_number_formatter():
    """A matplotlib tick formatter that labels with :func:`short_number`."""
    from matplotlib.ticker import Formatter

    class ShortNumber(Formatter):
        def format_ticks(self, values):
            return short_number(values)

        def __call__(self, x, pos=None):
            return short_number([x])[0]

    return ShortNumber()
