"""The shape of the package, checked by reading its sources with ast (nothing is imported,
so a module that fails to import still gets its report):

* every module sits in one layer of ``LAYERS`` (bottom first) and imports only its own
  layer and the ones below, at module level or inside a function (the order of
  docs/architecture.md's "Layers");
* no module uses a private name (``_name``) of another symkan module, neither imported
  (``from .x import _y``) nor as an attribute of an imported module (``x._y``);
* no source file is over 450 lines.

Each failure lists every offender as ``file:line`` so that the message is the to-do list.
Only static imports are seen (and ``importlib.import_module`` of a literal string).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "symkan"
#: the layers, bottom first: a module may import its own layer and the ones below
LAYERS = (
    ("symkan.functions", "symkan.checks", "symkan.tensor_memo", "symkan.units", "symkan.work",
     "symkan.sample_weights", "symkan.lbfgs"),
    ("symkan.kernels", "symkan.bases"),
    ("symkan.nn",),
    ("symkan.train", "symkan.analytic_backward", "symkan.regularize", "symkan.scores", "symkan.distributed", "symkan.models",
     "symkan.conv_scores", "symkan.conv_plot"),
    ("symkan.symbolic", "symkan.plot", "symkan.plot_units", "symkan.plot_insets", "symkan.plot_results",
     "symkan.pruning"),
    ("symkan.discovery", "symkan.pareto", "symkan.datasets"),
    ("symkan.regressor", "symkan.regressor_checks", "symkan.regressor_output", "symkan.persistence", "symkan.model_file", "symkan.cli", "symkan.progress",
     "symkan.warm_start", "symkan.multi_target", "symkan.many"),
)
MAX_LINES = 450


# --- reading the sources ------------------------------------------------------------------
def source_files() -> list[str]:
    """Paths of symkan's Python files relative to the repository root, sorted."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / PACKAGE).rglob("*.py"))


def read(relpath: str) -> str:
    return (ROOT / relpath).read_text(encoding="utf-8")


def module_of(relpath: str) -> tuple[str, str]:
    """'symkan/nn/layer.py' -> ('symkan.nn.layer', 'symkan.nn'): the module's dotted name
    and the package its relative imports start from (a package's __init__ is its own)."""
    parts = relpath[:-len(".py")].split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def known_modules() -> set[str]:
    """Dotted names of every symkan module and package in the source tree."""
    return {module_of(path)[0] for path in source_files()}


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of ``from <module> import ...`` (relative ones resolved)."""
    if not node.level:
        return node.module
    parts = package.split(".")
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(relpath: str, tree: ast.AST):
    """(line, module, name) for every import anywhere in the file: ``name`` is what a
    ``from`` import takes from ``module``, None for ``import module`` and for
    ``importlib.import_module("module")``."""
    package = module_of(relpath)[1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.lineno, from_module(node, package), alias.name
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value, None


def module_bindings(relpath: str, tree: ast.AST, modules: set[str]) -> dict[str, str]:
    """Local name -> the symkan module it names, for every import of a symkan module in
    the file (``import symkan.a`` binds ``symkan``; ``from . import a as b`` binds ``b``)."""
    package, bound = module_of(relpath)[1], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if within(alias.name, (PACKAGE,)):
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = from_module(node, package)
            for alias in node.names:
                if f"{module}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
    return bound


def dotted(node: ast.AST) -> str | None:
    """'a.b.c' for a chain of attribute lookups on a plain name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


# --- the three checks, on one file's text -------------------------------------------------
def layer_of(name: str) -> int | None:
    """Index in LAYERS of the most specific entry that contains module ``name`` (None: none)."""
    best = None
    for k, group in enumerate(LAYERS):
        for prefix in group:
            if within(name, (prefix,)) and (best is None or len(prefix) > best[1]):
                best = (k, len(prefix))
    return None if best is None else best[0]


def layer_offenders(relpath: str, source: str) -> list[str]:
    """Imports of a higher layer than the file's own: 'file:line imports module'."""
    own = layer_of(module_of(relpath)[0])
    if own is None:
        return []
    found = []
    for line, module, name in imports_of(relpath, ast.parse(source)):
        # ``from symkan import cli`` names the module symkan.cli; ``from .kan import KAN`` a name in .kan
        target = next((t for t in (module, f"{module}.{name}" if name else None) if t and layer_of(t) is not None),
                      None)
        if target is not None and layer_of(target) > own:
            found.append((line, f"{relpath}:{line} imports {target}"))
    return [text for _, text in sorted(found)]


def private_offenders(relpath: str, source: str, modules: set[str]) -> list[str]:
    """Private names of other symkan modules that the file imports by name or looks up on
    an imported symkan module: 'file:line imports module._name' / 'file:line uses module._name'."""
    own, tree = module_of(relpath)[0], ast.parse(source)
    found = set()
    for line, module, name in imports_of(relpath, tree):
        if name and within(module, (PACKAGE,)) and is_private(name):
            found.add((line, f"{relpath}:{line} imports {module}.{name}"))
    bound = module_bindings(relpath, tree, modules)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        chain = dotted(node.value)
        head, _, rest = (chain or "").partition(".")
        if head not in bound:
            continue
        target = bound[head] + (f".{rest}" if rest else "")
        if target in modules and target != own:
            found.add((node.lineno, f"{relpath}:{node.lineno} uses {target}.{node.attr}"))
    return [text for _, text in sorted(found)]


def length_offender(relpath: str, source: str, limit: int = MAX_LINES) -> list[str]:
    n = len(source.splitlines())
    return [f"{relpath}: {n} lines (limit {limit})"] if n > limit else []


def report(what: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {what}:\n  " + "\n  ".join(offenders)


# --- the package ------------------------------------------------------------------------------
def test_low_layers_do_not_import_high_layers():
    """Each module imports only its own layer and the ones below (LAYERS)."""
    offenders = [o for path in source_files() for o in layer_offenders(path, read(path))]
    assert not offenders, report("imports of a higher layer", offenders)


def test_every_module_has_a_layer():
    """A new top-level module or package must be placed in LAYERS (and in the docs' picture)."""
    unplaced = sorted(m for m in known_modules() if m != PACKAGE and layer_of(m) is None)
    assert not unplaced, report("modules in no layer of LAYERS", unplaced)


def test_no_module_uses_a_private_name_of_another():
    modules = known_modules()
    offenders = [o for path in source_files() for o in private_offenders(path, read(path), modules)]
    assert not offenders, report("uses of another module's private name", offenders)


def test_no_source_file_is_over_the_line_limit():
    offenders = [o for path in source_files() for o in length_offender(path, read(path))]
    assert not offenders, report(f"source files over {MAX_LINES} lines", offenders)


def test_the_package_is_found():
    """The checks above pass vacuously if they read nothing."""
    modules = known_modules()
    assert {"symkan", "symkan.nn", "symkan.bases", "symkan.kernels", "symkan.symbolic"} <= modules
    assert len(source_files()) > 30


# --- the checks themselves, on made-up sources ------------------------------------------------
def test_layer_check_sees_every_form_of_import():
    source = "\n".join([
        "from ..symbolic.library import get_function",   # 1 relative, module level
        "def f():",
        "    import symkan.discovery as d",               # 3 absolute, inside a function
        "    from symkan import cli",                     # 4 the module as a name
        "from .. import regressor",                        # 5 relative, the module as a name
        "import importlib",
        "importlib.import_module('symkan.symbolic.snap')",  # 7
        "from ..bases import get_basis",                   # allowed: a lower layer
        "from .kan import KAN",                            # allowed: same layer
        "import symkan.clipboard",                         # allowed: only a prefix of 'cli'
    ])
    found = layer_offenders("symkan/nn/layer.py", source)
    assert [int(o.split(":")[1].split()[0]) for o in found] == [1, 3, 4, 5, 7], found
    assert found[0] == "symkan/nn/layer.py:1 imports symkan.symbolic.library"
    assert found[2] == "symkan/nn/layer.py:4 imports symkan.cli"
    # the top layer may import anything, and a package's __init__ resolves from itself
    assert layer_offenders("symkan/cli/__init__.py", source) == []
    # a middle layer may import what is below it, not what is above
    assert layer_offenders("symkan/symbolic/snap.py", "from ..nn import KAN\nfrom ..discovery import Rung") == [
        "symkan/symbolic/snap.py:2 imports symkan.discovery"]
    assert layer_offenders("symkan/bases/__init__.py", "from ..cli import main") == [
        "symkan/bases/__init__.py:1 imports symkan.cli"]


def test_private_check_sees_imports_and_attribute_lookups():
    modules = {"symkan", "symkan.scores", "symkan.train", "symkan.nn", "symkan.nn.layer", "symkan.symbolic",
               "symkan.symbolic.formula"}
    source = "\n".join([
        "from .scores import (check_kan,",
        "    _attribution)",                                 # 2 (line of the statement: 1)
        "from symkan.train import _Flat as F",              # 3
        "import symkan.train",
        "from . import scores",
        "from .nn import layer as L",
        "def f(self, np, model):",
        "    scores._inout(model)",                         # 8
        "    symkan.train._FlatParameters",                 # 9
        "    L._helper",                                    # 10
        "    self._cache, np._private, model._refresh()",   # allowed: not imported symkan modules
        "    from .symbolic.formula import _evaluate",      # 12, inside a function
        "    from .scores import __all__, Scores",          # allowed: dunder and public
        "    from torch import _C",                         # allowed: not symkan
    ])
    found = private_offenders("symkan/plot.py", source, modules)
    assert found == ["symkan/plot.py:1 imports symkan.scores._attribution",
                     "symkan/plot.py:3 imports symkan.train._Flat",
                     "symkan/plot.py:8 uses symkan.scores._inout",
                     "symkan/plot.py:9 uses symkan.train._FlatParameters",
                     "symkan/plot.py:10 uses symkan.nn.layer._helper",
                     "symkan/plot.py:12 imports symkan.symbolic.formula._evaluate"], found
    # a module's own private names are its own business
    assert private_offenders("symkan/scores.py", "import symkan.scores as s\ns._attribution", modules) == []


def test_length_check_counts_lines():
    assert length_offender("symkan/x.py", "a = 1\n" * MAX_LINES) == []
    assert length_offender("symkan/x.py", "a = 1\n" * (MAX_LINES + 1)) == [
        f"symkan/x.py: {MAX_LINES + 1} lines (limit {MAX_LINES})"]
