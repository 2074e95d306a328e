"""The package's layout shows the pipeline: each stage imports only the stages below it, and no
file grows past a size one person can hold in mind.

The layers are the stages of ``data/ -> analysis/ -> book/`` in the order data flows through
them. An import that runs back up (a lower stage asking a higher one, even inside a function) is
what turned the flat package into one 26-file circle; this test keeps it from coming back.
Imports are read from the source (``ast``), so a function-local import counts too.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analysis"

# Lowest first. A module belongs to the first layer with a pattern that matches its dotted name.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("registry and engine", (r"analysis\.questions", r"analysis\.measures", r"analysis\.engine(\..*)?")),
    ("reading and writing data/", (r"analysis\.io(\..*)?",)),
    ("search exports and records", (r"analysis\.search(\..*)?",)),
    ("two reviewers", (r"analysis\.reviewers(\..*)?",)),
    ("study selection", (r"analysis\.selection(\..*)?",)),
    ("evidence tables", (r"analysis\.evidence(\..*)?",)),
    ("pooling", (r"analysis\.pooling(\..*)?",)),
    ("figures", (r"analysis\.figures(\..*)?",)),
    ("the review object", (r"analysis\.review",)),
    ("findings", (r"analysis\.findings(\..*)?",)),
    ("versions", (r"analysis\.versions(\..*)?",)),
    ("views", (r"analysis\.views(\..*)?",)),
    ("commands", (r"analysis", r"analysis\.__main__", r"analysis\.commands(\..*)?")),
)
MAX_LINES = 550  # "none much over 500"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        if any(re.fullmatch(pattern, module) for pattern in patterns):
            return index
    raise LookupError(module)


def imported_modules(module: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source."""
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if candidate in modules else source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules and name != module}


def test_every_module_has_a_layer():
    assert [name for name in MODULES if not _has_layer(name)] == []


def _has_layer(module: str) -> bool:
    try:
        layer_of(module)
    except LookupError:
        return False
    return True


def test_no_stage_imports_a_stage_above_it():
    upward = sorted(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
                    for module in MODULES if _has_layer(module)
                    for target in imported_modules(module)
                    if _has_layer(target) and layer_of(target) > layer_of(module))
    assert upward == []


def test_no_file_much_over_500_lines():
    long_files = {str(path.relative_to(PACKAGE.parent)): count for path in MODULES.values()
                  if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long_files == {}


def test_the_layer_test_sees_an_upward_import_inside_a_function(tmp_path):
    """The checker itself: an engine module asking the review object, relatively and inside a
    function, is an import from layer 0 up to a higher one."""
    engine_module = tmp_path / "analysis" / "engine" / "upward.py"
    engine_module.parent.mkdir(parents=True)
    engine_module.write_text("def f():\n    from .. import review\n", encoding="utf-8")
    modules = {"analysis.engine.upward": engine_module, "analysis.review": tmp_path / "analysis" / "review.py"}
    assert imported_modules("analysis.engine.upward", modules) == {"analysis.review"}
    assert layer_of("analysis.review") > layer_of("analysis.engine.upward")
