"""``arena melee check``: one traced run of the real game, for a user who has the disc.

It boots Dolphin, drives the menus to a match against the game's CPU, checks each reading
against what it should be at that point, holds the stick to see the agent's fighter move, plays a
few seconds, quits to the character select and stops Dolphin. Every scene change, every address
read and every pad input goes into a trace; the report (Markdown) holds the steps, what was seen
of the things only the disc can confirm, Dolphin's log and the trace, for a bug report.

A step that fails is one line naming the step and what was read; the steps that need it are
skipped, and the report is written either way.
"""

from __future__ import annotations

import platform
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from arena.errors import ArenaError, one_line
from arena_melee import MeleeOptions
from arena_melee.dolphin import read_disc_header
from arena_melee.env import MeleeEnv
from arena_melee.memory import CPU_LEVEL, FRAME, PORT_TYPE, SCENE_BLOCK, SLIDER_HELD, STAGE, MeleeMemory
from arena_melee.menus import slider_position
from arena_melee.pads import ACTION_MEANINGS, NUM_ACTIONS
from arena_melee.state import PORT_CPU, PORT_TYPE_NAMES, GameState, MenuState, Scene, scene_of
from arena_melee.tables import CHARACTER_BY_EXTERNAL, CHARACTERS, STAGE_BY_ID

OK, FAIL, WARN, SKIPPED = "ok", "FAIL", "warn", "skipped"
CPU_PORT, AGENT_PORT = 1, 2
STOCKS = 4  # a stock match's stocks at the start: VS mode's default stock count
MOVE_FRAMES = 180  # the stick is held right up to 3 s: the game may not take input before "GO"
MOVED = 1.0  # how far the fighter must move to count as moved
FPS = 60
SHOWN_BYTES = 16  # a longer read shows its first bytes and a checksum in the trace


@dataclass
class Step:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<7} {self.name}: {self.detail}"


@dataclass
class Event:
    t: float
    frame: int | None
    kind: str  # scene, read, input, step
    text: str


@dataclass
class Trace:
    """Scene changes, reads and pad inputs. A read is listed when its value differs from the last
    read of that address (the frame counter is every line's frame instead); an input when the
    port's pad changes."""

    events: list[Event] = field(default_factory=list)
    reads: dict[tuple[int, int], int] = field(default_factory=dict)  # (address, size) -> how many reads
    menus: list[MenuState] = field(default_factory=list)
    frame: int | None = None
    _t0: float = field(default_factory=time.monotonic)
    _last: dict[tuple[int, int], bytes] = field(default_factory=dict)
    _pads: dict[int, str] = field(default_factory=dict)
    _scene: tuple[int, int] | None = None

    def add(self, kind: str, text: str) -> None:
        self.events.append(Event(time.monotonic() - self._t0, self.frame, kind, text))

    def read(self, address: int, data: bytes) -> None:
        key = (address, len(data))
        self.reads[key] = self.reads.get(key, 0) + 1
        if address == FRAME and len(data) == 4:
            self.frame = struct.unpack(">I", data)[0]
            data = b""  # listed once: its value is every line's frame
        elif address == SCENE_BLOCK and len(data) >= 0x34:
            self.frame = struct.unpack_from(">I", data, 0x30)[0]
            scene = (data[0], data[3])
            if scene != self._scene:
                self._scene = scene
                self.add("scene", f"{scene_of(*scene).value} (major scene {scene[0]}, minor scene {scene[1]})")
            data = data[:4]
        if self._last.get(key) != data:
            self._last[key] = data
            self.add("read", f"{address:#010x} [{len(data) if data else 4}] = {_shown(data)}")

    def pad(self, port: int, commands: bytes) -> None:
        text = pad_text(commands)
        if self._pads.get(port) != text:
            self._pads[port] = text
            self.add("input", f"port {port}: {text}")

    def lines(self) -> list[str]:
        return [f"{e.t:8.3f} {'' if e.frame is None else e.frame:>10} {e.kind:<6} {e.text}" for e in self.events]


def _shown(data: bytes) -> str:
    if not data:
        return "(the frame counter)"
    if len(data) <= SHOWN_BYTES:
        return data.hex(" ")
    return f"{data[:SHOWN_BYTES].hex(' ')} ... (crc32 {zlib.crc32(data):08x})"


def pad_text(commands: bytes) -> str:
    """A pad state as a person reads it: the pressed buttons and whatever is off neutral."""
    pressed, moved = [], []
    for line in commands.decode("ascii").splitlines():
        op, *args = line.split()
        if op == "PRESS":
            pressed.append(args[0])
        elif op == "SET" and args[0] in ("MAIN", "C") and (float(args[1]), float(args[2])) != (0.5, 0.5):
            moved.append(f"{args[0].lower()}=({args[1]}, {args[2]})")
        elif op == "SET" and args[0] in ("L", "R") and float(args[1]) != 0:
            moved.append(f"{args[0]}={args[1]}")
    return " ".join(pressed + moved) or "released"


class TracedMemory(MeleeMemory):
    def __init__(self, name, check, trace: Trace):
        super().__init__(name, check)
        self.trace = trace

    def _bytes(self, address: int, size: int) -> bytes:
        data = super()._bytes(address, size)
        self.trace.read(address, data)
        return data

    def read_menu(self, ports=(1, 2)) -> MenuState:
        menu = super().read_menu(ports)
        self.trace.menus.append(menu)
        return menu


class TracedEnv(MeleeEnv):
    """The Melee env with every read and input traced, and the stage check recorded, not raised."""

    def __init__(self, options: MeleeOptions, cpu_level: int, trace: Trace):
        self.trace = trace
        self.stage_read: int | None = None
        super().__init__(options, cpu_level)

    def _make_memory(self) -> MeleeMemory:
        return TracedMemory(self._dolphin.name, self._dolphin.check, self.trace)

    def _send(self, port: int, data: bytes) -> None:
        self.trace.pad(port, data)
        super()._send(port, data)

    def _verify_stage(self, state: GameState) -> None:
        self.stage_read = state.stage  # the check reports it as its own step, and plays on

    @property
    def memory(self) -> MeleeMemory:
        return self._memory


@dataclass
class CheckResult:
    steps: list[Step]
    report: Path

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if s.status == FAIL]


class _Skip(Exception):
    pass


class MeleeCheck:
    """The steps, in order; each records one :class:`Step`. ``echo`` gets each step's line."""

    def __init__(self, options: MeleeOptions, level: int, seconds: float, echo: Callable[[str], None] = print):
        self.options = options
        self.level = level
        self.seconds = seconds
        self.echo = echo
        self.trace = Trace()
        self.steps: list[Step] = []
        self.env: TracedEnv | None = None
        self.dolphin_version = ""
        self.dolphin_log = ""
        self.seen: list[str] = []

    def record(self, name: str, status: str, detail: str) -> Step:
        step = Step(name, status, one_line(detail))
        self.steps.append(step)
        self.trace.add("step", step.line())
        self.echo(step.line())
        return step

    def step(self, name: str, run: Callable[[], tuple[str, str]], needs: tuple[str, ...] = ()) -> bool:
        """Run one step unless a step it needs did not pass; True if it passed (or only warned)."""
        missing = [n for n in needs if not any(s.name == n and s.status in (OK, WARN) for s in self.steps)]
        if missing:
            self.record(name, SKIPPED, f"needs {', '.join(missing)}")
            return False
        try:
            status, detail = run()
        except ArenaError as exc:
            status, detail = FAIL, str(exc)
        self.record(name, status, detail)
        return status in (OK, WARN)

    # -- the steps -----------------------------------------------------------------------------

    def _disc(self) -> tuple[str, str]:
        header = read_disc_header(Path(self.options.iso))
        return OK, f"{self.options.iso}: game {header[:6].decode('ascii')}, revision {header[7]} (NTSC 1.02)"

    def _dolphin(self) -> tuple[str, str]:
        try:
            out = subprocess.run(
                [self.options.dolphin, "--version"], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
            )
            self.dolphin_version = (out.stdout.strip() or out.stderr.strip()).splitlines()[0] if out.stdout or out.stderr else ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            return WARN, f"{self.options.dolphin} --version did not answer ({one_line(exc)}); going on"
        if out.returncode != 0 or not self.dolphin_version:
            return (
                WARN,
                f"{self.options.dolphin} --version exited {out.returncode} ({self.dolphin_version or 'no output'}); going on",
            )
        return OK, f"{self.options.dolphin}: {self.dolphin_version}"

    def _boot(self) -> tuple[str, str]:
        start = time.monotonic()
        self.env = TracedEnv(self.options, self.level, self.trace)
        return OK, (
            f"Dolphin started (pid {self.env.dolphin_pid}), opened both pad pipes, and dolphin-memory-engine "
            f"hooked it in {time.monotonic() - start:.1f}s"
        )

    def _frames(self) -> tuple[str, str]:
        memory = self.env.memory
        first, start = memory.read_frame(), time.monotonic()
        last = self.env._wait_frames(first, 60)
        elapsed = time.monotonic() - start
        scene = memory.read_menu().scene
        if last < first:
            return WARN, f"the frame counter went from {first} back to {last} (a reset?) on the {scene.value} screen"
        return (
            OK,
            f"{FRAME:#010x} went {first} -> {last} in {elapsed:.2f}s ({(last - first) / max(elapsed, 1e-9):.0f} frames/s) on the {scene.value} screen",
        )

    def _menus(self) -> tuple[str, str]:
        start = time.monotonic()
        self.env.reset()
        path = [e.text.split(" (")[0] for e in self.trace.events if e.kind == "scene"]
        return OK, f"{' -> '.join(path)} in {time.monotonic() - start:.1f}s"

    def _state(self) -> GameState:
        return self.env.memory.read_state()

    def _stage(self) -> tuple[str, str]:
        want = self.env.stage
        got = self.env.stage_read
        read = f"{STAGE:#010x} reads {got} ({STAGE_BY_ID.get(got, 'not a stage Arena knows')})"
        if got != want.stage_id:
            return FAIL, f"{read}, want {want.stage_id} ({want.name})"
        return OK, read

    def _cpu_level(self) -> tuple[str, str]:
        memory = self.env.memory
        offset = 0x24 * (CPU_PORT - 1)
        level = memory.read_bytes(CPU_LEVEL + offset, 1)[0]
        kind = memory.read_bytes(PORT_TYPE + offset, 1)[0]
        read = (
            f"port {CPU_PORT}'s level byte {CPU_LEVEL + offset:#010x} reads {level}, "
            f"its port type {PORT_TYPE + offset:#010x} reads {kind} ({PORT_TYPE_NAMES.get(kind, 'unknown')})"
        )
        if level != self.level or kind != PORT_CPU:
            return FAIL, f"{read}; want level {self.level}, CPU"
        return OK, read

    def _characters(self) -> tuple[str, str]:
        players = self._state().players
        want = {CPU_PORT: CHARACTERS[self.options.cpu_char], AGENT_PORT: CHARACTERS[self.options.char]}
        parts, wrong = [], False
        for port in (CPU_PORT, AGENT_PORT):
            got = players[port].character
            parts.append(f"port {port} reads {got:#04x} ({CHARACTER_BY_EXTERNAL.get(got, 'unknown')})")
            wrong |= got != want[port].external_id
        read = "character (static + 0x04): " + ", ".join(parts)
        if wrong:
            return FAIL, f"{read}; want {want[CPU_PORT].name} and {want[AGENT_PORT].name}"
        return OK, read

    def _stocks(self) -> tuple[str, str]:
        players = self._state().players
        stocks = (players[CPU_PORT].stocks, players[AGENT_PORT].stocks)
        read = f"stocks (static + 0x8E) read {stocks[0]} and {stocks[1]}"
        if stocks == (0, 0):
            return WARN, (
                f"{read}: a time match, as the memory card's VS rules say (a fresh Dolphin folder has the "
                f"game's defaults); for stock matches set Stock in VS rules and pass --user-dir"
            )
        if stocks != (STOCKS, STOCKS):
            return FAIL, f"{read}; want {STOCKS} each in a stock match"
        return OK, read

    def _inputs(self) -> tuple[str, str]:
        # The agent's pad holds the stick right until its fighter moves right: the pipe pads reach
        # the game, and the x the reader sees is the fighter's.
        right = ACTION_MEANINGS.index("right")
        start = self._state().players[AGENT_PORT].x
        x, frames = start, 0
        while frames < MOVE_FRAMES:
            _, _, terminated, truncated, infos = self.env.step({"p2": right})
            frames = infos["p2"]["frames"]
            x = self._state().players[AGENT_PORT].x
            if x - start > MOVED or terminated["p2"] or truncated["p2"]:
                break
        if not x - start > MOVED:
            return FAIL, (
                f"port {AGENT_PORT}'s fighter did not move right while its pad held the stick right for {frames} frames "
                f"(x {start:.1f} -> {x:.1f}): pad input does not reach the game, or x is not the fighter's"
            )
        return OK, f"holding the stick right moved port {AGENT_PORT}'s fighter from x {start:.1f} to {x:.1f} in {frames} frames"

    def _play(self) -> tuple[str, str]:
        rng = np.random.default_rng(0)
        start, first = time.monotonic(), self.env.frames
        want = int(self.seconds * FPS)
        steps = 0
        ended = ""
        while self.env.frames - first < want:
            _, _, terminated, truncated, _ = self.env.step({"p2": int(rng.integers(NUM_ACTIONS))})
            steps += 1
            if terminated["p2"] or truncated["p2"]:
                ended = ", and the game ended"
                break
        elapsed = time.monotonic() - start
        frames = self.env.frames - first
        state = self._state()
        scene = state.scene
        p1, p2 = state.players[CPU_PORT], state.players[AGENT_PORT]
        read = (
            f"{steps} random steps, {frames} frames in {elapsed:.1f}s ({frames / max(elapsed, 1e-9):.0f} frames/s){ended}; "
            f"percent {p1.percent} and {p2.percent}, stocks {p1.stocks} and {p2.stocks}, now {scene.value}"
        )
        if not ended and scene is not Scene.IN_GAME:
            return FAIL, f"{read}: the game left the in-game scene while playing"
        return OK, read

    def _quit(self) -> tuple[str, str]:
        start = time.monotonic()
        self.env.quit_game()
        return OK, f"back on the character select in {time.monotonic() - start:.1f}s"

    def _stop(self) -> tuple[str, str]:
        dolphin = self.env._dolphin
        self.dolphin_log = _read(dolphin.log_path)
        self.env.close()
        code = dolphin.proc.returncode if dolphin.proc is not None else None
        if code not in (0, None, -15):
            return WARN, f"Dolphin exited with status {code} when stopped"
        return OK, "Dolphin stopped, its folder removed"

    def _seen(self) -> list[str]:
        """What the menus showed of the things that need the disc to confirm."""
        menus = self.trace.menus
        lines = []
        for port in (CPU_PORT, AGENT_PORT):
            hands = sorted({m.hands.get(port) for m in menus if m.scene is Scene.CHARACTER_SELECT} - {None})
            lines.append(f"port {port}'s hand-state byte took the values {hands} on the character select (2 = empty)")
        grabs = [
            (menus[i].cursors.get(CPU_PORT), menus[i - 1].cpu_levels.get(CPU_PORT))
            for i in range(1, len(menus))
            if menus[i].sliders_held.get(CPU_PORT) and not menus[i - 1].sliders_held.get(CPU_PORT)
        ]
        for cursor, level in grabs:
            if cursor is not None and level:
                x, y = slider_position(CPU_PORT, level)
                lines.append(
                    f"the level slider ({SLIDER_HELD:#010x}) was grabbed with the hand at ({cursor[0]:.1f}, {cursor[1]:.1f}); "
                    f"Arena expects level {level}'s handle at ({x:.1f}, {y:.1f})"
                )
        if not grabs:
            lines.append("the level slider was never seen held")
        cursors = [m.stage_cursor for m in menus if m.scene is Scene.STAGE_SELECT and m.stage_cursor is not None]
        if cursors:
            lines.append(
                f"the stage-select cursor was read through the pointer chain {len(cursors)} times, last at ({cursors[-1][0]:.1f}, {cursors[-1][1]:.1f})"
            )
        else:
            lines.append("the stage-select cursor was never read (no stage select seen, or its pointer chain was null)")
        menu_frames = sorted({m.frame for m in menus if m.scene is not Scene.IN_GAME})
        lines.append(f"the frame counter took {len(menu_frames)} distinct values on menu screens")
        return lines

    # -- all of it -----------------------------------------------------------------------------

    def run(self) -> list[Step]:
        try:
            self.step("disc", self._disc)
            self.step("dolphin", self._dolphin)
            self.step("boot", self._boot)
            self.step("frame counter", self._frames, ("boot",))
            self.step("menus", self._menus, ("frame counter",))
            game = ("menus",)
            self.step("stage", self._stage, game)
            self.step("cpu level", self._cpu_level, game)
            self.step("characters", self._characters, game)
            self.step("stocks", self._stocks, game)
            self.step("inputs", self._inputs, game)
            self.step("play", self._play, game)
            self.step("quit", self._quit, ("play",))
        except KeyboardInterrupt:
            self.record("interrupted", FAIL, "stopped with Ctrl-C")
            raise
        finally:
            self.seen = self._seen()
            if self.env is not None:
                self.step("stop", self._stop)
        return self.steps


def _read(path: Path | None) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        return ""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_report(check: MeleeCheck, path: Path) -> None:
    options = check.options
    failed = [s for s in check.steps if s.status == FAIL]
    out = [
        "# arena melee check",
        "",
        f"Result: {'FAILED at ' + ', '.join(s.name for s in failed) if failed else 'every step passed'}.",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- arena {_version('arena-rl')}, dolphin-memory-engine {_version('dolphin-memory-engine')}, "
        f"Python {platform.python_version()}, {platform.platform()}",
        f"- Dolphin: {options.dolphin} ({check.dolphin_version or 'version unknown'})",
        f"- disc image: {options.iso} ({Path(options.iso).stat().st_size:,} bytes)",
        f"- match: port {AGENT_PORT} {options.char} against port {CPU_PORT}'s CPU {options.cpu_char} at level {check.level}, "
        f"{options.stage}; {check.seconds:g} s of play; user folder {options.user_dir or 'fresh'}; timeout {options.timeout:g} s",
        "",
        "## Steps",
        "",
        "| step | result | what was read |",
        "|---|---|---|",
        *(f"| {s.name} | {s.status} | {s.detail.replace('|', '/')} |" for s in check.steps),
        "",
        "## Seen in the menus",
        "",
        *(f"- {line}" for line in check.seen or ["nothing: the menus were never read"]),
        "",
        "## Reads per address",
        "",
        "```",
        *(f"{address:#010x} [{size}] x {count}" for (address, size), count in sorted(check.trace.reads.items())),
        "```",
        "",
        "## Dolphin's output",
        "",
        "```",
        *(check.dolphin_log.splitlines()[-200:] or ["(none)"]),
        "```",
        "",
        "## Trace",
        "",
        "Seconds since the check started, the frame counter when last read, then each scene change, "
        "each read whose value changed, and each change of a pad.",
        "",
        "```",
        *check.trace.lines(),
        "```",
        "",
    ]
    path.write_text("\n".join(out), encoding="utf-8")


def run_check(
    options: MeleeOptions, level: int, seconds: float, report: Path, echo: Callable[[str], None] = print
) -> CheckResult:
    check = MeleeCheck(options, level, seconds, echo)
    try:
        check.run()
    finally:
        write_report(check, report)
    return CheckResult(check.steps, report)


def default_report_name() -> str:
    return time.strftime("melee-check-%Y%m%d-%H%M%S.md")
