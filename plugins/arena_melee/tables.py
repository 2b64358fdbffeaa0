"""Melee's characters and stages: names, the ids the game uses, and menu coordinates.

Plain data, cheap to import (the registration module builds its option choices from it).
Sources: docs/melee.md (char-select order, stage ids, menu coordinates
from libmelee); the external character ids are the community's (Slippi's replay spec), not
checked against the ISO here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Character:
    name: str
    css_id: int  # position on the character-select grid: Dr. Mario 0 ... Roy 24
    external_id: int  # the id in the player's static block during a game (static + 0x04)

    @property
    def css_position(self) -> tuple[float, float]:
        """Where the character's portrait is on the character-select screen (libmelee's formula)."""
        row, col = divmod(self.css_id, 9)
        if row == 2:
            col += 1  # the bottom row is shifted right by one slot
        return -32.5 + 3.5 + 7.0 * col, 4.5 + 7.0 * (2 - row)


CHARACTERS: dict[str, Character] = {
    c.name: c
    for c in (
        Character("doc", 0, 0x16),
        Character("mario", 1, 0x08),
        Character("luigi", 2, 0x07),
        Character("bowser", 3, 0x05),
        Character("peach", 4, 0x0C),
        Character("yoshi", 5, 0x11),
        Character("dk", 6, 0x01),
        Character("falcon", 7, 0x00),
        Character("ganon", 8, 0x19),
        Character("falco", 9, 0x14),
        Character("fox", 10, 0x02),
        Character("ness", 11, 0x0B),
        Character("ice_climbers", 12, 0x0E),
        Character("kirby", 13, 0x04),
        Character("samus", 14, 0x10),
        Character("zelda", 15, 0x12),
        Character("link", 16, 0x06),
        Character("ylink", 17, 0x15),
        Character("pichu", 18, 0x18),
        Character("pikachu", 19, 0x0D),
        Character("puff", 20, 0x0F),
        Character("mewtwo", 21, 0x0A),
        Character("gnw", 22, 0x03),
        Character("marth", 23, 0x09),
        Character("roy", 24, 0x17),
    )
}
SHEIK_EXTERNAL_ID = 0x13  # not on the grid (Zelda transforms), but seen in games
NUM_EXTERNAL_CHARACTERS = 32  # one-hot width, as phillip's embedding
CHARACTER_BY_EXTERNAL = {c.external_id: c.name for c in CHARACTERS.values()} | {SHEIK_EXTERNAL_ID: "sheik"}
CHARACTER_BY_CSS = {c.css_id: c.name for c in CHARACTERS.values()}


@dataclass(frozen=True)
class Stage:
    name: str
    stage_id: int  # the selected-stage byte, 0x804D6CAE (decomp rule 2), during a game
    sss_position: tuple[float, float]  # the stage-select cursor target (libmelee)


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("battlefield", 24, (1.0, -9.0)),
        Stage("final_destination", 25, (6.7, -9.0)),
        Stage("dreamland", 26, (12.5, -9.0)),
        Stage("pokemon_stadium", 18, (15.0, 3.5)),
        Stage("yoshis_story", 6, (3.5, 15.5)),
        Stage("fountain_of_dreams", 8, (10.0, 15.5)),
    )
}
STAGE_BY_ID = {s.stage_id: s.name for s in STAGES.values()}
NUM_STAGE_IDS = 32  # one-hot width for the stage byte
