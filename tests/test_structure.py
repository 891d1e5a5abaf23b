"""The package's shape, held by reading its source (AST): modules of one job that fit in a head,
short functions, no import cycle, the subtask as an object past the edges, a maintained TOML writer."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mediaeval"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
MAX_SUBTASK_STR = 3          # `subtask: str` parameters, at the CLI edge only
# Imports that may close a cycle: the registries' plugin imports (an extractor or a model family
# module registers itself into the registry that imports it by name): a registry's imports of the
# modules of its own package, not its other imports.
PLUGIN_IMPORTERS = {"mediaeval.features.registry", "mediaeval.families"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("name, path", modules().items())
def test_no_module_over_the_limit(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"


def test_no_function_over_the_limit():
    long = []
    for name, path in modules().items():
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports, anywhere in it (function-level imports too)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        targets = set()
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                candidates = _resolve(name, node, path.name == "__init__.py")
            else:
                continue
            targets |= {c for c in candidates if c in known and c != name}
        graph[name] = targets
    return graph


def _plugin_package(module: str) -> str:
    """The package whose modules a registry imports as plugins: its own (a registry that is a
    package) or the one it is in."""
    return module if modules()[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def test_no_import_cycle():
    graph = {m: ({x for x in t if not x.startswith(_plugin_package(m) + ".")} if m in PLUGIN_IMPORTERS else t)
             for m, t in import_graph().items()}
    # a package imports its own submodules to register or re-export them: not a cycle through it
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_subtask_is_a_string_only_at_the_cli_edge():
    found = []
    for name, path in modules().items():
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.arg == "subtask" and isinstance(arg.annotation, ast.Name) and arg.annotation.id == "str":
                        found.append(f"{name}.{node.name}")
                    if (arg.arg == "subtask" and isinstance(arg.annotation, ast.Constant)
                            and arg.annotation.value == "str"):
                        found.append(f"{name}.{node.name}")
    assert len(found) <= MAX_SUBTASK_STR, found


def test_no_hand_written_toml_writer():
    names = {node.name for path in modules().values() for node in ast.walk(parsed(path))
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert not names & {"_toml_value", "_toml_lines", "_type_error", "_checked", "Range"}
    uses = [name for name, path in modules().items() if "tomlkit" in path.read_text(encoding="utf-8")]
    assert uses, "run definitions are written by tomlkit"
