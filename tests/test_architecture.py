"""The layering docs/architecture.md describes holds in the code, and the doc's edge table is the graph."""

import ast
import re
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("barlow", "analysis_core", "study")
# Sub-packages of analysis_core that are units of their own in the doc's table.
SUBPACKAGES = {"artifacts", "datasets", "models", "report", "reproduction", "visualization"}
TOP_MODULES = "`analysis_core` (modules)"
STRING_IMPORTS = {"import_module", "importlib.import_module", "__import__"}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _imports(graph) -> list[tuple[str, str]]:
    return [(a, b) for a in sorted(graph.modules) for b in sorted(graph.find_modules_directly_imported_by(a))]


def _unit(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "analysis_core":
        return f"`{parts[0]}`"
    if len(parts) > 1 and parts[1] in SUBPACKAGES:
        return f"`analysis_core.{parts[1]}`"
    return TOP_MODULES


def test_libraries_never_import_upward(graph):
    upward = [(a, b) for a, b in _imports(graph)
              if (a.startswith("analysis_core") and b.split(".")[0] in ("barlow", "study"))
              or (a.startswith("study") and b.split(".")[0] == "barlow")]
    assert upward == []


def test_study_meets_analysis_core_only_at_artifacts(graph):
    crossing = [(a, b) for a, b in _imports(graph)
                if a.split(".")[0] == "study" and b.split(".")[0] == "analysis_core"
                and not (b == "analysis_core.artifacts" or b.startswith("analysis_core.artifacts."))]
    assert crossing == []


def test_no_import_circles(graph):
    # Tarjan's strongly connected components over every import, function-level ones included.
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(root: str) -> None:
        # Iterative, so a deep chain cannot hit the recursion limit.
        work = [(root, iter(adjacency[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                if len(component) > 1:
                    circles.append(sorted(component))

    for module in sorted(adjacency):
        if module not in index:
            visit(module)
    assert circles == []


def test_no_imports_by_string():
    # A user's own model code (entrypoint:module:function) is the one module named at run time.
    allowed = {REPO / "analysis_core" / "models" / "entrypoint.py"}
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and ast.unparse(node.func) in STRING_IMPORTS:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def _documented_edges() -> dict[str, set[str]]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Import edges between packages", 1)[1].split("\n## ", 1)[0]
    edges = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        imported = set(re.findall(r"`[^`]+`(?: \(modules\))?", cells[1]))
        edges[cells[0]] = imported
    return edges


def test_architecture_doc_lists_the_real_package_edges(graph):
    real: dict[str, set[str]] = {}
    for a, b in _imports(graph):
        if _unit(a) != _unit(b):
            real.setdefault(_unit(a), set()).add(_unit(b))
    documented = _documented_edges()
    for unit in {_unit(m) for m in graph.modules}:
        real.setdefault(unit, set())
    assert documented == real
