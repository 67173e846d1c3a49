"""The package's shape: no import cycles, no reaching into another module's private names, one wording each."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp

SRC = Path(__file__).resolve().parents[1] / "src" / "credit_points"


def _import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return cycles


def test_no_modules_import_each_other_even_inside_functions() -> None:
    # given the import graph of the package (grimp reads every import statement, in functions too)
    graph = grimp.build_graph("credit_points")
    # then no module reaches itself through its imports
    assert _import_cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path, monkeypatch) -> None:
    # given a tiny package whose second module imports the first inside a function
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import a\n    return a\n")
    (pkg / "c.py").write_text("from cyclepkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # then the cycle is found, and the module outside it is not named
    assert _import_cycles(grimp.build_graph("cyclepkg")) == [["cyclepkg.a", "cyclepkg.b"]]


def _private_imports(root: Path) -> Iterator[str]:
    """``file:line name`` for each ``_name`` imported from another module of the package."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            ours = node.level > 0 or (node.module or "").split(".")[0] == "credit_points"
            if not ours:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{path.relative_to(root.parent)}:{node.lineno} {alias.name}"


def test_no_module_imports_another_modules_private_name() -> None:
    assert list(_private_imports(SRC)) == []


def test_the_private_import_check_sees_one(tmp_path) -> None:
    pkg = tmp_path / "credit_points"
    pkg.mkdir()
    (pkg / "a.py").write_text("from credit_points.b import _hidden, shown\nfrom os import _exit\n")
    assert list(_private_imports(pkg)) == ["credit_points/a.py:1 _hidden"]


def test_the_idempotency_conflict_message_is_written_once() -> None:
    # one wording: the audit store and the API answer a reused key with the same text
    texts = [p for p in SRC.rglob("*.py") if "with a different request body" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(SRC).as_posix() for p in texts] == ["audit/store.py"]


def test_report_builders_fit_on_a_screen() -> None:
    # the per-loan report is composed of one builder per section, each short enough to hold in mind
    tree = ast.parse((SRC / "reports" / "loan.py").read_text(encoding="utf-8"))
    lengths = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    }
    assert {name for name in lengths if name.endswith("_section")} >= {
        "_header_section", "_outcome_section", "_points_section", "_risk_section",
        "_reasons_section", "_help_section", "_products_section", "_model_section",
    }  # fmt: skip
    assert {name: n for name, n in lengths.items() if n > 60} == {}
