"""Loading plugins and collecting what they register.

Built-in plugins (``arena_plugins.*``) and third-party ones are found the same way: through the
``arena`` entry-point group. Each entry point is loaded on its own, so one broken plugin prints a
one-line warning and is skipped instead of taking the CLI down (``ARENA_STRICT_PLUGINS=1`` makes
that fatal). Hooks are called here, once per process; the rest of Arena works with the plain
objects collected in :class:`Registry` instances.

Environment variables:

* ``ARENA_LOAD_PLUGINS``: comma-separated allowlist of plugin (entry-point) names; ``""`` loads none.
* ``ARENA_STRICT_PLUGINS=1``: a plugin that fails to load or register is an error, not a warning.
* ``ARENA_TRACE_PLUGINS=1``: print every hook call to stderr (pluggy's tracing).
* ``ARENA_PLUGIN_WARNINGS_SHOWN``: set by a command for the worker processes it starts (see
  :func:`share_warnings`), never by hand: the warnings it already printed, which workers (they
  load the plugins again) do not print again.

A name two plugins register (an env, an agent kind, an algorithm, a command, a plugin name) stays
with the first; the second's is skipped with a warning naming both (``ARENA_STRICT_PLUGINS=1``:
an error), and the rest of what the second plugin registers still loads.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from arena.errors import ArenaError, one_line
from arena.text import suggest

if TYPE_CHECKING:
    from arena.plugins.agents import AgentKind
    from arena.plugins.algorithms import AlgorithmSpec
    from arena.plugins.enemies import NamedPool, SamplingRule
    from arena.plugins.envs import EnvSpec
from arena.plugins import hookspecs

ENTRY_POINT_GROUP = "arena"

# Registry hooks and the key under which `arena plugins` lists what each registered.
REGISTRY_HOOKS = {
    "arena_register_envs": "envs",
    "arena_register_agents": "agents",
    "arena_register_opponents": "agents",  # the name before 0.2: plugins written for it still load
    "arena_register_algorithms": "algorithms",
    "arena_register_enemies": "enemies",  # sampling rules and named pools, by the type registered
}

T = TypeVar("T")


@dataclass
class PluginInfo:
    """One loaded plugin, as ``arena plugins`` shows it."""

    name: str
    version: str | None
    distribution: str | None
    module: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "module": self.module,
            "hooks": sorted(self.hooks),
            **{kind: sorted(names) for kind, names in sorted(self.registered.items())},
        }


class Registry(Generic[T]):
    """Name -> object, remembering which plugin registered each name."""

    def __init__(self, what: str, plural: str | None = None):
        self.what = what
        self.plural = plural or what + "s"
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def add(self, name: str, obj: T, plugin: str) -> None:
        if name in self._items:
            raise ArenaError(
                f"{self.what} '{name}' is registered by both plugin '{self._owners[name]}' "
                f"and plugin '{plugin}'; uninstall one of them or rename the {self.what}"
            )
        self._items[name] = obj
        self._owners[name] = plugin

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ArenaError(
                f"unknown {self.what} '{name}'{suggest(name, self._items)}; valid {self.plural}: {self.choices()}"
            ) from None

    def owner(self, name: str) -> str:
        return self._owners[name]

    def choices(self) -> str:
        return ", ".join(sorted(self._items)) or "(none: is a plugin missing?)"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(sorted(self._items.items()))

    def __len__(self) -> int:
        return len(self._items)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class Arena:
    """The loaded plugins and their registries. Build one with :func:`load_plugins`."""

    def __init__(self, *, strict: bool | None = None, warn: Callable[[str], None] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = _env_flag("ARENA_STRICT_PLUGINS") if strict is None else strict
        self.plugins: dict[str, PluginInfo] = {}
        self.failed: dict[str, str] = {}
        self.envs: Registry[EnvSpec] = Registry("environment")
        self.agents: Registry[AgentKind] = Registry("agent kind")
        self.algorithms: Registry[AlgorithmSpec] = Registry("algorithm")
        self.sampling_rules: Registry[SamplingRule] = Registry("sampling rule")
        self.pools: Registry[NamedPool] = Registry("enemy pool")
        self._registries: dict[str, Registry[Any]] = {
            "envs": self.envs,
            "agents": self.agents,
            "algorithms": self.algorithms,
            "sampling_rules": self.sampling_rules,
            "pools": self.pools,
        }
        self._warn = warn or _print_warning
        self._trace = _env_flag("ARENA_TRACE_PLUGINS")

    # -- loading -------------------------------------------------------------------------------

    def _fail(self, name: str, message: str) -> None:
        self.failed[name] = message
        if self.strict:
            raise ArenaError(f"{message} (ARENA_STRICT_PLUGINS=1)")
        self._warn(f"{message}; skipped")

    def _clash(self, clash: str, outcome: str, fix: str) -> None:
        """A name claimed twice: the first claim stands, with a warning (under
        ARENA_STRICT_PLUGINS=1, an error)."""
        if self.strict:
            raise ArenaError(f"{clash}; {fix} (ARENA_STRICT_PLUGINS=1)")
        self._warn(f"{clash}; {outcome}; {fix}")

    def _registered_twice(self, what: str, item: str, first: str, second: str) -> None:
        if first == second:
            self._clash(f"plugin '{second}' registers {what} '{item}' twice", "kept the first", "register it once")
            return
        self._clash(
            f"{what} '{item}' is registered by both plugin '{first}' and plugin '{second}'",
            f"kept '{first}''s, skipped '{second}''s (plugin '{second}''s other registrations still load)",
            "uninstall one of them",
        )

    def _plugin_name_twice(self, name: str, first: str, second: str) -> None:
        self._clash(
            f"plugin name '{name}' is used by both '{first}' and '{second}'",
            f"kept '{first}''s, skipped '{second}''s",
            "uninstall one of them",
        )

    def add_plugin(self, plugin: object, name: str, *, version: str | None = None, distribution: str | None = None) -> bool:
        """Register one plugin object and collect its registrations; False if it was skipped."""
        if name in self.plugins:
            owner = self.plugins[name].distribution or self.plugins[name].module
            self._plugin_name_twice(name, owner, distribution or _module_name(plugin))
            return False
        already = self.pm.get_name(plugin)
        if already is not None:
            self._fail(name, f"plugin '{name}' is module {_module_name(plugin)}, already loaded as plugin '{already}'")
            return False
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hookimpl signatures here
            self._fail(name, f"plugin '{name}' is invalid: {one_line(exc)}")
            return False
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(hc.name for hc in callers if not hc.has_spec())
        if unknown:
            self.pm.unregister(plugin)
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("arena_")))
            self._fail(
                name,
                f"plugin '{name}' implements unknown hook {', '.join(unknown)} (misspelled? known hooks: {known})",
            )
            return False
        default = _hookimpl_default(plugin, callers)
        if default is not None:
            self.pm.unregister(plugin)
            hook_name, argument, value = default
            self._fail(
                name,
                f"plugin '{name}': hook {hook_name} takes '{argument}' with a default value; hook implementations must not "
                f"declare defaults (pluggy never passes them); remove '={value!r}'",
            )
            return False

        info = PluginInfo(
            name=name,
            version=version,
            distribution=distribution,
            module=_module_name(plugin),
            hooks=sorted(hc.name for hc in callers),
        )
        pending: dict[str, list[tuple[str, Any]]] = {}
        try:
            for hook_name, kind in REGISTRY_HOOKS.items():
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is plugin:
                        self._call(impl, hook_name, register=_collector(kind, pending))
        except Exception as exc:
            self.pm.unregister(plugin)
            self._fail(name, f"plugin '{name}' failed while registering: {type(exc).__name__}: {one_line(exc)}")
            return False
        # Commit only once the plugin registered everything: a failing plugin leaves no trace. A
        # name already taken stays with its first owner; only that name of this plugin is skipped.
        keep: dict[str, list[tuple[str, Any]]] = {}
        for kind, items in pending.items():
            registry, taken = self._registries[kind], set()
            for item_name, obj in items:
                if item_name in registry or item_name in taken:
                    first = registry.owner(item_name) if item_name in registry else name
                    self._registered_twice(registry.what, item_name, first, name)
                    continue
                taken.add(item_name)
                keep.setdefault(kind, []).append((item_name, obj))
        for kind, items in keep.items():
            for item_name, obj in items:
                self._registries[kind].add(item_name, obj, name)
            info.registered[kind] = [item_name for item_name, _ in items]
        self.plugins[name] = info
        return True

    def load_entry_points(self, entry_points: Iterable[metadata.EntryPoint]) -> None:
        allow = os.environ.get("ARENA_LOAD_PLUGINS")
        allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
        seen: dict[str, str] = {}
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist = ep.dist.name if getattr(ep, "dist", None) is not None else None
            version = ep.dist.version if getattr(ep, "dist", None) is not None else None
            if allowed is not None and ep.name not in allowed:
                continue
            if ep.name in seen:
                if seen[ep.name] != (dist or ep.value):  # else the same distribution seen twice (editable installs)
                    self._plugin_name_twice(ep.name, seen[ep.name], dist or ep.value)
                continue
            seen[ep.name] = dist or ep.value
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(ep.name, f"plugin '{ep.name}' ({ep.value}) failed to load: {type(exc).__name__}: {one_line(exc)}")
                continue
            self.add_plugin(plugin, ep.name, version=version, distribution=dist)
        self.pm.check_pending()

    def _call(self, impl: Any, hook_name: str, **available: Any) -> None:
        # Each implementation is called on its own, so we know which plugin registered what.
        kwargs = _kwargs(impl, **available)
        if self._trace:
            print(f"arena: trace: {impl.plugin_name}.{hook_name}({', '.join(kwargs)})", file=sys.stderr)
        impl.function(**kwargs)

    # -- commands ------------------------------------------------------------------------------

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add click commands; a name already taken (by Arena or an earlier plugin)
        stays with its first owner, with a warning naming both (an error under ARENA_STRICT_PLUGINS=1)."""
        owners = {name: "arena" for name in cli.commands}
        for impl in self.pm.hook.arena_register_commands.get_hookimpls():
            before = dict(cli.commands)
            try:
                self._call(impl, "arena_register_commands", cli=cli)
            except Exception as exc:
                cli.commands.clear()
                cli.commands.update(before)
                self._fail(impl.plugin_name, f"plugin '{impl.plugin_name}' failed to add commands: {one_line(exc)}")
                continue
            for cmd_name, cmd in list(cli.commands.items()):
                if cmd_name in before and before[cmd_name] is not cmd:
                    cli.commands[cmd_name] = before[cmd_name]  # the first owner keeps it
                    first, second = owners[cmd_name], impl.plugin_name
                    if first == "arena":
                        self._clash(
                            f"command '{cmd_name}' is registered by both Arena itself and plugin '{second}'",
                            f"kept Arena's, skipped '{second}''s (plugin '{second}''s other registrations still load)",
                            "rename the plugin's command",
                        )
                    else:
                        self._registered_twice("command", cmd_name, first, second)
                if cmd_name not in before:
                    owners[cmd_name] = impl.plugin_name
                    info = self.plugins.get(impl.plugin_name)
                    if info is not None:
                        info.registered.setdefault("commands", []).append(cmd_name)


def _hookimpl_default(plugin: object, callers: list[Any]) -> tuple[str, str, Any] | None:
    """``(hook, argument, default)`` for the first argument of ``plugin``'s hook implementations
    that declares a default value: pluggy never passes those, so the hook would get the default."""
    for caller in callers:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                parameters = inspect.signature(impl.function).parameters.values()
            except (TypeError, ValueError):
                continue
            for parameter in parameters:
                if parameter.default is not parameter.empty:
                    return caller.name, parameter.name, parameter.default
    return None


# -- warnings, once per command ----------------------------------------------------------------------

WARNINGS_SHOWN = "ARENA_PLUGIN_WARNINGS_SHOWN"
_shown: list[str] = []  # keys of the warnings this process printed


def _warning_key(message: str) -> str:
    return hashlib.sha1(message.encode("utf-8")).hexdigest()[:12]


def _in_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _print_warning(message: str) -> None:
    """Print a plugin warning, unless this is a worker process whose parent printed it already."""
    key = _warning_key(message)
    if _in_worker() and key in os.environ.get(WARNINGS_SHOWN, "").split(","):
        return
    print(f"arena: warning: {message}", file=sys.stderr)
    _shown.append(key)


def share_warnings() -> None:
    """Call before starting worker processes: they inherit the list of plugin warnings this process
    printed and do not print those again when they load the plugins (``ARENA_STRICT_PLUGINS``
    still applies in them). A warning the parent never printed is still printed by the worker."""
    keys = [key for key in os.environ.get(WARNINGS_SHOWN, "").split(",") if key]
    keys += [key for key in _shown if key not in keys]
    if keys:
        os.environ[WARNINGS_SHOWN] = ",".join(keys)


def _kwargs(impl: Any, **available: Any) -> dict[str, Any]:
    # Implementations may accept fewer arguments than the spec offers.
    return {name: available[name] for name in impl.argnames}


def _collector(kind: str, pending: dict[str, list[tuple[str, Any]]]) -> Callable[[Any], None]:
    """The ``register`` a registry hook receives: it collects what the plugin registers by kind."""

    def register(obj: Any) -> None:
        pending.setdefault(_kind_of(kind, obj), []).append((_name_of(obj), obj))

    return register


def _kind_of(kind: str, obj: Any) -> str:
    if kind != "enemies":
        return kind
    from arena.plugins.enemies import NamedPool, SamplingRule

    if isinstance(obj, SamplingRule):
        return "sampling_rules"
    if isinstance(obj, NamedPool):
        return "pools"
    raise TypeError(f"arena_register_enemies takes a SamplingRule or a NamedPool, not {obj!r}")


def _name_of(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"registered object {obj!r} has no 'name'")
    return name


def _module_name(plugin: object) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__module__


def load_plugins(entry_points: Iterable[metadata.EntryPoint] | None = None, *, strict: bool | None = None) -> Arena:
    """Load every plugin in the ``arena`` entry-point group (or the given entry points)."""
    arena = Arena(strict=strict)
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    arena.load_entry_points(entry_points)
    return arena


_loaded: Arena | None = None


def get_arena() -> Arena:
    """The process-wide plugin state, loaded on first use (idempotent)."""
    global _loaded
    if _loaded is None:
        _loaded = load_plugins()
    return _loaded
