"""The leaderboard report: its files, its CSVs (read back with pandas), the HTML's structure, and
the page itself in headless Chromium (Debian's chromium and chromium-driver, installed by
``.ci/install-chromium``): it renders, every image loads, and the console has no errors."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.ratings.report import FILES, TRADEMARK, write_report
from arena.ratings.standings import GAME_FIELDS, bradley_terry, standings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NAMES = ["cpu", "random"] + [f"bot:tracker:{k}" for k in (1, 3, 5, 7, 8, 9)]
SKILL = dict(zip(NAMES, [1.2, -3.0, -1.5, -0.6, 0.2, 1.0, 1.6, 2.4]))  # log-odds
ERRORS = (17, 64, 65, 120)  # game indices that fail
PINNED = {"cpu": (25.0, 1.0)}
NOW = "2024-05-01T13:00:00+00:00"


def simulate(logs: Path, n_games: int = 150, seed: int = 7) -> list[dict]:
    """A Pong ladder's log: 8 entrants, random pairs, a few draws, four errored games, one log
    file per game."""
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
        log = logs / f"game-{k + 1:04d}.jsonl"
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
    root, games, index = site
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
    assert list(df.columns) == [*GAME_FIELDS, "rated"]
    assert len(df) == len(games) and df["id"].tolist() == [g["id"] for g in games]
    assert (df["status"] == "error").sum() == len(ERRORS)
    assert df["rated"].sum() == len(games) - len(ERRORS)
    assert not df.loc[df["status"] == "error", "rated"].any()
    assert df["winner"].isin(["a", "b", "draw"]).sum() == len(games) - len(ERRORS)
    assert (df["winner"] == "draw").sum() >= 1
    assert json.loads(df.loc[0, "sides"]) == games[0]["sides"]
    assert df["score_a"].isna().sum() == len(ERRORS)


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


def test_page_is_well_formed_self_contained_and_complete(site):
    root, games, index = site
    text = index.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    page = Structure()
    page.feed(text)
    page.close()
    assert page.problems == [] and page.stack == []
    assert len(page.ids) == len(set(page.ids))
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    # every entrant, the model note, the trademark, and which fit the second table shows
    for name in NAMES:
        assert f">{name}<" in text
    assert TRADEMARK in text
    assert "Bradley-Terry" in text and "order-independent" in text and "online" in text
    # the images exist and parse as SVG with a size
    assert sorted(page.images) == sorted(
        ["history.svg", "win_probability.svg", "observed.svg", "bradley_terry.svg"]
    )
    for src in page.images:
        svg = ET.parse(root / "report" / src).getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert float(svg.get("width")) > 0 and float(svg.get("height")) > 0
    # a link to every game's log, relative to the report, that resolves
    logs = [h for h in page.links if h.endswith(".jsonl")]
    assert len(logs) == len(games)
    assert all(h.startswith("../logs/") for h in logs)
    assert all((root / "report" / h).is_file() for h in logs)
    # the errored games are listed, escaped
    assert "emulator crashed &lt;simulated&gt; &amp; gone" in text


def test_report_of_an_empty_and_a_large_leaderboard(tmp_path):
    empty = write_report(tmp_path / "empty", "nothing yet", [], ["a", "b"])
    assert pd.read_csv(tmp_path / "empty" / "entrants.csv")["games"].tolist() == [0, 0]
    assert len(pd.read_csv(tmp_path / "empty" / "games.csv")) == 0
    assert "No finished games yet" in empty.read_text(encoding="utf-8")
    # 30 entrants: the history falls back to one combined panel; matrices drop the numbers
    rng = np.random.default_rng(0)
    names = [f"agent-{i:02d}" for i in range(30)]
    games = []
    for k in range(600):
        i, j = rng.choice(30, 2, replace=False)
        games.append({"id": k + 1, "a": names[i], "b": names[j], "status": "ok",
                      "winner": str(rng.choice(["a", "b", "draw"])), "log_path": None,
                      "finished_at": "2024-05-01T12:00:00Z"})  # fmt: skip
    write_report(tmp_path / "big", "big", games, n_bootstrap=20)
    for name in FILES:
        if name.endswith(".svg"):
            ET.parse(tmp_path / "big" / name)
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
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (the test extra)"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1280,900", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_page_renders_in_headless_chromium(site, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/report/index.html")  # returns after the load event
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    assert browser.title == "pong-ladder · Arena leaderboard"
    assert browser.find_element(By.TAG_NAME, "h1").text == "pong-ladder"

    rows = browser.find_elements(By.CSS_SELECTOR, "table.standings tbody tr")
    assert len(rows) == len(NAMES)
    shown = [r.find_element(By.CSS_SELECTOR, ".spec").text for r in rows]
    assert sorted(shown) == sorted(NAMES)
    assert all(r.is_displayed() and r.size["height"] > 0 for r in rows)

    images = browser.execute_script(
        "return Array.from(document.images).map(i => "
        "[i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == 4
    for src, complete, width, height in images:
        assert complete and width > 0 and height > 0, src
    inline = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg')).map(s => "
        "s.getBoundingClientRect().width)"
    )
    assert len(inline) == len(NAMES) and min(inline) > 0  # the interval bars

    logs = browser.find_elements(By.CSS_SELECTOR, "a[href$='.jsonl']")
    assert len(logs) == len(site[1])
    # a log link leads to the log (served from the same root)
    status = browser.execute_script(
        "return fetch(arguments[0]).then(r => r.status)", logs[0].get_attribute("href")
    )
    assert status == 200

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
