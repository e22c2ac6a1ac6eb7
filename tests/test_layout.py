"""The house's shape (../shared/specs/architecture.md): a folder per stage, data flowing one way.

Walks every import of the package, at module level and inside functions, and asserts that no
module imports itself through others (no cycle) and that no stage imports a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "geo_violence"

#: Each stage's rank: a module may import its own stage's modules and lower ones only.
STAGES = {
    "errors": 0,
    "columns": 0,
    "codes": 0,
    "outputs": 0,
    "choices": 0,
    "lazy": 0,
    "progress": 0,
    "sources": 1,
    "units": 2,
    "cube": 3,
    "stats": 4,
    "render": 5,
    "jobs": 6,
    "cli": 7,
    "testing": 8,
}
#: The top-level API and ``python -m geo_violence`` import everything by design.
ENTRY_POINTS = {"geo_violence", "geo_violence.__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, source: str | None = None) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in the file (``source`` stands
    for the file's text when given)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target.startswith("geo_violence")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def stage_of(module: str) -> str:
    return module.split(".")[1]


def test_every_module_lives_in_a_known_stage(graph):
    unknown = sorted(
        name for name in graph if name not in ENTRY_POINTS and stage_of(name) not in STAGES
    )
    assert not unknown, f"modules outside every stage: {unknown}"


def test_no_import_cycle(graph):
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_lower_stages_never_import_higher_ones(graph):
    upward = sorted(
        (name, target)
        for name, targets in graph.items()
        if name not in ENTRY_POINTS
        for target in targets
        if target not in ENTRY_POINTS and STAGES[stage_of(target)] > STAGES[stage_of(name)]
    )
    assert not upward, f"imports against the data flow: {upward}"


def test_the_product_never_imports_the_test_stand_ins(graph):
    users = sorted(
        name
        for name, targets in graph.items()
        if name not in ENTRY_POINTS
        and stage_of(name) != "testing"
        and any(t not in ENTRY_POINTS and stage_of(t) == "testing" for t in targets)
    )
    assert not users, f"product modules importing geo_violence.testing: {users}"


def test_the_walk_sees_imports_inside_functions_and_relative_levels():
    # the checks above must fail on what they exist to catch: an import hidden in a function
    path = PACKAGE / "units" / "layers.py"
    source = "def f():\n    from ..jobs.skeleton import Job\n    from . import grids\n"
    assert imports_of(path, source) >= {"geo_violence.jobs.skeleton", "geo_violence.units.grids"}
    assert "geo_violence.sources.cache" in imports_of(path)
