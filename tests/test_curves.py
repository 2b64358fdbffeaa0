"""Learning curves: reading metrics files (a killed learner's truncated last line), the
matplotlib figure's lines, axes and legend, the SVG it makes, and the files write_curves writes."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from arena.training.curves import curves_figure, curves_svg, load_metrics, write_curves

SVG = "{http://www.w3.org/2000/svg}"


def record(update: int, **extra) -> dict:
    return {"frames": 4096 * update, "steps": 1024 * update, "updates": update,
            "wall_s": 0.5 * update, **extra}  # fmt: skip


def write_lines(path, records, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")


def lines(fig, prefix: str = "series-") -> list:
    (ax,) = fig.axes
    return [line for line in ax.get_lines() if (line.get_gid() or "").startswith(prefix)]


def segments(line) -> list[list[tuple[float, float]]]:
    """A line's points, split where it has NaN (a gap)."""
    out: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(line.get_xdata(), line.get_ydata()):
        if math.isnan(x) or math.isnan(y):
            out.append([])
        else:
            out[-1].append((float(x), float(y)))
    return [s for s in out if s]


def legend(fig) -> list[str]:
    (box,) = fig.legends
    return [t.get_text() for t in box.get_texts()]


def svg_comments(svg: str) -> list[str]:
    """matplotlib draws text as glyphs and notes each text in a comment before it."""
    return re.findall(r"<!-- (.*?) -->", svg)


# --------------------------------------------------------------------------------------------
# load_metrics


def test_load_metrics_skips_a_truncated_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [record(1, reward=-3.0), record(2, reward=-2.5)], tail='{"frames": 12')
    assert [r["updates"] for r in load_metrics(path)] == [1, 2]


def test_load_metrics_keeps_a_complete_last_line_without_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [record(1)], tail=json.dumps(record(2)))
    assert [r["updates"] for r in load_metrics(path)] == [1, 2]


def test_load_metrics_cut_inside_a_multibyte_character(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [record(1)])
    with open(path, "ab") as f:
        f.write('{"note": "é'.encode()[:-1])  # half of the two-byte é
    assert [r["updates"] for r in load_metrics(path)] == [1]


def test_load_metrics_rejects_a_bad_line_in_the_middle(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [record(1)], tail='{"frames": 12\n' + json.dumps(record(3)) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl:2"):
        load_metrics(path)


def test_load_metrics_empty_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("")
    assert load_metrics(path) == []


# --------------------------------------------------------------------------------------------
# curves_figure and curves_svg


def test_one_line_and_one_legend_entry_per_run():
    runs = {
        "rac-pong": [record(u, reward=u - 5.0) for u in range(1, 11)],
        "a2c & <friends>": [record(u, reward=2.0 * u - 20) for u in range(1, 21)],
        "no-reward-yet": [record(1)],
    }
    options = {"title": "Reward", "y_label": "score difference", "hline": 0.0}
    fig = curves_figure(runs, "reward", **options)
    assert legend(fig) == list(runs)
    rac, a2c, empty = lines(fig)
    assert list(rac.get_ydata()) == [u - 5.0 for u in range(1, 11)]
    assert len(a2c.get_xdata()) == 20 and len(empty.get_xdata()) == 0
    assert len(lines(fig, "hline")) == 1
    assert lines(fig, "raw") == []  # no smoothing, no raw lines
    (ax,) = fig.axes
    assert ax.get_title(loc="left") == "Reward" and ax.get_ylabel() == "score difference"
    assert ax.get_xlabel() == "emulator frames"

    svg = curves_svg(runs, "reward", **options)
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.find(f"{SVG}title").text == "Reward"
    assert root.get("width") == "570pt" and root.get("height") == "255pt"  # 760 x 340 px
    assert len(root.findall(f".//{SVG}g[@id='series-1']")) == 1
    assert {"rac-pong", "no-reward-yet", "Reward"} <= set(svg_comments(svg))


def test_x_spans_the_data_and_y_range_is_fixed():
    runs = {"tiny": [{"frames": 100, "x": 0.0}, {"frames": 150, "x": 0.25},
                     {"frames": 300, "x": 1.0}]}  # fmt: skip
    fig = curves_figure(runs, "x", title="t", y_label="y", y_range=(0, 1))
    (ax,) = fig.axes
    assert ax.get_xlim() == (100, 300) and ax.get_ylim() == (0, 1)
    (line,) = lines(fig)
    assert segments(line) == [[(100, 0.0), (150, 0.25), (300, 1.0)]]


def test_x_spans_all_runs_and_y_keeps_a_margin():
    runs = {
        "a": [{"frames": 0, "r": -2.0}, {"frames": 1000, "r": 2.0}],
        "b": [{"frames": 500, "r": 0.0}, {"frames": 2000, "r": 1.0}],
    }
    (ax,) = curves_figure(runs, "r", title="t", y_label="y").axes
    assert ax.get_xlim() == (0, 2000)
    assert ax.get_ylim() == pytest.approx((-2.2, 2.2))  # [-2, 2] plus 5% each side


def test_missing_values_break_the_line_and_lone_points_are_dots():
    values = [0.1, 0.2, None, float("nan"), 0.5, 0.6, None, 0.9, "n/a", True]
    rows = [{"frames": f, "w": w} for f, w in enumerate(values)]
    fig = curves_figure({"cpu": rows}, "w", title="t", y_label="y")
    (line,) = lines(fig)
    assert segments(line) == [[(0, 0.1), (1, 0.2)], [(4, 0.5), (5, 0.6)], [(7, 0.9)]]
    (dots,) = lines(fig, "points-")
    assert list(dots.get_xdata()) == [7] and list(dots.get_ydata()) == [0.9]


def test_smoothing_is_a_trailing_mean_with_raw_values_behind():
    rows = [{"frames": f, "v": v} for f, v in enumerate([0.0, 4.0, 2.0, 6.0])]
    fig = curves_figure({"r": rows}, "v", title="t", y_label="y", smooth=2, y_range=(0, 6))
    (raw,) = lines(fig, "raw")
    assert list(raw.get_ydata()) == [0.0, 4.0, 2.0, 6.0]
    (line,) = lines(fig)
    assert list(line.get_ydata()) == [0.0, 2.0, 3.0, 4.0]  # 0, mean(0, 4), mean(4, 2), mean(2, 6)


def test_large_numbers_get_short_tick_labels():
    rows = [{"frames": 0, "fps": 9_000}, {"frames": 20_000_000, "fps": 31_000}]
    fig = curves_figure({"r": rows}, "fps", title="t", y_label="y")
    fig.canvas.draw()
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert "20M" in labels and "5M" in labels and "20k" in labels
    assert "20000000" not in labels and "2e7" not in labels


def test_a_run_with_no_values_still_draws_axes():
    fig = curves_figure({"empty": [record(1)]}, "reward", title="t", y_label="y")
    assert legend(fig) == ["empty"]
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["no reward values yet"]
    assert all(len(line.get_xdata()) == 0 for line in lines(fig))


def test_long_runs_are_thinned():
    rows = [{"frames": f, "v": f % 7} for f in range(10_000)]
    (line,) = lines(curves_figure({"r": rows}, "v", title="t", y_label="y"))
    x = list(line.get_xdata())
    assert 900 <= len(x) <= 1001
    assert x[0] == 0 and x[-1] == 9_999  # the ends stay


def test_snapshot_runs_get_short_labels():
    rows = [record(u, reward=float(u)) for u in range(1, 4)]
    runs = {"experiments/rac/snapshots/000000102400.pt": rows, "experiments/ppo": rows}
    assert legend(curves_figure(runs, "reward", title="t", y_label="y")) == ["rac@102k", "ppo"]


# --------------------------------------------------------------------------------------------
# write_curves


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.src: list[str] = []
        self.sizes: list[tuple[int, int]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            attrs = dict(attrs)
            self.src.append(attrs["src"])
            self.sizes.append((int(attrs["width"]), int(attrs["height"])))


def test_write_curves_writes_every_chart(tmp_path):
    exp = tmp_path / "experiments" / "rac-pong"
    rows = [
        record(
            u,
            reward=u / 10 - 5,
            fps=5000.0 + u,
            loss=1.0 / u,
            **{"loss/policy": 0.5 / u, "loss/value": 0.5 / u, "entropy": 1.0 - u / 400},
            **{"win_rate/cpu": None if u < 50 else u / 200, "win_rate/bot:tracker:9": u / 400},
        )
        for u in range(1, 201)
    ]
    write_lines(exp / "metrics.jsonl", rows, tail='{"frames": 8')
    paths = write_curves(exp)
    out = exp / "curves"
    names = ["reward.svg", "win_rate.svg", "fps.svg", "loss.svg", "entropy.svg", "index.html"]
    assert paths == [out / n for n in names]
    svgs = {p.name: p.read_text(encoding="utf-8") for p in paths[:-1]}
    for svg in svgs.values():
        ET.fromstring(svg)

    def series(svg: str) -> int:
        return len(re.findall(r'<g id="series-\d+">', svg))

    win, loss, reward = svgs["win_rate.svg"], svgs["loss.svg"], svgs["reward.svg"]
    assert {"bot:tracker:9", "cpu"} <= set(svg_comments(win)) and series(win) == 2
    assert {"total", "policy", "value"} <= set(svg_comments(loss)) and series(loss) == 3
    assert "rac-pong" in svg_comments(reward) and series(reward) == 1
    assert "rac-pong: reward" in svg_comments(reward)  # the title
    assert '<g id="raw">' in reward  # 200 records: smoothed over 2, the raw values behind
    page = Images()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    assert page.src == names[:-1]
    assert page.sizes == [(760, 340)] * 5
    assert not list(out.glob(".*.tmp"))


def test_write_curves_skips_absent_keys(tmp_path):
    exp = tmp_path / "only-reward"
    rows = [record(u, reward=float(u), **{"win_rate/cpu": None}) for u in range(1, 6)]
    write_lines(exp / "metrics.jsonl", rows)
    paths = write_curves(exp)
    assert [p.name for p in paths] == ["reward.svg", "index.html"]
    assert sorted(p.name for p in (exp / "curves").iterdir()) == ["index.html", "reward.svg"]
    page = Images()
    page.feed(paths[-1].read_text(encoding="utf-8"))
    assert page.src == ["reward.svg"]


def test_write_curves_with_no_records_yet(tmp_path):
    exp = tmp_path / "fresh"
    exp.mkdir()
    (exp / "metrics.jsonl").write_text("")
    (index,) = write_curves(exp)
    assert "No metrics with values yet" in index.read_text(encoding="utf-8")
