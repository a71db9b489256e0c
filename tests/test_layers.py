"""The import graph follows the documented layers (docs/developer.md): a module imports only from its
own layer or layers before it, lazy imports inside functions included, and module-level imports form
no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# docs/developer.md's order: each layer may import the ones before it.
LAYERS = ["registry", "devices", "keypoints", "config", "data", "grouping", "codecs", "models", "estimators", "training", "evaluation",
          "experiment", "visualize", "inference", "runtime", "commands", "cli"]


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in (SRC / "posekit").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = ast.parse(path.read_text())
    return out


def _imports(tree: ast.AST, top_level_only: bool, modules: dict | None = None) -> list[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from posekit.training import distributed` imports the submodule, not the package's body
            subs = [f"{node.module}.{a.name}" for a in node.names]
            names += [m for m in subs if modules and m in modules] or [node.module]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n == "posekit" or n.startswith("posekit.")]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_no_upward_import():
    modules = _modules()
    upward = []
    for module, tree in modules.items():
        own = _layer(module)
        if own is None:
            continue
        assert own in LAYERS, f"{module}: layer '{own}' is not in docs/developer.md's order; add it there and here"
        for target in _imports(tree, top_level_only=False):
            layer = _layer(target)
            if layer is not None and layer != own and LAYERS.index(layer) > LAYERS.index(own):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle_at_module_level():
    modules = _modules()
    graph = {m: [t for t in _imports(tree, True, modules) if t in modules and t != m]
             for m, tree in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
