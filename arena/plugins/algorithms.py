"""What an algorithm plugin registers: a cheap :class:`AlgorithmSpec` (no torch at import).

The spec names its hyperparameter dataclass (see :mod:`arena.training.params`) and where its learner class
lives; :meth:`AlgorithmSpec.learner_class` imports that module (and torch) only when training or
playing a trained agent, so ``arena --help`` and ``arena plugins`` stay instant.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class AlgorithmSpec:
    """One trainable algorithm (``arena train --plugin NAME``).

    :param name: the ``--plugin`` name, e.g. ``rac``.
    :param description: one line for ``arena plugins``.
    :param params: the hyperparameter dataclass, usually a subclass of
        :class:`arena.training.params.CommonParams` (every field has a default and a help line), or its
        ``"module:Class"`` when it lives beside torch code and should load lazily.
    :param learner: ``"module:Class"`` of a :class:`arena.training.learner.Learner` subclass, imported lazily.
    """

    name: str
    description: str
    params: type | str
    learner: str

    def learner_class(self) -> type:
        return _load(self.learner)

    def params_class(self) -> type:
        return _load(self.params) if isinstance(self.params, str) else self.params


def _load(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
