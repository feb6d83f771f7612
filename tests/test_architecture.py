"""The house rules, read from the code itself: rooms import only downwards, nothing imports in a
circle, no module is over 400 lines and no function over 60 (the simulators' route tables,
``create_app``, excepted), and every package says in its docstring what the room is for."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Each room may import its own modules and any room of a lower rank, never one above.
RANKS = {
    "domain": 0,
    "jobgate": 1,  # the package itself: its version
    "vendors": 1,
    "redaction": 1,
    "lru": 1,
    "timeouts": 1,  # SharedTimeout: request deadlines (web) and call attempts (upstream)
    "internals": 1,
    "config": 2,
    "logs": 2,
    "metrics": 2,
    "telemetry": 2,  # OpenTelemetry spans: the web layer opens them, upstream calls add theirs
    "upstream": 3,
    "providers": 4,
    "listing": 5,  # searchJobs over the providers; the gateway offers it
    "watch": 5,  # jobUpdated: polls through the gateway's reads, told its outcomes
    "fleet": 5,  # replicas share the polls through Redis
    "audit": 5,  # one record per mutation and job id
    "gateway": 5,
    "graphql": 6,
    "simulators": 6,  # honest vendors: they share the domain's rules and the config's shapes
    "web": 7,
    "cli": 8,
    "supervisor": 8,  # serve --workers: the processes, each with its own socket
}
# Rooms of equal rank that must not know each other.
STRANGERS = {("graphql", "simulators"), ("simulators", "graphql")}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
ROUTE_TABLES = {"create_app"}  # in jobgate.simulators.*: one route per vendor endpoint


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: int

    @property
    def room(self) -> str:
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    def imports(self, known: set[str]) -> set[str]:
        """The jobgate modules this one imports, wherever the import statement is."""
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                found.add(target)
                found |= {f"{target}.{alias.name}" for alias in node.names}
        return {name for name in found if name in known and name != self.name}


def modules(root: Path, package: str) -> dict[str, Module]:
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        text = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(text), len(text.splitlines()))
    return found


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def length(node: ast.AST) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1  # type: ignore[attr-defined]


SOURCE = modules(SRC, "jobgate")
BENCH = modules(ROOT, "bench")
GRAPH = {name: module.imports(set(SOURCE)) for name, module in SOURCE.items()}


def test_every_room_has_a_rank() -> None:
    assert {m.room for m in SOURCE.values()} <= set(RANKS)


def test_no_room_imports_upwards() -> None:
    upward = sorted(
        f"{name} ({SOURCE[name].room}) imports {target} ({SOURCE[target].room})"
        for name, targets in GRAPH.items()
        for target in targets
        if SOURCE[name].room != SOURCE[target].room
        and (
            RANKS[SOURCE[target].room] > RANKS[SOURCE[name].room]
            or (SOURCE[name].room, SOURCE[target].room) in STRANGERS
        )
    )
    assert upward == []


def test_no_import_cycles() -> None:
    cycles = [component for component in _strong_components(GRAPH) if len(component) > 1]
    assert cycles == []


def _strong_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            target = next(edges, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [sorted(c) for c in _strong_components(graph) if len(c) > 1] == [["a", "b", "c"]]


@pytest.mark.parametrize("tree", [SOURCE, BENCH], ids=["src", "bench"])
def test_modules_are_small(tree: dict[str, Module]) -> None:
    big = sorted((m.lines, name) for name, m in tree.items() if m.lines > MAX_MODULE_LINES)
    assert big == []


@pytest.mark.parametrize("tree", [SOURCE, BENCH], ids=["src", "bench"])
def test_functions_are_short(tree: dict[str, Module]) -> None:
    long = sorted(
        (length(function), f"{name}.{function.name}")
        for name, module in tree.items()
        for function in functions(module.tree)
        if length(function) > MAX_FUNCTION_LINES
        and not (module.room == "simulators" and function.name in ROUTE_TABLES)
    )
    assert long == []


def test_every_package_and_module_says_what_it_is_for() -> None:
    """A package's docstring describes its room (a sentence at least); a module has one."""
    silent = [
        name
        for name, module in {**SOURCE, **BENCH}.items()
        if (module.lines > 3 or module.path.name == "__init__.py")
        and len((ast.get_docstring(module.tree) or "").split())
        < (8 if module.path.name == "__init__.py" else 1)
    ]
    assert silent == []
