"""The leaderboard report: its files, its CSVs (read back with pandas), the HTML's structure, the
matplotlib figures, the short entrant labels, and the page itself in headless Chromium (Debian's
chromium and chromium-driver, installed by ``.ci/install-chromium``): it renders at 1400 px
without sideways scrolling, every image loads, and the console has no errors."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import sys
import threading
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.games.record import NAMES as RECORD_FIELDS
from arena.games.record import as_record
from arena.ratings.labels import entrant_labels, humanize_steps
from arena.ratings.report import (
    FILES,
    TRADEMARK,
    bradley_terry_figure,
    history_figure,
    matrix_figure,
    write_report,
)
from arena.ratings.standings import bradley_terry, rated_log, rating_history, standings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SNAPSHOTS = [  # trained agents: long paths that differ only at the end
    "experiments/rac/snapshots/000000000000.pt",
    "experiments/rac/snapshots/000000102400.pt",
    "experiments/rac/snapshots/000001536000.pt",
    "experiments/ppo-pong-selfplay/snapshots/000000012800.pt",
]
NAMES = ["cpu", "random", *SNAPSHOTS] + [f"bot:tracker:{k}" for k in (1, 3, 5, 7, 8, 9)]
LABELS = {
    "experiments/rac/snapshots/000000000000.pt": "rac@0",
    "experiments/rac/snapshots/000000102400.pt": "rac@102k",
    "experiments/rac/snapshots/000001536000.pt": "rac@1.54M",
    "experiments/ppo-pong-selfplay/snapshots/000000012800.pt": "ppo-pong-selfplay@12.8k",
}
SKILL = dict(zip(NAMES, [1.2, -3.0, -2.8, -0.2, 1.8, 0.4, -1.5, -0.6, 0.2, 1.0, 1.6, 2.4]))  # log-odds
ERRORS = (17, 64, 65, 120)  # game indices that fail
PINNED = {"cpu": (25.0, 1.0)}
NOW = "2024-05-01T13:00:00+00:00"


def label(spec: str) -> str:
    return LABELS.get(spec, spec)


def slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", spec).strip("_")[:40]


def simulate(logs: Path, n_games: int = 150, seed: int = 7) -> list[dict]:
    """A Pong ladder's log: 12 entrants (four of them snapshots), random pairs, a few draws, four
    errored games, one log file per game, named as ``arena match`` names them (long)."""
    rng = np.random.default_rng(seed)
    logs.mkdir(parents=True, exist_ok=True)
    games = []
    for k in range(n_games):
        a, b = (str(x) for x in rng.choice(NAMES, 2, replace=False))
        if a == "cpu":  # the cartridge's CPU only plays the left paddle: keep it as b
            a, b = b, a
        p = 1 / (1 + np.exp(-(SKILL[a] - SKILL[b])))
        failed = k in ERRORS
        if failed:
            winner, score = None, (None, None)
        elif rng.random() < 0.04:
            winner, score = "draw", (15, 15)  # cut off at max_frames, level
        elif rng.random() < p:
            winner, score = "a", (21, int(rng.integers(0, 21)))
        else:
            winner, score = "b", (int(rng.integers(0, 21)), 21)
        seat = "right" if b == "cpu" or k % 2 else "left"
        other = "left" if seat == "right" else "right"
        log = logs / f"20240501T{10 + k // 60:02d}{k % 60:02d}00Z-{slug(a)}-vs-{slug(b)}-{4000 + k}.jsonl"
        log.write_text(json.dumps({"game": k + 1, "a": a, "b": b}) + "\n")
        games.append(
            {
                "id": k + 1,
                "uid": f"{k + 1:08x}",
                "leaderboard": "pong-ladder",
                "env": "pong",
                "options": {"points": 21},
                "a": a,
                "b": b,
                "a_hash": None,
                "b_hash": None,
                "a_seat": seat,
                "sides": {seat: a, other: b},
                "seed": 1000 + k,
                "score_a": score[0],
                "score_b": score[1],
                "winner": winner,
                "frames": None if failed else int(rng.integers(4000, 12000)),
                "wall_s": None if failed else float(rng.uniform(2, 6)),
                "status": "error" if failed else "ok",
                "error": "RuntimeError: emulator crashed <simulated> & gone" if failed else None,
                "finished_at": f"2024-05-01T{10 + k // 60:02d}:{k % 60:02d}:00+00:00",
                "log_path": str(log),
            }
        )
    return games


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``root/logs/*.jsonl`` and the report in ``root/report``."""
    root = tmp_path_factory.mktemp("leaderboard")
    games = simulate(root / "logs")
    index = write_report(root / "report", "pong-ladder", games, NAMES, PINNED, now=NOW)
    return root, games, index


# ---------------------------------------------------------------------------------------------
# Files and CSVs


def test_report_writes_every_file(site):
    root, _, index = site
    assert index == root / "report" / "index.html"
    for name in FILES:
        assert (root / "report" / name).stat().st_size > 0, name
    assert not list((root / "report").glob(".*"))  # no temporary files left behind


def test_entrants_csv(site):
    root, games, _ = site
    df = pd.read_csv(root / "report" / "entrants.csv")
    assert list(df.columns) == [
        "rank", "name", "mu", "sigma", "conservative", "games", "wins", "draws", "losses",
        "win_rate", "last_played", "pinned", "errors", "bt_elo", "bt_low", "bt_high",
    ]  # fmt: skip
    assert len(df) == len(NAMES) and sorted(df["name"]) == sorted(NAMES)
    rows = standings(games, NAMES, PINNED, now=NOW)
    assert df["name"].tolist() == [r.name for r in rows]  # in table order
    assert np.allclose(df["mu"], [r.mu for r in rows], rtol=0, atol=1e-12)
    assert np.allclose(df["conservative"], df["mu"] - 3 * df["sigma"], atol=1e-9)
    assert (df["wins"] + df["draws"] + df["losses"] == df["games"]).all()
    assert df["games"].sum() == 2 * (len(games) - len(ERRORS))
    assert df["errors"].sum() == 2 * len(ERRORS)
    assert df.loc[df["name"] == "cpu", "pinned"].item()
    assert df.loc[df["name"] == "cpu", "bt_elo"].item() == 0.0  # the BT anchor
    assert (df["bt_low"] <= df["bt_elo"]).all() and (df["bt_elo"] <= df["bt_high"]).all()


def test_games_csv(site):
    root, games, _ = site
    df = pd.read_csv(root / "report" / "games.csv")
    assert list(df.columns) == [*(f for f in RECORD_FIELDS if f != "traceback"), "rated"]
    assert len(df) == len(games) and df["id"].tolist() == [g["id"] for g in games]
    assert set(df["a"]) | set(df["b"]) == set(NAMES)  # full specs, not labels
    assert (df["status"] == "error").sum() == len(ERRORS)
    assert df["rated"].sum() == len(games) - len(ERRORS)
    assert not df.loc[df["status"] == "error", "rated"].any()
    assert df["winner"].isin(["a", "b", "draw"]).sum() == len(games) - len(ERRORS)
    assert (df["winner"] == "draw").sum() >= 1
    assert json.loads(df.loc[0, "sides"]) == games[0]["sides"]
    assert df["score_a"].isna().sum() == len(ERRORS)


def test_game_records_and_dicts_make_the_same_report(site, tmp_path):
    root, games, _ = site
    records = [as_record(g) for g in reversed(games)]  # and out of order: sorted by id
    write_report(tmp_path, "pong-ladder", records, NAMES, PINNED, now=NOW)
    for name in FILES:
        if name == "index.html":  # log links are relative to the folder
            continue
        assert (tmp_path / name).read_bytes() == (root / "report" / name).read_bytes(), name


# ---------------------------------------------------------------------------------------------
# The page's structure


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class Structure(HTMLParser):
    """Checks that every element is closed in order and collects ids, images and links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.svgs = 0
        self.declarations: list[str] = []

    def handle_decl(self, decl):
        self.declarations.append(decl)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            if not attrs.get("alt"):
                self.problems.append(f"img without alt: {attrs}")
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag == "svg":
            self.svgs += 1
        if tag in ("script", "iframe") or (tag == "link" and attrs.get("rel") == "stylesheet"):
            self.problems.append(f"external or scripted content: <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        # <circle .../> and friends inside inline SVG are self-closing
        if tag not in VOID and (not self.stack or "svg" not in self.stack):
            self.problems.append(f"self-closed <{tag}/> outside svg")
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def svg_size(path: Path) -> tuple[float, float]:
    svg = ET.parse(path).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    return float(svg.get("width").removesuffix("pt")), float(svg.get("height").removesuffix("pt"))


def test_page_is_well_formed_self_contained_and_complete(site):
    root, games, index = site
    text = index.read_text(encoding="utf-8")
    assert text.startswith('<!DOCTYPE html>\n<html lang="en">')
    page = Structure()
    page.feed(text)
    page.close()
    assert page.problems == [] and page.stack == []
    assert len(page.ids) == len(set(page.ids))
    assert "http://" not in text and "https://" not in text
    assert page.svgs == 0  # no inline SVG: the interval bars are HTML
    assert text.count('<div class="ci"') == len(NAMES)
    # every entrant by its short label, the full spec on hover; the model note, the trademark,
    # and which fit the second table shows
    for name in NAMES:
        assert f">{label(name)}<" in text
    for spec in SNAPSHOTS:
        assert f'title="{spec}">{label(spec)}<' in text
        assert f">{spec}<" not in text
    assert TRADEMARK in text
    assert "Bradley-Terry" in text and "order-independent" in text and "online" in text
    # the images exist, parse as SVG with a size that the page states, and name the entrants
    assert sorted(page.images) == sorted(["history.svg", "win_probability.svg", "observed.svg", "bradley_terry.svg"])
    for src in page.images:
        width, height = svg_size(root / "report" / src)
        assert width > 0 and height > 0
        shown = re.search(rf'<img src="{src}" width="(\d+)" height="(\d+)"', text)
        assert (int(shown[1]), int(shown[2])) == (round(width * 4 / 3), round(height * 4 / 3))
        svg = (root / "report" / src).read_text(encoding="utf-8")
        assert "<title>" in svg and "<script" not in svg
        for spec in SNAPSHOTS:  # matplotlib notes each text it draws as glyphs in a comment
            assert f"<!-- {label(spec)} -->" in svg, src
            assert spec not in svg
    # a link to every game's log, relative to the report, that resolves
    logs = [h for h in page.links if h.endswith(".jsonl")]
    assert len(logs) == len(games)
    assert all(h.startswith("../logs/") for h in logs)
    assert all((root / "report" / h).is_file() for h in logs)
    # the errored games are listed, escaped
    assert "emulator crashed &lt;simulated&gt; &amp; gone" in text


def ladder(n_entrants: int, n_games: int, seed: int = 0) -> tuple[list[str], list[dict]]:
    rng = np.random.default_rng(seed)
    names = [f"agent-{i:02d}" for i in range(n_entrants)]
    games = []
    for k in range(n_games):
        i, j = rng.choice(n_entrants, 2, replace=False)
        games.append({"id": k + 1, "env": "pong", "a": names[i], "b": names[j], "status": "ok",
                      "winner": str(rng.choice(["a", "b", "draw"])), "log_path": None,
                      "finished_at": "2024-05-01T12:00:00Z"})  # fmt: skip
    return names, games


def test_report_of_an_empty_and_a_large_leaderboard(tmp_path):
    empty = write_report(tmp_path / "empty", "nothing yet", [], ["a", "b"])
    assert pd.read_csv(tmp_path / "empty" / "entrants.csv")["games"].tolist() == [0, 0]
    assert len(pd.read_csv(tmp_path / "empty" / "games.csv")) == 0
    assert "No finished games yet" in empty.read_text(encoding="utf-8")
    # 30 entrants: the history falls back to one combined panel; matrices drop the numbers
    _, games = ladder(30, 600)
    write_report(tmp_path / "big", "big", games, n_bootstrap=20)
    for name in FILES:
        if name.endswith(".svg"):
            assert min(svg_size(tmp_path / "big" / name)) > 0
    assert len(pd.read_csv(tmp_path / "big" / "entrants.csv")) == 30


def test_report_is_reproducible(site, tmp_path):
    root, games, _ = site
    again = write_report(tmp_path, "pong-ladder", games, NAMES, PINNED, now=NOW)
    for name in FILES:
        if name == "index.html":  # log links are relative to the folder
            continue
        assert (tmp_path / name).read_bytes() == (root / "report" / name).read_bytes(), name
    fit = bradley_terry(games, NAMES, PINNED)
    df = pd.read_csv(again.parent / "entrants.csv").set_index("name")
    assert np.allclose(df.loc[fit.names, "bt_high"], fit.high, atol=1e-9)


def test_plotting_stays_out_of_imports():
    code = "import sys, arena.ratings.report, arena.training.curves; print('matplotlib' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_report_writes_into_arena_home_by_default(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from arena.cli import build_cli
    from arena.paths import report_dir
    from arena.ratings.store import MatchStore

    snapshot = "experiments/rac/snapshots/000000102400.pt"
    with MatchStore(tmp_path / "arena.db") as store:
        for a, b, winner in [(snapshot, "cpu", "a"), ("cpu", "random", "a"), (snapshot, "random", "draw")]:
            score = {"a": (21, 3), "b": (3, 21), "draw": (15, 15)}[winner]
            store.record("report-cli", {"env": "pong", "a": a, "b": b, "winner": winner, "score_a": score[0],
                                        "score_b": score[1], "status": "ok"})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARENA_DB", str(tmp_path / "arena.db"))
    monkeypatch.setenv("ARENA_LEADERBOARDS", str(tmp_path / "boards"))
    assert report_dir("report-cli") == tmp_path / "home" / "reports" / "report-cli"

    result = CliRunner().invoke(build_cli(), ["leaderboard", "report", "report-cli"])
    assert result.exit_code == 0, result.output
    index = report_dir("report-cli") / "index.html"
    assert result.output.strip() == f"wrote {index}"
    assert sorted(p.name for p in index.parent.iterdir()) == sorted(FILES)
    text = index.read_text(encoding="utf-8")
    assert f'title="{snapshot}">rac@102k<' in text
    assert pd.read_csv(index.parent / "entrants.csv")["name"].tolist()[0] == snapshot  # full specs

    elsewhere = tmp_path / "elsewhere"
    result = CliRunner().invoke(build_cli(), ["leaderboard", "report", "report-cli", "--out", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert (elsewhere / "index.html").is_file() and str(elsewhere / "index.html") in result.output


# ---------------------------------------------------------------------------------------------
# The figures


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_history_figure_small_multiples_and_one_panel():
    names, games = ladder(5, 60)
    log = rated_log(games)
    history = rating_history(log)
    labels = [f"L{i}" for i in range(5)]
    fig = history_figure([history[n] for n in log.names], ["#000000"] * 5, labels, len(log))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 5 and len(fig.axes) == 6  # 3 x 2, the sixth hidden
    # over each panel its label, and right of it the final mu ± 2 sigma
    assert [[t.get_text().split(" ")[0] for t in ax.texts] for ax in panels] == [[x, "μ"] for x in labels]
    long = history_figure([history[n] for n in log.names], ["#000000"] * 5, ["x" * 60] * 5, len(log))
    for ax in long.axes[:5]:  # no room beside a long label: the value moves into the panel
        title, final = ax.texts
        assert title.get_fontsize() < 10 and final.get_position() == (0.98, 0.04)
    assert panels[0].get_xlim() == (0, len(log))
    # each panel: the others' mu in grey, then its own band and line
    assert all(len(ax.get_lines()) == 5 and len(ax.collections) == 1 for ax in panels)
    line = panels[0].get_lines()[-1]
    assert line.get_xdata()[0] == 0 and line.get_xdata()[-1] == len(log)
    assert line.get_ydata()[-1] == pytest.approx(history[log.names[0]].mu[-1])

    names, games = ladder(30, 300)
    log = rated_log(games)
    history = rating_history(log)
    fig = history_figure([history[n] for n in log.names], ["#000000"] * 30, names, len(log))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names


def test_matrix_figure_cells():
    value = np.array([[np.nan, 0.75, 0.2], [0.25, np.nan, 0.5], [0.8, 0.5, np.nan]])
    counts = np.array([[0, 4, 0], [4, 0, 2], [0, 2, 0]])
    fig = matrix_figure(["a", "b", "c"], value, counts)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert sorted(texts(fig)) == sorted(["75%", "n=4", "25%", "n=4", "50%", "n=2", "50%", "n=2", "–", "–",
                                         "row vs column"])  # fmt: skip
    fig = matrix_figure(["a", "b", "c"], value)  # predicted: every off-diagonal cell
    assert sorted(t for t in texts(fig) if t.endswith("%")) == ["20%", "25%", "50%", "50%", "75%", "80%"]
    many = matrix_figure([f"e{i}" for i in range(30)], np.full((30, 30), 0.5))
    assert texts(many) == ["row vs column"]  # cells too small for numbers


def test_bradley_terry_figure_strongest_first():
    names, games = ladder(4, 80, seed=3)
    games.append({"id": 999, "env": "pong", "a": "agent-00", "b": "newcomer", "status": "error",
                  "error": "boom", "finished_at": "2024-05-01T12:00:00Z"})  # fmt: skip
    fit = bradley_terry(games, [*names, "newcomer"], n_bootstrap=10)
    labels = {n: n.upper() for n in fit.names}
    fig = bradley_terry_figure(fit, {}, labels)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [labels[fit.names[i]] for i in fit.order()]
    assert texts(fig) == ["no games"]
    assert len(ax.get_lines()) == 1 + 4  # the zero line and four points


# ---------------------------------------------------------------------------------------------
# Entrant labels


def test_humanize_steps():
    cases = {0: "0", 768: "768", 999: "999", 1000: "1k", 12_800: "12.8k", 102_400: "102k",
             999_999: "1M", 1_500_000: "1.5M", 2_000_000_000: "2G"}  # fmt: skip
    assert {n: humanize_steps(n) for n in cases} == cases


def test_entrant_labels():
    specs = [
        "experiments/rac/snapshots/000000102400.pt",
        "experiments/rac/snapshots/000000000000.pt",
        "experiments/rac",
        "experiments/dqn/",
        "./experiments/a2c",
        "cpu",
        "cpu:9",
        "bot:tracker:9",
        "random",
        "models/best.pt",
    ]
    assert entrant_labels(specs) == {
        "experiments/rac/snapshots/000000102400.pt": "rac@102k",
        "experiments/rac/snapshots/000000000000.pt": "rac@0",
        "experiments/rac": "rac",
        "experiments/dqn/": "dqn",
        "./experiments/a2c": "a2c",
        "cpu": "cpu",
        "cpu:9": "cpu:9",
        "bot:tracker:9": "bot:tracker:9",
        "random": "random",
        "models/best.pt": "best.pt",
    }


def test_entrant_labels_tell_clashes_apart():
    labels = entrant_labels([
        "experiments/rac/snapshots/000000102400.pt",
        "experiments/rac/snapshots/000000102450.pt",  # the same at 3 digits: exact steps
        "runs/a/rac/snapshots/000001536000.pt",
        "runs/b/rac/snapshots/000001536000.pt",  # another experiment named rac: its parent folder
        "experiments/random",  # named like a built-in spec: its parent folder
        "random",
        "rac/snapshots/000000000768.pt",
        "./rac/snapshots/000000000768.pt",  # the same file spelled two ways: the specs themselves
        "other/rac/snapshots/000000000768.pt",
    ])  # fmt: skip
    assert labels == {
        "experiments/rac/snapshots/000000102400.pt": "rac@102,400",
        "experiments/rac/snapshots/000000102450.pt": "rac@102,450",
        "runs/a/rac/snapshots/000001536000.pt": "a/rac@1.54M",
        "runs/b/rac/snapshots/000001536000.pt": "b/rac@1.54M",
        "experiments/random": "experiments/random",
        "random": "random",
        "rac/snapshots/000000000768.pt": "rac/snapshots/000000000768.pt",
        "./rac/snapshots/000000000768.pt": "./rac/snapshots/000000000768.pt",
        "other/rac/snapshots/000000000768.pt": "other/rac@768",
    }
    assert len(set(labels.values())) == len(labels)
    assert entrant_labels([]) == {}


# ---------------------------------------------------------------------------------------------
# Headless Chromium


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    root, _, _ = site
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: run .ci/install-chromium (Debian's chromium)")
    if not CHROMEDRIVER.exists():
        pytest.skip(f"{CHROMEDRIVER} is absent: run .ci/install-chromium (chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1400,1000", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_page_renders_in_headless_chromium(site, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/report/index.html")  # returns after the load event
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.title == "pong-ladder · Arena leaderboard"
    assert browser.find_element(By.TAG_NAME, "h1").text == "pong-ladder"

    rows = browser.find_elements(By.CSS_SELECTOR, "table.standings tbody tr")
    assert len(rows) == len(NAMES)
    shown = [r.find_element(By.CSS_SELECTOR, ".spec") for r in rows]
    assert sorted(x.text for x in shown) == sorted(label(n) for n in NAMES)
    assert sorted(x.get_attribute("title") or x.text for x in shown) == sorted(NAMES)  # hover
    assert all(r.is_displayed() and r.size["height"] > 0 for r in rows)

    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == 4
    for src, complete, width, height in images:
        assert complete and width > 0 and height > 0, src
    assert browser.execute_script("return document.querySelectorAll('svg').length") == 0
    bars = browser.execute_script(  # the interval bars: a track, a band, a tick and a dot
        "return Array.from(document.querySelectorAll('td.bar .ci')).map(c => "
        "[c.getBoundingClientRect().width, c.querySelector('.band').getBoundingClientRect().width, "
        "c.querySelector('.mu').getBoundingClientRect().width])"
    )
    assert len(bars) == len(NAMES) and all(w > 100 and band > 0 and dot > 0 for w, band, dot in bars)

    # at 1400 px every table fits: no container scrolls sideways (older games opened too),
    # and neither does the page
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert browser.execute_script("return window.innerWidth") == 1400
    scrolls = browser.execute_script(
        "return Array.from(document.querySelectorAll('.scroll')).map(s => "
        "[s.querySelector('table').className, s.scrollWidth, s.clientWidth])"
    )
    assert len(scrolls) == 5  # standings, Bradley-Terry, errors, games and older games
    for table, scroll_width, client_width in scrolls:
        assert 0 < scroll_width <= client_width, table
    assert browser.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    logs = browser.find_elements(By.CSS_SELECTOR, "a[href$='.jsonl']")
    assert len(logs) == len(site[1])
    # a log link leads to the log (served from the same root)
    status = browser.execute_script("return fetch(arguments[0]).then(r => r.status)", logs[0].get_attribute("href"))
    assert status == 200

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
