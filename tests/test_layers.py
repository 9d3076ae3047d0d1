"""The package's layers: every import in stickeval/ runs down the table of docs/design.md, and only cli/ talks to the terminal.

The layer table is read from docs/design.md ("## Layers"), so the document and the check cannot
drift. Each module is parsed with `ast`: imports at the top, inside functions, under
TYPE_CHECKING, relative imports, and `importlib.import_module("...")` of a literal name all count.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stickeval"
DESIGN = ROOT / "docs" / "design.md"
TERMINAL_PACKAGES = frozenset({"rich", "typer", "click"})  # only cli may import these
TERMINAL_PART = "cli"


@dataclass(frozen=True)
class Layer:
    """One row of the layer table: the parts a part may import (None: any) and third-party packages it never imports."""

    may_import: frozenset[str] | None
    never_imports: frozenset[str]


@dataclass(frozen=True)
class Import:
    """`module` imports `target` (a dotted name) at `line` of `path`."""

    path: Path
    line: int
    module: str
    target: str


def read_layers(markdown: str) -> dict[str, Layer]:
    """The "## Layers" table of docs/design.md: {part: Layer}.

    A part is a top-level module (`hub.py` -> "hub") or a subpackage (`zoo/` -> "zoo"); the package's
    own `__init__.py` is the part "__init__". "may import" lists parts or single modules in
    backticks (`data.schema`), "—" for none, or "any part"; "never imports" lists third-party
    packages in backticks.
    """
    section = markdown.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past header and rule
    layers = {}
    for row in rows:
        part, _, may, never = (cell.strip() for cell in row.strip("|").split("|"))
        name = re.sub(r"(\.py|/)$", "", part.strip("`"))
        allowed = None if may == "any part" else frozenset(re.findall(r"`([^`]+)`", may))
        layers[name] = Layer(allowed, frozenset(re.findall(r"`([^`]+)`", never)))
    return layers


def module_names(package: Path) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of a package directory."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every import of one module, wherever it stands, with relative and `from pkg import submodule` forms resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        elif _is_import_module_call(node):
            targets = [node.args[0].value]
        else:
            continue
        found += [Import(path, node.lineno, module, target) for target in targets]
    return found


def _is_import_module_call(node: ast.AST) -> bool:
    """`importlib.import_module("literal")` or `import_module("literal")`."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name == "import_module" and isinstance(node.args[0].value, str)


def part_of(module: str) -> str:
    """The part a dotted module belongs to: `stickeval.zoo.model` -> "zoo", `stickeval` -> "__init__"."""
    return module.split(".")[1] if "." in module else "__init__"


def is_allowed(target: str, allowed: frozenset[str], root: str) -> bool:
    """Whether `target` (a module of the package) is one of the allowed parts or modules."""
    relative = target.removeprefix(f"{root}.") if target != root else "__init__"
    return any(relative == entry or relative.startswith(f"{entry}.") for entry in allowed)


def layer_violations(package: Path, layers: dict[str, Layer]) -> list[str]:
    """Every import of the package that its layer table forbids, one readable line each."""
    root, known = package.name, set(module_names(package))
    problems = []
    for module, path in module_names(package).items():
        part = part_of(module)
        layer = layers.get(part)
        if layer is None:
            problems.append(f"{path.relative_to(package.parent)}: part '{part}' has no row in the layer table of docs/design.md")
            continue
        for imp in imports_of(module, path, known):
            where = f"{imp.path.relative_to(package.parent)}:{imp.line}: {module} imports {imp.target}"
            top = imp.target.split(".")[0]
            if top == root:
                target_part = part_of(imp.target)
                if target_part != part and layer.may_import is not None and not is_allowed(imp.target, layer.may_import, root):
                    allowed = ", ".join(sorted(layer.may_import)) or "nothing of the package"
                    problems.append(f"{where}: rule '{part}' may import only {allowed} (docs/design.md, Layers)")
            elif top in layer.never_imports:
                problems.append(f"{where}: rule '{part}' never imports {top} (docs/design.md, Layers)")
            elif top in TERMINAL_PACKAGES and part != TERMINAL_PART:
                problems.append(f"{where}: rule only {TERMINAL_PART}/ imports {top} (only cli writes to the terminal)")
    return problems


def terminal_writes(package: Path) -> list[str]:
    """Every `print(...)` call and `sys.stdout`/`sys.stderr` use outside the package's cli/."""
    problems = []
    for module, path in module_names(package).items():
        if part_of(module) == TERMINAL_PART:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            what = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                what = "calls print()"
            elif isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and getattr(node.value, "id", None) == "sys":
                what = f"uses sys.{node.attr}"
            if what:
                where = f"{path.relative_to(package.parent)}:{node.lineno}"
                problems.append(f"{where}: {module} {what}: rule only {TERMINAL_PART}/ writes to the terminal")
    return problems


@pytest.fixture(scope="module")
def layers() -> dict[str, Layer]:
    return read_layers(DESIGN.read_text(encoding="utf-8"))


def test_every_import_in_stickeval_runs_down_the_documented_layers(layers):
    problems = layer_violations(PACKAGE, layers)
    assert not problems, "imports that break the layers:\n" + "\n".join(problems)


def test_only_cli_writes_to_the_terminal():
    problems = terminal_writes(PACKAGE)
    assert not problems, "terminal output outside stickeval/cli:\n" + "\n".join(problems)


def test_the_layer_table_has_one_row_per_part_of_the_package_and_names_only_real_parts(layers):
    parts = {part_of(module) for module in module_names(PACKAGE)}
    assert set(layers) == parts
    named = {entry for layer in layers.values() for entry in layer.may_import or ()}
    modules = {module.removeprefix("stickeval.") for module in module_names(PACKAGE)}
    assert named <= parts | modules, f"the table allows parts that do not exist: {sorted(named - parts - modules)}"


def test_the_layer_table_states_the_core_rules(layers):
    assert layers["hub"].may_import == {"errors", "_io"}
    assert "torch" in layers["metrics"].never_imports and "_io" not in layers["metrics"].may_import
    assert "evaluation" not in layers["train"].may_import
    assert not {"zoo", "generation", "judge", "evaluation", "train"} & layers["data"].may_import
    assert [part for part, layer in layers.items() if layer.may_import is None or "cli" in layer.may_import] == ["__main__", "cli"]


def write_package(root: Path, files: dict[str, str]) -> Path:
    """A throwaway `stickeval` package under `root`: {path inside the package: source}."""
    package = root / "stickeval"
    for name, source in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


BASE = {
    "__init__.py": "",
    "errors.py": "",
    "zoo/__init__.py": "",
    "zoo/model.py": "",
    "metrics/__init__.py": "",
}


@pytest.mark.parametrize(
    "source",
    [
        "import stickeval.zoo\n",
        "from stickeval import zoo\n",
        "from stickeval.zoo.model import StickFigureTransformer\n",
        "from ..zoo import model\n",
        "def f():\n    from stickeval.zoo import model\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from stickeval.zoo.model import ModelConfig\n",
        "import importlib\nmodel = importlib.import_module('stickeval.zoo.model')\n",
    ],
    ids=["import", "from-package", "from-module", "relative", "in-function", "type-checking", "import_module"],
)
def test_a_wrong_import_in_any_form_is_reported_with_the_module_the_import_and_the_rule(tmp_path, layers, source):
    package = write_package(tmp_path, {**BASE, "metrics/pose.py": "from stickeval.errors import StickevalError\n" + source})
    (problem,) = layer_violations(package, layers)
    assert problem.startswith("stickeval/metrics/pose.py:")
    assert "stickeval.metrics.pose imports stickeval.zoo" in problem
    assert "rule 'metrics' may import only data.schema, data.suite, errors" in problem


def test_a_banned_third_party_import_and_a_terminal_library_outside_cli_are_reported(tmp_path, layers):
    package = write_package(tmp_path, {**BASE, "metrics/pose.py": "import torch\n", "zoo/model.py": "from rich.console import Console\n"})
    assert sorted(layer_violations(package, layers)) == [
        "stickeval/metrics/pose.py:1: stickeval.metrics.pose imports torch: rule 'metrics' never imports torch (docs/design.md, Layers)",
        "stickeval/zoo/model.py:1: stickeval.zoo.model imports rich.console: rule only cli/ imports rich (only cli writes to the terminal)",
    ]


def test_a_part_without_a_row_in_the_table_is_reported(tmp_path, layers):
    package = write_package(tmp_path, {**BASE, "plugins/__init__.py": ""})
    assert layer_violations(package, layers) == [
        "stickeval/plugins/__init__.py: part 'plugins' has no row in the layer table of docs/design.md"
    ]


def test_print_and_sys_stdout_outside_cli_are_reported_and_inside_cli_are_not(tmp_path):
    package = write_package(
        tmp_path,
        {
            **BASE,
            "zoo/model.py": "import sys\n\ndef f():\n    print('hi')\n    sys.stderr.write('x')\n",
            "cli/__init__.py": "print('the cli may')\n",
        },
    )
    assert terminal_writes(package) == [
        "stickeval/zoo/model.py:4: stickeval.zoo.model calls print(): rule only cli/ writes to the terminal",
        "stickeval/zoo/model.py:5: stickeval.zoo.model uses sys.stderr: rule only cli/ writes to the terminal",
    ]
