"""Super Smash Bros. Melee (NTSC 1.02) in Dolphin: the parts behind ``arena_plugins.melee``.

``tables`` and ``pads`` are plain Python (the registration module imports them); everything else
(the reader over dolphin-memory-engine, the embedding, the Dolphin launcher, the env) is
imported only when an env is built.
"""
