"""The package's shape, checked from its source with ``ast`` (STYLE.md "Dependencies point one
way", "A service is one class in one file", "One owner per rule").

- Imports point down the layer order: core -> storage -> state/sessions/artifacts/journal ->
  hooks/events -> providers/tools/agents/workflows -> runtime -> lua -> cli. An arrow that must
  go up is an injected callable, never an import (function-level and TYPE_CHECKING imports
  count too).
- No module reads or writes a private (``obj._name``) that belongs to another package.
- Only ``llmspell.sessions`` builds session keys (``session/``, ``sessmeta/``, ``sessdel/``):
  every other package goes through the SessionManager's public API (artifacts use its
  ``artifact_counters``).
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "llmspell"

#: Each top-level module or package of llmspell, by layer (lower imports nothing higher).
#: ``journal`` sits with sessions and artifacts, not with hooks/events as STYLE.md draws it:
#: it is a log in the store (it imports only core and storage), and a session's or an
#: artifact's change commits in ONE batch with its journal entry, so both build its ops.
#: ``intercept`` is core: a context variable and a Protocol (the seam agents and tools call,
#: which replay fills); it imports nothing of llmspell. ``replay`` re-runs recorded scripts in
#: a LuaEngine, so it sits on lua's layer (the Lua globals call into it too), below the CLI.
LAYERS: dict[str, int] = {
    **dict.fromkeys(("errors", "codec", "config", "config_schema", "settings", "validation",
                     "paths", "compression", "redact", "keys", "protocols", "intercept",
                     # bounded: a container type (BoundedCache) for any layer's caches
                     "bounded",
                     # ids: correlation ids (stdlib only), for every layer
                     "ids",
                     # project: finding the project directory (stdlib only), for config
                     "project",
                     # finds entry points; providers and tools ask it for their plugins
                     "plugins"), 0),
    "storage": 1,
    **dict.fromkeys(("state", "sessions", "artifacts", "journal"), 2),
    **dict.fromkeys(("hooks", "events"), 3),
    **dict.fromkeys(("providers", "tools", "agents", "workflows", "testing"), 4),
    **dict.fromkeys(("runtime", "integrity"), 5),
    **dict.fromkeys(("lua", "replay"), 6),
    # workers run claimed jobs in a LuaEngine and the Lua Workflow global enqueues into them
    "workers": 6,
    # Backends for other frameworks (LangGraph, ADK): built on a whole Runtime, used by
    # nothing in llmspell itself (the CLI only lists plugins), so beside the Lua bridge.
    "integrations": 6,
    # AsyncRuntime: an asyncio face over a whole Runtime (nothing inside llmspell uses it).
    "aio": 6,
    # web: `llmspell web` serves the same Runtime the CLI drives, beside the CLI.
    **dict.fromkeys(("cli", "web", "__main__", "__init__", "testing/commands"), 7),
}

#: The crash and fuzz commands ship in llmspell.testing but drive a whole Runtime and the Lua
#: engine, as the CLI does: they are their own unit, on the CLI's layer.
TESTING_COMMANDS = {"testing/crash.py", "testing/crash_checks.py", "testing/crash_workload.py",
                    "testing/fuzz.py", "testing/workflow_crash.py"}

#: Names a lower layer may import from the package root (``from llmspell import X``): the
#: root's own constants, not the runtime it re-exports.
ROOT_NAMES = {"__version__"}

#: Private attributes of other code that are fine to touch. An entry needs the reason next to
#: it.
PRIVATE_ALLOWED: dict[str, str] = {
    # The standard library's way for a forked child (the workflow crash test) to end without
    # running the parent's atexit handlers and finalisers (the parent's store, its threads).
    "_exit": "os._exit",
}

SESSION_KEY_PREFIXES = ("session/", "sessmeta/", "sessdel/", "sesslease/")


def _unit(path: Path) -> str:
    relative = path.relative_to(SRC)
    if relative.as_posix() in TESTING_COMMANDS:
        return "testing/commands"
    return relative.parts[0].removesuffix(".py")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(SRC.rglob("*.py"))]


MODULES = _modules()


def _root_import(name: str) -> str:
    """What ``from llmspell import name`` imports: a submodule, else the package root."""
    if (SRC / f"{name}.py").exists() or (SRC / name / "__init__.py").exists():
        return name
    return "__init__"


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    """``(line, target unit)`` for every llmspell import in ``tree`` (at any depth)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "llmspell":
                found.extend((node.lineno, _root_import(alias.name)) for alias in node.names
                             if alias.name not in ROOT_NAMES)
            elif node.module.startswith("llmspell."):
                found.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[1]) for alias in node.names
                         if alias.name.startswith("llmspell."))
    return found


def layer_violations(modules: list[tuple[Path, ast.Module]]) -> list[str]:
    bad = []
    for path, tree in modules:
        unit = _unit(path)
        if unit not in LAYERS:
            bad.append(f"{path.relative_to(SRC)}: {unit!r} has no layer in LAYERS")
            continue
        for line, target in _imports(tree):
            if target == unit:
                continue
            if target not in LAYERS:
                bad.append(f"{path.relative_to(SRC)}:{line}: imports {target!r}, which has "
                           "no layer in LAYERS")
            elif LAYERS[target] > LAYERS[unit]:
                bad.append(f"{path.relative_to(SRC)}:{line}: {unit} (layer {LAYERS[unit]}) "
                           f"imports {target} (layer {LAYERS[target]})")
    return bad


def _defined_names(trees: list[ast.Module]) -> set[str]:
    """Every name a package defines or binds: functions, classes, assigned names and
    attributes, arguments and keywords."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg | ast.keyword) and node.arg:
                names.add(node.arg)
    return names


def private_violations(modules: list[tuple[Path, ast.Module]]) -> list[str]:
    """``obj._name`` (obj not ``self``/``cls``) where no module of the same package defines
    ``_name``: the private belongs to another package (or a library)."""
    by_unit: dict[str, list[ast.Module]] = collections.defaultdict(list)
    for path, tree in modules:
        by_unit[_unit(path)].append(tree)
    defined = {unit: _defined_names(trees) for unit, trees in by_unit.items()}
    bad = []
    for path, tree in modules:
        unit = _unit(path)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in defined[unit] or node.attr in PRIVATE_ALLOWED:
                continue
            bad.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)} reaches "
                       "into a private of another package")
    return bad


def _strings(tree: ast.Module) -> list[tuple[int, str]]:
    """The string constants of ``tree`` that are not docstrings, with the leading literal of
    each f-string."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings):
            found.append((node.lineno, node.value))
    return found


def session_key_violations(modules: list[tuple[Path, ast.Module]]) -> list[str]:
    bad = []
    for path, tree in modules:
        if _unit(path) == "sessions":
            continue
        for line, text in _strings(tree):
            if text.startswith(SESSION_KEY_PREFIXES):
                bad.append(f"{path.relative_to(SRC)}:{line}: builds a session key "
                           f"({text!r}); use the SessionManager's API")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in (
                    "llmspell.sessions.index", "llmspell.sessions") and (
                    node.module.endswith(".index")
                    or any(a.name == "index" for a in node.names)):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}: imports the session key "
                           "layout (llmspell.sessions.index)")
    return bad


def test_imports_point_down_the_layers() -> None:
    assert layer_violations(MODULES) == []


def test_no_module_reaches_into_another_packages_privates() -> None:
    assert private_violations(MODULES) == []


def test_only_sessions_build_session_keys() -> None:
    assert session_key_violations(MODULES) == []


def test_sessions_and_artifacts_are_single_classes_not_mixins() -> None:
    """SessionManager and ArtifactManager have no bases of their own (STYLE.md: a service is
    one class in one file; a concept split out is a composed collaborator)."""
    from llmspell.artifacts.manager import ArtifactManager
    from llmspell.sessions.manager import SessionManager

    assert SessionManager.__bases__ == (object,)
    assert ArtifactManager.__bases__ == (object,)


# -- the checks themselves catch what they are for ------------------------------------------

def _fake(unit: str, source: str) -> list[tuple[Path, ast.Module]]:
    return [(SRC / unit / "fake.py", ast.parse(source))]


@pytest.mark.parametrize(("unit", "source", "expected"), [
    ("storage", "from llmspell.sessions.model import Session\n",
     "storage (layer 1) imports sessions (layer 2)"),
    ("sessions", "def f():\n    from llmspell.hooks.registry import HookRegistry\n",
     "sessions (layer 2) imports hooks (layer 3)"),
    ("state", "import llmspell.cli.main\n", "state (layer 2) imports cli (layer 7)"),
    ("hooks", "from llmspell import Runtime\n", "hooks (layer 3) imports __init__ (layer 7)"),
    ("gadgets", "x = 1\n", "'gadgets' has no layer"),
])
def test_layer_check_reports_an_upward_import(unit: str, source: str, expected: str) -> None:
    found = layer_violations(_fake(unit, source))
    assert len(found) == 1 and expected in found[0]


def test_layer_check_allows_downward_imports_and_the_version() -> None:
    source = ("from llmspell import __version__\nfrom llmspell.storage.base import Store\n"
              "from llmspell.errors import ValidationError\n")
    assert layer_violations(_fake("sessions", source)) == []


def test_private_check_reports_a_foreign_private_only() -> None:
    mine = ast.parse("class A:\n    def __init__(self):\n        self._own = 1\n")
    reach = ast.parse("def f(a, store):\n    a._own\n    store._batch([])\n    self._x\n")
    modules = [(SRC / "sessions" / "a.py", mine), (SRC / "sessions" / "b.py", reach)]
    found = private_violations(modules)
    assert len(found) == 1 and "store._batch" in found[0]


def test_session_key_check_reports_a_key_and_the_layout_import() -> None:
    source = ('"""Docstrings may say session/<id>."""\n'
              'from llmspell.sessions import index\n'
              'def f(sid):\n    return f"session/{sid}", "sessdel/" + sid\n')
    found = session_key_violations(_fake("artifacts", source))
    assert len(found) == 3
    assert session_key_violations(_fake("sessions", source)) == []


@pytest.mark.slow
def test_hook_registry_and_event_bus_fit_the_protocols_below_them(tmp_path: Path) -> None:
    """State, sessions and artifacts take the Protocols of :mod:`llmspell.protocols`; the
    runtime hands them the real HookRegistry and EventBus, which mypy must find fitting
    (the runtime passes them through ``Any`` in places, so this checks it directly)."""
    api = pytest.importorskip("mypy.api")
    program = (
        "from llmspell.events.bus import EventBus\n"
        "from llmspell.hooks.registry import HookRegistry\n"
        "from llmspell.protocols import EventSource, HookRegistrar\n"
        "def fit(h: HookRegistry, e: EventBus) -> tuple[HookRegistrar, EventSource]:\n"
        "    return h, e\n"
        "def misfit(h: HookRegistry) -> EventSource:\n"
        "    return h\n"
    )
    out, err, status = api.run(["--config-file", "", "--cache-dir", str(tmp_path),
                                "--follow-imports", "silent", "-c", program])
    assert status == 1, err
    # Only the deliberate misfit (a registry is no event source) is an error.
    assert out.count("error:") == 1 and "<string>:7:" in out, out
