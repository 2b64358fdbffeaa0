"""docs/architecture.md maps every module: a new module without a place on the map fails here."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def on_the_map(path: Path) -> bool:
    """The module's path is in the doc, or its file name is on a line that names its folder, or
    (for a built-in plugin) the plugin's folder is named."""
    relative = path.relative_to(ROOT).as_posix()
    folder = path.parent.relative_to(ROOT).as_posix()
    if relative in DOC:
        return True
    if relative.startswith("plugins/"):
        return f"{folder}/" in DOC
    return any(f"`{path.name}`" in line and f"{folder}/" in line for line in DOC.splitlines())


def test_every_module_is_on_the_map():
    modules = [
        p
        for base in ("arena", "plugins")
        for p in sorted((ROOT / base).rglob("*.py"))
        if p.name != "__init__.py" or p.parent.parent.name == "plugins"
    ]
    assert len(modules) > 40
    missing = [p.relative_to(ROOT).as_posix() for p in modules if not on_the_map(p)]
    assert not missing, f"not on docs/architecture.md's map: {missing}"


def test_every_package_is_described():
    for package in ("cli", "plugins", "games", "training", "ratings"):
        assert f"arena/{package}/" in DOC
