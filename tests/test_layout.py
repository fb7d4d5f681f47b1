"""The package's layout: imports point one way, down the layers named in bidirectional_infogan/__init__.py,
with no circle between modules, and no Python file of the project is much over 400 lines."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "bidirectional_infogan"
NAME = "bidirectional_infogan"

# Lowest first: a module may import from its own layer and the layers before it, never from a later one.
LAYERS = ["util", "data", "model", "runs", "datasets", "evaluate", "train"]
LAYER_OF = {"architecture": "datasets"}  # a top-level module that sits in another's layer
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, here: str, modules: set[str], is_package: bool = False) -> set[str]:
    """Every module of the package that module `here` (its `source`) imports, at the top or inside a function,
    absolute or relative."""
    package = here if is_package else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from x import y` imports module x.y when y is a module, else x
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != here)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path.read_text(), name, set(files), path.name == "__init__.py")
            for name, path in files.items()}


def layer(module: str) -> int:
    top = module.split(".")[1] if module != NAME else ""
    return LAYERS.index(LAYER_OF.get(top, top)) if LAYER_OF.get(top, top) in LAYERS else -1


def test_imports_point_down_the_layers():
    upward = [f"{a} imports {b}" for a, targets in import_graph().items() for b in targets
              if layer(a) >= 0 and layer(b) > layer(a)]
    assert not upward, upward


def test_there_is_no_import_circle():
    graph = import_graph()
    state, circles = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, circles


def test_every_module_has_a_layer():
    unplaced = [name for name in import_graph() if name != NAME and layer(name) < 0]
    assert not unplaced, f"add these to LAYERS or LAYER_OF: {unplaced}"


def test_no_python_file_is_over_400_lines():
    files = [p for folder in ("code", "scripts", "bench", "tests") for p in (ROOT / folder).rglob("*.py")]
    files.append(ROOT / "evaluate_model.py")
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


@pytest.mark.parametrize("source, expected", [
    ("from .config import X", {"bidirectional_infogan.model.config"}),
    ("from . import latent, losses", {"bidirectional_infogan.model.latent", "bidirectional_infogan.model.losses"}),
    ("from ..data.common import as_float", {"bidirectional_infogan.data.common"}),
    ("import bidirectional_infogan.util.progress", {"bidirectional_infogan.util.progress"}),
    ("def f():\n    from bidirectional_infogan.train import cli", {"bidirectional_infogan.train.cli"}),
])
def test_the_import_reader_sees_every_form(source, expected):
    """The checks above are only as good as the reader: each form of import must be found (in a module of model/)."""
    assert imported_modules(source, "bidirectional_infogan.model.gan", set(import_graph())) == expected


def test_results_files_hold_no_machine_paths():
    """Every JSON under results/ names runs and data folders by name (or by a path relative to the repository),
    never by an absolute path of the machine that made it. (pretrained/mnist/config.json is the run's config.json
    unchanged, by design: it records where the run read its data.)"""
    import json
    import re

    absolute = re.compile(r"^(/|[A-Za-z]:\\|~)")
    found = []

    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}/{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")
        elif isinstance(value, str) and absolute.match(value):
            found.append(f"{where}: {value}")

    files = list((ROOT / "results").rglob("*.json"))
    assert files
    for path in files:
        walk(json.loads(path.read_text()), str(path.relative_to(ROOT)))
    assert not found, found
