"""The layers of the house (CONTRIBUTING.md), read from the source: no module under convgrad/ imports
from a layer above its own (function-level imports included), and none is longer than 700 lines."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "convgrad"

# first dotted parts of module names under convgrad, lowest layer first
LAYERS = [
    ("core", {"_checks", "_unsupported", "geometry", "dtypes", "random", "threads", "tensor",
              "tensor_methods", "tensor_functions", "autograd", "ops", "factories", "devices", "size",
              "printing", "toplevel", "testing", "accelerator", "cuda", "backends", "amp",
              "distributed"}),
    ("functional", {"functional"}),
    ("nn", {"nn", "serialization", "serialization_torch"}),  # save/load restore Parameters as Parameters
    ("optim, utils.data", {"optim", "utils"}),
    ("vision", {"vision"}),
    ("training", {"training"}),
    ("tools", {"summary", "arithmetic", "viz", "cli", "env", "onnx", "demo",
               "__main__", "lab", "serve"}),
]
RANK = {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}
LONG_ALLOWED = {"tensor.py"}  # the lead's; it has its own bound (900)


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, parts, is_package


def _imported(tree, parts, is_package):
    """(line, module path under convgrad) of every import of a convgrad module in ``tree``."""
    here = parts if is_package else parts[:-1]  # the package relative imports start from
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name.split(".")
                if name[0] == "convgrad":
                    yield node.lineno, name[1:]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "convgrad":
                base = node.module.split(".")[1:]
            else:
                continue
            if base:
                yield node.lineno, base
            else:  # from convgrad import nn, cli: each name is a module of its own
                for alias in node.names:
                    yield node.lineno, [alias.name]


def _rank(parts):
    return RANK.get(parts[0]) if parts else None


def _violations():
    out = []
    for path, parts, is_package in _modules():
        own = _rank(parts)
        if own is None:  # convgrad/__init__.py: re-exports the core, loads the rest lazily
            continue
        tree = ast.parse(path.read_text(), str(path))
        for line, target in _imported(tree, parts, is_package):
            r = _rank(target)
            if r is not None and r > own:
                out.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({LAYERS[own][0]}) imports "
                           f"convgrad.{'.'.join(target)} ({LAYERS[r][0]})")
    return out


def test_every_module_has_a_layer():
    unplaced = {parts[0] for _, parts, _ in _modules() if parts and parts[0] not in RANK}
    assert not unplaced, f"put these in LAYERS (and in CONTRIBUTING.md's table): {sorted(unplaced)}"


def test_no_module_imports_from_a_layer_above():
    assert _violations() == []


def test_the_check_sees_every_kind_of_import():
    """The parser finds absolute, relative and function-level imports (a check that cannot fail is no
    check)."""
    src = ("from convgrad.vision import models\n"
           "def f():\n    from ... import training\n"
           "from convgrad import cli, nn\n"
           "from .conv import Conv2d\n")
    found = sorted(tuple(t) for _, t in _imported(ast.parse(src), ["nn", "modules", "x"], False))
    assert found == [("cli",), ("nn",), ("nn", "modules", "conv"), ("training",), ("vision",)]


@pytest.mark.parametrize("path", [p for p, _, _ in _modules()], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_700_lines(path):
    if path.name in LONG_ALLOWED and path.parent == PACKAGE:
        return
    n = len(path.read_text().splitlines())
    assert n <= 700, f"{path.relative_to(PACKAGE)} has {n} lines"
