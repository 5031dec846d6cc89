"""The architecture as a test: core's wings import one way, and no import circle exists in core/ or suites/.

Every import counts, also those inside functions (a lazy import is still a dependency).
"""

import ast
import importlib
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
WINGS = ["errors", "outputs", "assets", "model", "data", "train", "synth", "curate", "eval", "cli"]
RANK = {"errors": 0, "outputs": 0, "assets": 0, "model": 1, "data": 2, "train": 3, "synth": 4, "curate": 5, "eval": 6, "cli": 7}


def modules(package: str) -> dict[str, pathlib.Path]:
    out = {}
    for path in (REPO / package).rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


ALL = {**modules("core"), **modules("suites")}


def imported(name: str, source: pathlib.Path) -> set[str]:
    """The project modules that `name` (at `source`) imports."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for target in targets:
            while target and target not in ALL:
                target = target.rpartition(".")[0]
            if target and target != name and not (target in ("core", "suites") or name.startswith(target + ".")):
                found.add(target)
    return found


GRAPH = {name: imported(name, path) for name, path in ALL.items()}


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "core"


def test_every_core_module_belongs_to_a_wing():
    stray = [m for m in ALL if m.startswith("core.") and wing(m) not in RANK]
    assert not stray, f"modules outside the wings {WINGS}: {stray}"


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        if not module.startswith("core."):
            continue
        for target in targets:
            if target.startswith("suites"):
                bad.append(f"{module} imports the suite module {target}")
            elif target.startswith("core.") and RANK[wing(target)] > RANK[wing(module)]:
                bad.append(f"{module} ({wing(module)}) imports the higher wing's {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_a_lower_wing_never_imports_a_higher_one():
    assert layering_violations(GRAPH) == []


@pytest.mark.parametrize("package", ["core", "suites"])
def test_no_import_circle(package):
    assert [c for c in cycles(GRAPH) if c[0].startswith(package)] == []


def test_the_checks_catch_what_they_guard_against():
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph["core.data.chat"].add("core.train.loss")
    assert layering_violations(graph) == ["core.data.chat (data) imports the higher wing's core.train.loss"]
    graph["core.model.kernels"] = graph["core.model.kernels"] | {"core.model.attention"}
    found = cycles(graph)
    assert ["core.data.chat", "core.train.loss"] in found
    assert any({"core.model.attention", "core.model.kernels"} <= set(c) for c in found)


@pytest.mark.parametrize("module", sorted(m for m in ALL if not m.endswith("__main__")))
def test_every_module_imports(module):
    importlib.import_module(module)
