"""Learning curves: reading metrics files (a killed learner's truncated last line), the SVG's
structure and geometry, and the files write_curves makes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from arena.training.curves import curves_svg, load_metrics, write_curves

SVG = "{http://www.w3.org/2000/svg}"


def record(update: int, **extra) -> dict:
    return {"frames": 4096 * update, "steps": 1024 * update, "updates": update,
            "wall_s": 0.5 * update, **extra}  # fmt: skip


def write_lines(path, records, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")


def points(path_d: str) -> list[list[tuple[float, float]]]:
    """The subpaths of a path's ``d`` (M/L commands), as lists of points."""
    out = []
    for sub in path_d.split("M")[1:]:
        pairs = re.findall(r"(-?[\d.]+),(-?[\d.]+)", sub)
        out.append([(float(a), float(b)) for a, b in pairs])
    return out


def parse(svg: str):
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    plot = root.find(f".//{SVG}rect[@class='plot']")
    box = {k: float(plot.get(k)) for k in ("x", "y", "width", "height")}
    series = root.findall(f".//{SVG}path[@class='series']")
    legend = [t.text for t in root.findall(f".//{SVG}text[@class='legend']")]
    return root, box, series, legend


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
# curves_svg


def test_svg_has_one_line_and_one_legend_entry_per_run():
    runs = {
        "rac-pong": [record(u, reward=u - 5.0) for u in range(1, 11)],
        "a2c & <friends>": [record(u, reward=2.0 * u - 20) for u in range(1, 21)],
        "no-reward-yet": [record(1)],
    }
    svg = curves_svg(runs, "reward", title="Reward", y_label="score difference", hline=0.0)
    root, _, series, legend = parse(svg)
    assert root.find(f"{SVG}title").text == "Reward"
    assert legend == list(runs)  # escaped on the way in, unescaped by the parser
    assert [p.find(f"{SVG}title").text for p in series] == ["rac-pong", "a2c & <friends>"]
    assert len(root.findall(f".//{SVG}line[@class='hline']")) == 1
    assert not root.findall(f".//{SVG}path[@class='raw']")  # no smoothing, no raw lines


def test_points_map_to_the_plot_edges():
    runs = {"tiny": [{"frames": 100, "x": 0.0}, {"frames": 150, "x": 0.25},
                     {"frames": 300, "x": 1.0}]}  # fmt: skip
    _, box, (line,), _ = parse(curves_svg(runs, "x", title="t", y_label="y", y_range=(0, 1)))
    ((first, middle, last),) = points(line.get("d"))
    left, right = box["x"], box["x"] + box["width"]
    top, bottom = box["y"], box["y"] + box["height"]
    assert first == pytest.approx((left, bottom), abs=0.06)  # min x, y = 0
    assert last == pytest.approx((right, top), abs=0.06)  # max x, y = 1
    assert middle == pytest.approx(
        (left + box["width"] * 50 / 200, bottom - box["height"] * 0.25), abs=0.06
    )


def test_x_spans_all_runs_and_y_keeps_a_margin():
    runs = {
        "a": [{"frames": 0, "r": -2.0}, {"frames": 1000, "r": 2.0}],
        "b": [{"frames": 500, "r": 0.0}, {"frames": 2000, "r": 1.0}],
    }
    _, box, (a, b), _ = parse(curves_svg(runs, "r", title="t", y_label="y"))
    ((a0, a1),), ((b0, b1),) = points(a.get("d")), points(b.get("d"))
    assert a0[0] == pytest.approx(box["x"], abs=0.06)
    assert b1[0] == pytest.approx(box["x"] + box["width"], abs=0.06)
    assert a1[0] == pytest.approx(box["x"] + box["width"] / 2, abs=0.06)
    # y spans [-2, 2] plus 5% each side: -2 sits 1/22 of the height above the bottom
    assert a0[1] == pytest.approx(box["y"] + box["height"] * 21 / 22, abs=0.06)
    assert a1[1] == pytest.approx(box["y"] + box["height"] * 1 / 22, abs=0.06)


def test_missing_values_break_the_line():
    rows = [{"frames": f, "w": w} for f, w in enumerate([0.1, 0.2, None, float("nan"), 0.5, 0.6])]
    _, _, (line,), _ = parse(curves_svg({"cpu": rows}, "w", title="t", y_label="y"))
    assert [len(s) for s in points(line.get("d"))] == [2, 2]


def test_smoothing_is_a_trailing_mean_with_raw_values_behind():
    rows = [{"frames": f, "v": v} for f, v in enumerate([0.0, 4.0, 2.0, 6.0])]
    root, box, (line,), _ = parse(
        curves_svg({"r": rows}, "v", title="t", y_label="y", smooth=2, y_range=(0, 6))
    )
    assert len(root.findall(f".//{SVG}path[@class='raw']")) == 1
    ys = [p[1] for p in points(line.get("d"))[0]]
    expected = [0.0, 2.0, 3.0, 4.0]  # 0, mean(0, 4), mean(4, 2), mean(2, 6)
    assert ys == pytest.approx(
        [box["y"] + box["height"] * (1 - v / 6) for v in expected], abs=0.06
    )


def test_large_numbers_get_short_tick_labels():
    rows = [{"frames": 0, "fps": 9_000}, {"frames": 20_000_000, "fps": 31_000}]
    root, *_ = parse(curves_svg({"r": rows}, "fps", title="t", y_label="y"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "20M" in texts and "5M" in texts and "20k" in texts
    assert "20000000" not in texts


def test_a_run_with_no_values_still_draws_axes():
    svg = curves_svg({"empty": [record(1)]}, "reward", title="t", y_label="y")
    root, _, series, legend = parse(svg)
    assert series == [] and legend == ["empty"]
    assert any("no reward values yet" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_long_runs_are_thinned():
    rows = [{"frames": f, "v": f % 7} for f in range(10_000)]
    _, _, (line,), _ = parse(curves_svg({"r": rows}, "v", title="t", y_label="y"))
    ((*_, last),) = pts = points(line.get("d"))
    assert 900 <= len(pts[0]) <= 1001
    _, box, *_ = parse(curves_svg({"r": rows}, "v", title="t", y_label="y"))
    assert last[0] == pytest.approx(box["x"] + box["width"], abs=0.06)  # the last point stays


# --------------------------------------------------------------------------------------------
# write_curves


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.src: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.src.append(dict(attrs)["src"])


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
    for path in paths[:-1]:
        ET.fromstring(path.read_text(encoding="utf-8"))
    _, _, series, legend = parse((out / "win_rate.svg").read_text(encoding="utf-8"))
    assert sorted(legend) == ["bot:tracker:9", "cpu"] and len(series) == 2
    _, _, series, legend = parse((out / "loss.svg").read_text(encoding="utf-8"))
    assert legend == ["total", "policy", "value"] and len(series) == 3
    _, _, _, legend = parse((out / "reward.svg").read_text(encoding="utf-8"))
    assert legend == ["rac-pong"]
    page = Images()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    assert page.src == names[:-1]
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
