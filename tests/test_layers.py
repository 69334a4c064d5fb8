"""The package's layers: imports point down only, and no module reaches itself through others.

Read from the source with `ast`, so lazy imports inside functions count too: a circle hidden in
a function is still a circle. The layers, lowest first: the foundation (`errors`, `intervals`),
then data, uplift, evaluation, decisions, journeys (touchpoint logs and multi-touch attribution),
serving (scoring a Kafka stream, and its score log), present, and on top the command line and
the pages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    "foundation",
    "data",
    "uplift",
    "evaluation",
    "decisions",
    "journeys",
    "serving",
    "present",
    "interface",
)
FOUNDATION = {"impactiq.errors", "impactiq.intervals"}
INTERFACE = {"impactiq", "impactiq.cli", "impactiq.__main__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The impactiq modules `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {n for n in names if n in modules} or ({node.module} & modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
    return found


def _graph(files) -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in files}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def layer(module: str) -> str:
    """The layer of an impactiq module, or of the pages."""
    if module.startswith("pages") or module in INTERFACE:
        return "interface"
    if module in FOUNDATION:
        return "foundation"
    return module.split(".")[1]


PACKAGE = _graph([*ROOT.joinpath("impactiq").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py")])


def test_every_module_belongs_to_a_known_layer():
    unknown = sorted(m for m in PACKAGE if layer(m) not in LAYERS)
    assert not unknown, f"modules outside the layers {LAYERS}: {unknown}"


def test_imports_point_down_only():
    upward = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in PACKAGE.items()
        for target in targets
        if LAYERS.index(layer(target)) > LAYERS.index(layer(module))
        and not (module == "impactiq" and target.startswith("impactiq."))
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    assert find_circle(PACKAGE) is None, " -> ".join(find_circle(PACKAGE))


def test_the_package_never_imports_streamlit():
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.joinpath("impactiq").rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "streamlit" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "streamlit")
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    ]
    assert not offenders


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as a list of modules ending where it starts, or None."""
    done, stack = set(), []

    def visit(module: str) -> list[str] | None:
        if module in stack:
            return stack[stack.index(module) :] + [module]
        if module in done:
            return None
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            circle = visit(target)
            if circle:
                return circle
        stack.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module)
        if circle:
            return circle
    return None


@pytest.mark.parametrize(
    ("graph", "circle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ],
)
def test_the_circle_finder_finds_circles(graph, circle):
    assert find_circle(graph) == circle


def test_a_lazy_upward_import_is_caught(tmp_path):
    """The reader sees imports inside functions, the way the old training → explain circle hid."""
    source = tmp_path / "training.py"
    source.write_text("def explain():\n    from impactiq.decisions.explain import explain_uplift\n")
    assert _imports(source, {"impactiq.decisions.explain"}) == {"impactiq.decisions.explain"}
