"""The sandbox's imports run one way: runtime -> fronts -> rules -> plumbing, `transfer` a library of its own.

Read from the source with ast (nothing is imported), so that a new module that reaches against the layers fails
here, naming the file, the line and the import."""
import ast
import shutil
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "acrtransfer_sandbox"
PACKAGE = "acrtransfer_sandbox"

# What each package may import of the sandbox besides itself. `transfer` is the registry and blob clients and the
# transfer engine: it knows nothing of the clouds, so it imports none of them.
MAY_IMPORT = {
    "runtime": {"fronts", "rules", "plumbing", "transfer"},
    "fronts": {"rules", "plumbing", "transfer"},
    "rules": {"plumbing"},
    "plumbing": set(),
    "transfer": set(),
}
# The run executor and the source trigger act as the cloud, not on a request: they use the rules, never a front.
NEVER_FRONTS = {("runtime", "executor"), ("runtime", "trigger")}
ENTRY_POINTS = {"__init__", "__main__"}   # the package itself and its command line may import any layer


def _absolute(module_parts: tuple, node: ast.ImportFrom) -> list:
    """The absolute dotted names an ImportFrom brings in (a `from pkg import module` names the module)."""
    if node.level:
        base = list(module_parts[:-node.level]) if node.level <= len(module_parts) else []
    else:
        base = []
    stem = base + (node.module.split(".") if node.module else [])
    return [".".join(stem + [alias.name]) for alias in node.names] + [".".join(stem)]


def imported_modules(path: Path, root: Path) -> list:
    """(line, dotted name) of every sandbox module `path` imports."""
    module_parts = (PACKAGE,) + path.relative_to(root).with_suffix("").parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = _absolute(module_parts, node)
        else:
            continue
        # The bare package name (the stem of `from .. import x`) says nothing: its members are listed too.
        found.extend((node.lineno, name) for name in names if name.split(".")[0] == PACKAGE and name != PACKAGE)
    return found


def layer_violations(root: Path) -> list:
    """Every import in the tree at `root` (a copy of acrtransfer_sandbox) that runs against the layers."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("").parts
        if len(relative) == 1:
            if relative[0] in ENTRY_POINTS:
                continue
            violations.append(f"{path.relative_to(root)}: a module outside every layer package")
            continue
        layer = relative[0]
        if layer not in MAY_IMPORT:
            violations.append(f"{path.relative_to(root)}: '{layer}' is not a layer package")
            continue
        for line, name in imported_modules(path, root):
            problem = _against_the_layers(layer, relative[-1], name)
            report = f"{path.relative_to(root)}:{line}: {problem}"
            if problem and not any(seen.startswith(f"{path.relative_to(root)}:{line}:") for seen in violations):
                violations.append(report)
    return violations


def _against_the_layers(layer: str, module: str, name: str):
    """What is wrong with `layer`'s module `module` importing `name`, or None when nothing is."""
    target = name.split(".")[1]
    if target == layer:
        return None
    if target not in MAY_IMPORT[layer]:
        return f"{layer} imports {name}"
    if target == "fronts" and (layer, module) in NEVER_FRONTS:
        return f"{module} imports the front {name}"
    return None


def test_every_import_runs_with_the_layers():
    assert layer_violations(SANDBOX) == []


def test_every_layer_package_says_what_lives_there():
    for layer in MAY_IMPORT:
        docstring = ast.get_docstring(ast.parse((SANDBOX / layer / "__init__.py").read_text()))
        assert docstring and len(docstring.splitlines()) == 1, layer


@pytest.fixture(name="sandbox_copy")
def fixture_sandbox_copy(tmp_path):
    copy = tmp_path / PACKAGE
    shutil.copytree(SANDBOX, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _plant(path: Path, line: str) -> None:
    path.write_text(path.read_text() + "\n" + line + "\n")


@pytest.mark.parametrize("module, planted, reported", [
    ("rules/sas.py", "from ..fronts import http_common", "rules imports acrtransfer_sandbox.fronts.http_common"),
    ("plumbing/store.py", "from ..rules.sas import account_sas", "plumbing imports acrtransfer_sandbox.rules"),
    ("fronts/tenancy.py", "from acrtransfer_sandbox.runtime import server",
     "fronts imports acrtransfer_sandbox.runtime"),
    ("runtime/executor.py", "from ..fronts.keyvault import make_secrets_app", "executor imports the front"),
    ("runtime/trigger.py", "import acrtransfer_sandbox.fronts.pipelines", "trigger imports the front"),
    ("transfer/engine.py", "from ..plumbing.config import SECRET_NAME",
     "transfer imports acrtransfer_sandbox.plumbing"),
    ("rules/sas.py", "    from .. import runtime", "rules imports acrtransfer_sandbox.runtime"),
])
def test_a_planted_import_against_the_layers_is_caught(sandbox_copy, module, planted, reported):
    assert layer_violations(sandbox_copy) == []
    _plant(sandbox_copy / module, planted if not planted.startswith(" ") else "def _planted():\n" + planted)
    violations = layer_violations(sandbox_copy)
    assert len(violations) == 1 and reported in violations[0] and violations[0].startswith(module), violations


def test_a_module_outside_the_layers_is_caught(sandbox_copy):
    (sandbox_copy / "helpers.py").write_text('"""Somewhere to put things."""\n')
    assert layer_violations(sandbox_copy) == ["helpers.py: a module outside every layer package"]
