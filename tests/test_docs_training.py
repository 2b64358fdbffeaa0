"""docs/training.md's hyperparameter tables say what the code says.

Every ``| parameter | default | names | meaning |`` table is checked row by row against the
dataclass it documents: the table under ``## Hyperparameters`` against :class:`CommonParams`, and a
table under a heading naming an algorithm in backticks (e.g. ``### `ppo` ``) against that
algorithm's ``params_class``. A default changed in the code fails here with the row to update.
"""

from __future__ import annotations

import re
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pytest

from arena.training.params import CommonParams, describe

DOC = Path(__file__).resolve().parents[1] / "docs" / "training.md"


@dataclass
class Row:
    line: int  # 1-based line number in docs/training.md
    name: str
    default: str
    names: str
    text: str  # the row as written


@dataclass
class Table:
    heading: str  # the nearest heading above the table, without the #s
    line: int
    rows: list[Row]


def cells(line: str) -> list[str]:
    """The cells of a markdown table row; ``\\|`` inside a cell is not a separator."""
    inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def unquote(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == "`" else cell


def tables(text: str) -> list[Table]:
    """Every table whose header starts ``parameter | default``, with the heading it sits under."""
    out: list[Table] = []
    heading, lines, i = "", text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        header = cells(line) if line.lstrip().startswith("|") else []
        if [h.lower() for h in header[:2]] == ["parameter", "default"]:
            table = Table(heading, i + 1, [])
            i += 2  # the header and the |---| line
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                row = cells(lines[i])
                names = row[2] if len(row) > 2 and header[2].lower() == "names" else ""
                table.rows.append(Row(i + 1, unquote(row[0]), row[1], unquote(names), lines[i].strip()))
                i += 1
            out.append(table)
            continue
        i += 1
    return out


def params_class_for(table: Table) -> tuple[str, type]:
    """The dataclass a table documents: an algorithm named in backticks in its heading, else CommonParams."""
    named = re.findall(r"`([\w.-]+)`", table.heading)
    if named:
        from arena.plugins.manager import get_arena

        return named[0], get_arena().algorithms.get(named[0]).params_class()
    return "CommonParams", CommonParams


def parse_default(kind: Any, text: str) -> Any:
    """The doc's default cell as a value of the field's type (raises ValueError if it is not one)."""
    raw = unquote(text)
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"'{text}' is not true or false")
    if kind is int:
        value = float(raw.replace(",", "").replace("_", ""))
        if not value.is_integer():
            raise ValueError(f"'{text}' is not an integer")
        return int(value)
    if kind is float:
        return float(raw)
    if raw in ('""', "''", "(none)"):
        return ""
    if typing.get_origin(kind) is Literal or kind is str:
        return raw
    return kind(raw)


def expected_row(cls: type, name: str) -> str:
    """How the row's first three cells should read, for the failure message."""
    f = next(f for f in fields(cls) if f.name == name)
    default = f.default if f.default is not MISSING else None
    if isinstance(default, bool):
        shown = "true" if default else "false"
    elif isinstance(default, float):
        shown = f"{default:g}"
    else:
        shown = '""' if default == "" else f"{default}"
    return f"| `{name}` | {shown} | {expected_names(f)} | ..."


def expected_names(f) -> str:
    if not f.metadata.get("naming", True):
        return "no"
    return f"`{f.metadata.get('short') or f.name}`"


DOC_TABLES = tables(DOC.read_text(encoding="utf-8"))


def test_the_doc_has_a_common_hyperparameter_table():
    common = [t for t in DOC_TABLES if params_class_for(t)[1] is CommonParams]
    assert len(common) == 1, (
        f"docs/training.md should have exactly one '| parameter | default | names | meaning |' table for CommonParams "
        f"(under '## Hyperparameters'); found {len(common)}"
    )


@pytest.mark.parametrize("table", DOC_TABLES, ids=lambda t: f"{t.heading}@{t.line}")
def test_every_documented_default_is_the_code_s(table: Table):
    owner, cls = params_class_for(table)
    hints = typing.get_type_hints(cls)
    code = {name: (default, naming) for name, _type, default, _help, naming in describe(cls)}
    by_name = {f.name: f for f in fields(cls)}
    problems = []
    for row in table.rows:
        where = f"docs/training.md:{row.line} (table under '{table.heading}')"
        if row.name not in code:
            problems.append(f"{where}: row `{row.name}` documents no field of {owner}; remove or rename it")
            continue
        try:
            documented = parse_default(hints[row.name], row.default)
        except ValueError as exc:
            problems.append(
                f"{where}: row `{row.name}` has an unreadable default {row.default!r} ({exc}); write it as {expected_row(cls, row.name)}"
            )
            continue
        default = code[row.name][0]
        same = documented == default and type(documented) is type(default) if isinstance(default, bool) else documented == default
        if not same:
            problems.append(
                f"{where}: row `{row.name}` says default {row.default}, but {owner}.{row.name} defaults to {default!r}; "
                f"update the row to {expected_row(cls, row.name)}"
            )
        if row.names and row.names != unquote(expected_names(by_name[row.name])):
            problems.append(
                f"{where}: row `{row.name}` says it names experiments as {row.names!r}, but the code says "
                f"{expected_names(by_name[row.name])}; update the row to {expected_row(cls, row.name)}"
            )
    seen = [row.name for row in table.rows]
    for name in sorted({n for n in seen if seen.count(n) > 1}):
        problems.append(f"docs/training.md:{table.line}: `{name}` has more than one row in the table under '{table.heading}'")
    assert not problems, "\n".join(problems)


def test_every_common_parameter_is_documented():
    documented = {row.name for t in DOC_TABLES if params_class_for(t)[1] is CommonParams for row in t.rows}
    missing = [name for name, *_ in describe(CommonParams) if name not in documented]
    assert not missing, "\n".join(
        f"docs/training.md: CommonParams.{name} is not in the table under '## Hyperparameters'; add the row "
        f"{expected_row(CommonParams, name)} (meaning: {dict((n, h) for n, _t, _d, h, _n in describe(CommonParams))[name]})"
        for name in missing
    )


def numbers_claimed(*patterns: str) -> list[tuple[int, int]]:
    """``(line, number)`` for each match in docs/training.md of a pattern whose group is a number
    (``1,000,000`` or ``2``)."""
    text = DOC.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, int(m.group(1).replace(",", ""))) for p in patterns for m in re.finditer(p, text)]


def test_prose_names_the_default_act_every():
    """Sentences like 'at the default `act_every=2`' or 'trained at the default 2' follow the code:
    Pong's option (act_every is the env's, not an algorithm parameter)."""
    from arena_pong import PongOptions

    default = PongOptions().act_every
    claims = numbers_claimed(r"default\s+`act_every=(\d+)`", r"trained at the default\s+(\d+)")
    assert claims, "docs/training.md no longer states the default act_every in prose; drop this test or the claim it checks"
    wrong = [
        f"docs/training.md:{line}: says the default act_every is {value}; it is {default}"
        for line, value in claims
        if value != default
    ]
    assert not wrong, "\n".join(wrong)


def test_prose_names_the_default_step_budget():
    """'for 1,000,000 agent steps' under "The command" and the `--steps` row's default follow
    ``DEFAULT_STEPS`` (the budget `arena train` uses when `--steps` is not given)."""
    from arena.training.plan import DEFAULT_STEPS

    claims = numbers_claimed(r"for ([\d,]+) agent steps", r"\| `--steps N` \|[^|]*?\(default ([\d,]+)")
    assert len(claims) >= 2, "docs/training.md no longer states the default --steps in prose and in its row; update this test"
    wrong = [
        f"docs/training.md:{line}: says the default budget is {value:,} agent steps; it is {DEFAULT_STEPS:,}"
        for line, value in claims
        if value != DEFAULT_STEPS
    ]
    assert not wrong, "\n".join(wrong)
