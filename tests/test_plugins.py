"""The plugin loader: discovery, broken plugins, duplicate names, misspelled hooks, commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import arena.plugins.hookspecs as hookspecs
from arena import hookimpl
from arena.errors import ArenaError
from arena.plugins.agents import AgentKind
from arena.plugins.envs import EnvSpec
from arena.plugins.manager import Arena, load_plugins

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = "agents,pong"


class FakeDist:
    def __init__(self, name: str, version: str = "1.0"):
        self.name, self.version = name, version


class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint: name, value, dist and load()."""

    def __init__(self, name: str, plugin=None, *, dist: str = "dist-a", error: Exception | None = None):
        self.name = name
        self.value = f"{dist.replace('-', '_')}.{name}"
        self.dist = FakeDist(dist)
        self._plugin, self._error = plugin, error

    def load(self):
        if self._error is not None:
            raise self._error
        return self._plugin


def plugin(**hooks) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def env_plugin(*names: str):
    def arena_register_envs(register):
        for name in names:
            register(EnvSpec(name=name, make=None, description="", seats=("l", "r"), num_actions=2, options=object))

    return plugin(arena_register_envs=arena_register_envs)


def kind_plugin(*names: str):
    def arena_register_agents(register):
        for name in names:
            register(AgentKind(name=name, build=lambda args, env, options: None))

    return plugin(arena_register_agents=arena_register_agents)


@pytest.fixture
def warnings_seen():
    return []


@pytest.fixture
def new_arena(warnings_seen, monkeypatch):
    monkeypatch.delenv("ARENA_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("ARENA_STRICT_PLUGINS", raising=False)

    def make(entry_points, strict=False):
        arena = Arena(strict=strict, warn=warnings_seen.append)
        arena.load_entry_points(entry_points)
        return arena

    return make


def test_hook_arena_register_envs(new_arena):
    arena = new_arena([FakeEntryPoint("games", env_plugin("chess", "go"))])
    assert arena.envs.names() == ["chess", "go"]
    assert arena.envs.owner("go") == "games"
    assert arena.plugins["games"].registered == {"envs": ["chess", "go"]}
    assert arena.plugins["games"].version == "1.0"


def test_hook_arena_register_agents(new_arena):
    arena = new_arena([FakeEntryPoint("bots", kind_plugin("bot:a", "bot:b"))])
    assert arena.agents.names() == ["bot:a", "bot:b"]


def test_hook_arena_register_opponents(new_arena):
    """The hook's name before 0.2: a plugin written for it registers agent kinds all the same."""
    from arena.plugins.agents import OpponentKind

    def arena_register_opponents(register):
        register(OpponentKind(name="bot:old", build=lambda args, env, options: None))

    arena = new_arena([FakeEntryPoint("old", plugin(arena_register_opponents=arena_register_opponents))])
    assert arena.agents.names() == ["bot:old"]
    assert arena.plugins["old"].as_dict()["agents"] == ["bot:old"]


def test_hook_arena_register_enemies(new_arena):
    from arena.plugins.enemies import NamedPool, SamplingRule

    class Last:
        def probabilities(self, enemies):
            return [0.0] * (len(enemies) - 1) + [1.0]

    def arena_register_enemies(register):
        register(SamplingRule(name="last", make=Last, description="always the last candidate"))
        register(NamedPool(name="mine", enemies={"sampling": "last", "enemies": ["self", "random"]}))

    arena = new_arena([FakeEntryPoint("pools", plugin(arena_register_enemies=arena_register_enemies))])
    assert arena.sampling_rules.names() == ["last"] and arena.pools.names() == ["mine"]
    assert arena.plugins["pools"].as_dict()["sampling_rules"] == ["last"]
    assert arena.plugins["pools"].as_dict()["pools"] == ["mine"]
    from arena.training.enemies import find_pool
    from arena.training.pool import EnemyPool

    source, config = find_pool("mine", arena)
    assert source == "mine" and [e.spec for e in config.entries] == ["self", "random"]
    assert EnemyPool(config, rules=arena.sampling_rules).distribution() == [("self", "self", 0.0), ("random", "random", 1.0)]


def test_a_registered_thing_of_the_wrong_type_skips_the_plugin(new_arena, warnings_seen):
    def arena_register_enemies(register):
        register(object())

    arena = new_arena([FakeEntryPoint("odd", plugin(arena_register_enemies=arena_register_enemies))])
    assert "odd" not in arena.plugins and "SamplingRule or a NamedPool" in warnings_seen[0]


def test_hook_arena_register_algorithms(new_arena):
    def arena_register_algorithms(register):
        register(types.SimpleNamespace(name="reinforce"))

    arena = new_arena([FakeEntryPoint("algos", plugin(arena_register_algorithms=arena_register_algorithms))])
    assert arena.algorithms.names() == ["reinforce"]


def test_hook_arena_register_commands(new_arena):
    def arena_register_commands(cli):
        @cli.command("hello")
        def hello():
            click.echo("hi")

    arena = new_arena([FakeEntryPoint("cmds", plugin(arena_register_commands=arena_register_commands))])
    group = click.Group("arena", commands={"match": click.Command("match")})
    arena.add_commands(group)
    assert sorted(group.commands) == ["hello", "match"]
    assert arena.plugins["cmds"].registered == {"commands": ["hello"]}


def test_every_hook_has_a_test_and_a_docs_entry():
    hooks = sorted(name for name in dir(hookspecs) if name.startswith("arena_"))
    assert hooks, "no hooks found"
    tests = set(globals())
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name in hooks:
        assert f"test_hook_{name}" in tests, f"hook {name} has no test_hook_{name}"
        assert name in docs, f"hook {name} is not documented in docs/plugins.md"
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Called" in doc and ":return:" in doc, f"hook {name}'s docstring must say when it is called and what it returns"


def test_broken_plugin_warns_once_and_the_rest_load(new_arena, warnings_seen):
    arena = new_arena(
        [
            FakeEntryPoint("good", env_plugin("chess")),
            FakeEntryPoint("broken", error=ImportError("No module named 'nonexistent_dep'")),
        ]
    )
    assert arena.envs.names() == ["chess"]
    assert "broken" not in arena.plugins
    assert len(warnings_seen) == 1
    message = warnings_seen[0]
    assert "\n" not in message
    assert "'broken'" in message and "ImportError" in message and "nonexistent_dep" in message
    assert "skipped" in message


def test_strict_mode_makes_a_broken_plugin_fatal(new_arena):
    with pytest.raises(ArenaError, match="plugin 'broken'.*ZeroDivisionError.*ARENA_STRICT_PLUGINS=1"):
        new_arena([FakeEntryPoint("broken", error=ZeroDivisionError("boom"))], strict=True)


def test_strict_mode_from_the_environment(monkeypatch, warnings_seen):
    monkeypatch.setenv("ARENA_STRICT_PLUGINS", "1")
    arena = Arena(warn=warnings_seen.append)
    with pytest.raises(ArenaError):
        arena.load_entry_points([FakeEntryPoint("broken", error=RuntimeError("x"))])


def test_a_plugin_that_fails_while_registering_leaves_nothing_behind(new_arena, warnings_seen):
    def arena_register_envs(register):
        register(EnvSpec(name="half", make=None, description="", seats=("l", "r"), num_actions=2, options=object))
        raise ValueError("config missing")

    arena = new_arena([FakeEntryPoint("flaky", plugin(arena_register_envs=arena_register_envs))])
    assert "half" not in arena.envs
    assert "flaky" not in arena.plugins
    assert "config missing" in warnings_seen[0]


def test_two_plugins_registering_one_name_keep_the_first_with_a_warning_naming_both(new_arena, warnings_seen):
    eps = [FakeEntryPoint("first", env_plugin("pong", "chess")), FakeEntryPoint("second", env_plugin("pong", "go"))]
    arena = new_arena(eps)
    assert warnings_seen == [
        "environment 'pong' is registered by both plugin 'first' and plugin 'second'; kept 'first''s, skipped 'second''s "
        "(plugin 'second''s other registrations still load); uninstall one of them"
    ]
    assert arena.envs.owner("pong") == "first"
    assert arena.envs.names() == ["chess", "go", "pong"]  # only the colliding name is skipped
    assert arena.plugins["second"].registered == {"envs": ["go"]}
    with pytest.raises(ArenaError, match="environment 'pong'.*'first'.*'second'.*uninstall.*ARENA_STRICT_PLUGINS=1"):
        new_arena(eps, strict=True)


def test_duplicate_agent_kinds_keep_the_first_too(new_arena, warnings_seen):
    arena = new_arena([FakeEntryPoint("one", kind_plugin("bot:x")), FakeEntryPoint("two", kind_plugin("bot:x"))])
    assert arena.agents.owner("bot:x") == "one" and "two" in arena.plugins
    assert arena.plugins["two"].registered == {}
    (message,) = warnings_seen
    assert message.startswith("agent kind 'bot:x' is registered by both plugin 'one' and plugin 'two'; kept 'one''s")
    with pytest.raises(ArenaError, match="agent kind 'bot:x'.*'one'.*'two'"):
        new_arena([FakeEntryPoint("one", kind_plugin("bot:x")), FakeEntryPoint("two", kind_plugin("bot:x"))], strict=True)


def test_one_entry_point_name_from_two_distributions_keeps_the_first(new_arena, warnings_seen):
    eps = [
        FakeEntryPoint("games", env_plugin("chess"), dist="dist-a"),
        FakeEntryPoint("games", env_plugin("go"), dist="dist-b"),
    ]
    arena = new_arena(eps)
    assert arena.envs.names() == ["chess"] and arena.plugins["games"].distribution == "dist-a"
    assert warnings_seen == [
        "plugin name 'games' is used by both 'dist-a' and 'dist-b'; kept 'dist-a''s, skipped 'dist-b''s; uninstall one of them"
    ]
    with pytest.raises(ArenaError, match="plugin name 'games'.*dist-a.*dist-b.*ARENA_STRICT_PLUGINS=1"):
        new_arena(eps, strict=True)


def test_a_plugin_name_added_twice_in_process_keeps_the_first(new_arena, warnings_seen):
    arena = new_arena([FakeEntryPoint("games", env_plugin("chess"))])
    assert arena.add_plugin(env_plugin("go"), "games") is False
    assert arena.envs.names() == ["chess"]
    assert "plugin name 'games' is used by both" in warnings_seen[0] and "kept" in warnings_seen[0]


def test_the_same_distribution_seen_twice_loads_once(new_arena):
    # Editable installs can list one entry point twice (pypa/setuptools#3649).
    same = env_plugin("chess")
    arena = new_arena([FakeEntryPoint("games", same), FakeEntryPoint("games", same)])
    assert arena.envs.names() == ["chess"]


def test_misspelled_hook_is_caught_and_the_plugin_skipped(new_arena, warnings_seen):
    typo = plugin(arena_register_env=lambda register: None)
    arena = new_arena([FakeEntryPoint("typo", typo), FakeEntryPoint("good", env_plugin("chess"))])
    assert "typo" not in arena.plugins and "good" in arena.plugins
    assert "arena_register_env" in warnings_seen[0] and "misspelled" in warnings_seen[0]
    with pytest.raises(ArenaError, match="arena_register_env"):
        new_arena([FakeEntryPoint("typo", typo)], strict=True)


def test_hookimpl_with_an_unknown_argument_is_skipped(new_arena, warnings_seen):
    bad = plugin(arena_register_envs=lambda register, extra: None)
    arena = new_arena([FakeEntryPoint("bad", bad)])
    assert "bad" not in arena.plugins
    assert "'bad'" in warnings_seen[0] and "extra" in warnings_seen[0]


def test_hookimpl_with_a_default_value_is_skipped_with_the_rule(new_arena, warnings_seen):
    def arena_register_envs(register=None):
        register(EnvSpec(name="chess", make=None, description="", seats=("l", "r"), num_actions=2, options=object))

    eps = [FakeEntryPoint("x", plugin(arena_register_envs=arena_register_envs)), FakeEntryPoint("good", env_plugin("go"))]
    arena = new_arena(eps)
    assert "x" not in arena.plugins and "x" in arena.failed and arena.envs.names() == ["go"]
    assert warnings_seen == [
        "plugin 'x': hook arena_register_envs takes 'register' with a default value; hook implementations must not "
        "declare defaults (pluggy never passes them); remove '=None'; skipped"
    ]
    with pytest.raises(ArenaError, match="plugin 'x': hook arena_register_envs takes 'register' with a default.*ARENA_STRICT"):
        new_arena(eps, strict=True)


def test_a_method_hookimpl_with_a_default_value_is_skipped_too(new_arena, warnings_seen):
    class Commands:
        @hookimpl
        def arena_register_commands(self, cli=click.Group("spare")):
            pass

    arena = new_arena([FakeEntryPoint("y", Commands())])
    assert "y" not in arena.plugins
    assert warnings_seen[0].startswith("plugin 'y': hook arena_register_commands takes 'cli' with a default value;")


def test_hookimpl_may_take_fewer_arguments(new_arena):
    def arena_register_commands():
        pass

    arena = new_arena([FakeEntryPoint("quiet", plugin(arena_register_commands=arena_register_commands))])
    arena.add_commands(click.Group("arena"))
    assert "quiet" in arena.plugins


def test_a_command_two_plugins_define_keeps_the_first_with_a_warning_naming_both(new_arena, warnings_seen):
    def make(label):
        def arena_register_commands(cli):
            @cli.command("report")
            def report():
                click.echo(label)

        return plugin(arena_register_commands=arena_register_commands)

    arena = new_arena([FakeEntryPoint("one", make("1")), FakeEntryPoint("two", make("2"))])
    group = click.Group("arena")
    arena.add_commands(group)
    assert warnings_seen == [
        "command 'report' is registered by both plugin 'one' and plugin 'two'; kept 'one''s, skipped 'two''s "
        "(plugin 'two''s other registrations still load); uninstall one of them"
    ]
    assert CliRunner().invoke(group, ["report"]).output == "1\n"
    assert arena.plugins["one"].registered == {"commands": ["report"]} and arena.plugins["two"].registered == {}
    with pytest.raises(ArenaError, match="command 'report'.*'one'.*'two'.*ARENA_STRICT_PLUGINS=1"):
        new_arena([FakeEntryPoint("one", make("1")), FakeEntryPoint("two", make("2"))], strict=True).add_commands(
            click.Group("arena")
        )


def test_a_plugin_cannot_replace_a_core_command(new_arena, warnings_seen):
    def arena_register_commands(cli):
        @cli.command("match")
        def match():
            pass

        @cli.command("extra")
        def extra():
            pass

    arena = new_arena([FakeEntryPoint("hijack", plugin(arena_register_commands=arena_register_commands))])
    core = click.Command("match")
    group = click.Group("arena", commands={"match": core})
    arena.add_commands(group)
    assert group.commands["match"] is core and "extra" in group.commands
    (message,) = warnings_seen
    assert message.startswith("command 'match' is registered by both Arena itself and plugin 'hijack'; kept Arena's")
    with pytest.raises(ArenaError, match="command 'match'.*Arena.*'hijack'"):
        new_arena([FakeEntryPoint("hijack", plugin(arena_register_commands=arena_register_commands))], strict=True).add_commands(
            click.Group("arena", commands={"match": click.Command("match")})
        )


def test_allowlist_loads_only_named_plugins(new_arena, monkeypatch):
    eps = [FakeEntryPoint("a", env_plugin("chess")), FakeEntryPoint("b", env_plugin("go"))]
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "b")
    assert sorted(new_arena(eps).plugins) == ["b"]
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "")
    assert new_arena(eps).plugins == {}


def test_builtins_load_through_the_entry_point_group(monkeypatch):
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", BUILTINS)
    arena = load_plugins()
    assert {"agents", "pong"} <= set(arena.plugins)
    assert arena.plugins["pong"].distribution == "arena-rl"
    assert "pong" in arena.envs and {"cpu", "random", "bot:tracker"} <= set(arena.agents.names())


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "ARENA_LOAD_PLUGINS": BUILTINS, **env}
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, env=environ, timeout=60,
    )  # fmt: skip


def test_plugins_json_lists_each_plugin_its_version_and_registrations():
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    from arena import __version__

    assert json.loads(result.stdout) == [
        {
            "name": "agents",
            "version": __version__,
            "distribution": "arena-rl",
            "module": "arena_agents",
            "hooks": ["arena_register_agents"],
            "agents": ["cpu", "random"],
        },
        {
            "name": "pong",
            "version": __version__,
            "distribution": "arena-rl",
            "module": "arena_pong",
            "hooks": ["arena_register_agents", "arena_register_envs"],
            "envs": ["pong"],
            "agents": ["bot:tracker"],
        },
    ]


def test_plugins_table_names_every_plugin():
    result = run_cli("plugins")
    assert result.returncode == 0, result.stderr
    for word in ("agents", "pong", "bot:tracker", "random"):
        assert word in result.stdout


def test_plugins_command_does_not_import_torch_or_the_emulator():
    code = (
        "import sys\n"
        "from arena.cli import main\n"
        "try:\n    main(['plugins', '--json'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'stable_retro', 'pandas', 'pettingzoo') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**os.environ, "ARENA_LOAD_PLUGINS": BUILTINS}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
