"""The package's import graph (read with ast, function-level imports included): no cycles, no
module importing a higher layer (docs/design.md section 3), no CLI importing another CLI, thin CLIs,
no reference to files outside the repository, and tests/benchmarks importing the library only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PKG = "rlsl_jax"
# Layer of each top-level part of the package (docs/design.md section 3): imports go to the same or a lower layer.
LAYERS = {
    "config": 0, "cpu": 0, "parallel": 0, "logs": 0, "paper": 0, "__init__": 0,
    "envs": 1, "networks": 2, "rl": 3, "distill": 4, "checkpoint": 5, "evaluate": 6, "runner": 7,
    "tasks": 8, "studies": 9, "report": 10, "cli": 11, "experiments": 12, "launch": 12,
}
CLI_LIMITS = {"cartpole": 100, "kshot": 100, "ppo": 100, "cost": 100}
CLI_DEFAULT_LIMIT = 150


def modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / PKG).rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


MODS = modules()


def imports_of(name: str, path: Path) -> set[str]:
    """Package modules imported by ``name`` (relative imports resolved, ``from a import b`` -> a.b if a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        cands = []
        if isinstance(node, ast.Import):
            cands = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts if path.name == "__init__.py" else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            cands = [base] + [f"{base}.{a.name}" for a in node.names]
        for m in cands:
            while m and m not in MODS:
                m = m.rpartition(".")[0]
            if m and m != name and m.startswith(PKG):
                found.add(m)
    # a package __init__ re-exporting its own children is not an upward import or a cycle
    return {m for m in found if not (path.name == "__init__.py" and m.startswith(name + "."))}


GRAPH = {n: imports_of(n, p) for n, p in MODS.items()}


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else "__init__"]


def is_cli(name: str) -> bool:
    return name.startswith(f"{PKG}.experiments.") and '__name__ == "__main__"' in MODS[name].read_text()


def test_every_module_has_a_layer():
    unknown = sorted({n.split(".")[1] for n in MODS if "." in n} - set(LAYERS))
    assert not unknown, f"modules without a layer in LAYERS: {unknown}"


def test_no_upward_imports():
    bad = [f"{a} (layer {layer(a)}) -> {b} (layer {layer(b)})" for a, deps in GRAPH.items() for b in deps
           if layer(b) > layer(a)]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    sys_graph = {n: {d for d in deps if not MODS[d].name == "__init__.py"} for n, deps in GRAPH.items()
                 if MODS[n].name != "__init__.py"}
    state: dict[str, int] = {}
    cycles = []

    def visit(n, stack):
        state[n] = 1
        for d in sys_graph.get(n, ()):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in sys_graph:
        if n not in state:
            visit(n, [n])
    assert not cycles, "\n".join(cycles)


def test_clis_are_thin_and_independent():
    clis = [n for n in MODS if is_cli(n)]
    assert len(clis) >= 8
    for n in clis:
        short = n.rsplit(".", 1)[1]
        lines = len(MODS[n].read_text().splitlines())
        assert lines <= CLI_LIMITS.get(short, CLI_DEFAULT_LIMIT), f"{n}: {lines} lines"
        assert not [d for d in GRAPH[n] if d in clis], f"{n} imports another CLI"


@pytest.mark.parametrize("tree", ["src", "tests", "benchmarks"])
def test_no_references_outside_the_repo(tree):
    offenders = [str(p.relative_to(REPO)) for p in (REPO / tree).rglob("*.py")
                 if p.name != "test_architecture.py" and "DESIGN.md" in p.read_text()]
    assert not offenders, offenders
    assert (REPO / "docs" / "design.md").is_file()


def test_tests_and_benchmarks_take_library_functions_from_the_library():
    """No ``from rlsl_jax.experiments.<cli> import <function>``: what a test or benchmark needs lives
    in the library (a test may still import a CLI module to run its ``main``); benchmarks never
    import a CLI at all."""
    bad = []
    for tree in ("tests", "benchmarks"):
        for p in (REPO / tree).rglob("*.py"):
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    if node.module in MODS and is_cli(node.module):
                        bad.append(f"{p.relative_to(REPO)}: from {node.module} import ...")
                    if tree == "benchmarks" and any(is_cli(f"{node.module}.{a.name}") for a in node.names
                                                    if f"{node.module}.{a.name}" in MODS):
                        bad.append(f"{p.relative_to(REPO)}: imports a CLI from {node.module}")
    assert not bad, "\n".join(bad)
