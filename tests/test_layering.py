"""Imports point one way (docs/architecture.md): every fer_graph module is parsed with ``ast``
and each import of another fer_graph package is checked against the layer order."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fer_graph"

# Lower numbers sit lower. The package root (``fer_graph``, ``fer_graph.errors``) imports no
# other fer_graph module and may be imported by all. training, inference and viz share the top
# tier and do not import one another.
LAYERS = {"": 0, "errors": 0, "terminal": 0, "granular": 1, "faces": 1, "data": 2, "models": 3,
          "training": 4, "inference": 4, "viz": 4}
# What the two lowest packages may use besides the standard library: granular is the
# numba-only core; faces (detection and alignment, shared by data and inference) is dlib + PIL,
# with LiteRT for BlazeFace.
THIRD_PARTY = {"granular": {"numpy", "numba"}, "faces": {"numpy", "PIL", "dlib", "ai_edge_litert"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, lazy ones inside functions included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module))
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_subpackage_has_a_layer() -> None:
    tops = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tops |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert tops <= set(LAYERS), f"give {sorted(tops - set(LAYERS))} a layer in LAYERS and docs/architecture.md"


def test_no_module_imports_a_higher_or_sibling_layer() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(module_name(path))
        for line, module in imported_modules(path):
            if module.split(".")[0] != "fer_graph" or layer_of(module) == own:
                continue
            if LAYERS[layer_of(module)] >= LAYERS[own]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(THIRD_PARTY))
def test_lowest_packages_use_only_their_listed_third_party_modules(package) -> None:
    wrong = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top not in THIRD_PARTY[package] | {"fer_graph"}:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_relative_and_lazy_imports() -> None:
    relative = [m for _, m in imported_modules(PACKAGE / "granular" / "features.py")]
    assert "fer_graph.granular.graph" in relative  # `from .graph import NUM_FEATURES`
    lazy = [m for _, m in imported_modules(PACKAGE / "inference" / "loading.py")]
    assert "fer_graph.models" in lazy  # `from fer_graph.models import create_model` inside load_model
