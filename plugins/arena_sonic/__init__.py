"""Sonic The Hedgehog and Airstriker (Genesis, through stable-retro) as the A2C course played them.

So far the course's wrappers (:mod:`arena_sonic.wrappers`), tested on Airstriker; the envs that
use them register here next.
"""
