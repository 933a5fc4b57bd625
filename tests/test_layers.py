"""The folders are the layers: a lower layer never imports a higher one, and no module
reaches into another's private names. Every import counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "strainsim"

# what each layer may import (besides itself); "base" is the package's top-level modules
ALLOWED = {
    "base": {"base"},
    "measure": {"base"},
    "model": {"base", "measure"},
    "stats": {"base"},
    "studies": {"base", "measure", "model", "stats"},
    "app": {"base", "measure", "model", "stats", "studies"},
}


def layer_of(module: str) -> str:
    """``strainsim.model.block`` -> ``model`` (``strainsim.model`` too); the entry point
    ``strainsim.__main__`` is the app; other top-level modules are ``base``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ALLOWED:
        return parts[1]
    return "app" if parts[-1] == "__main__" else "base"


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def imports(path: Path):
    """(line, imported module, names) of every strainsim import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "strainsim":
                yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            yield node.lineno, "<relative>", [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "strainsim":
                    yield node.lineno, alias.name, []


def test_layer_of():
    assert layer_of("strainsim.model.block") == "model"
    assert layer_of("strainsim.errors") == "base"
    assert layer_of("strainsim.app") == "app"
    assert layer_of("strainsim.__main__") == "app"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda x: str(x))
def test_no_upward_import(name, path):
    own = layer_of(name)
    problems = []
    for line, module, _ in imports(path):
        if module == "<relative>":
            problems.append(f"{path.name}:{line}: relative import (write it absolute)")
            continue
        target = layer_of(module)
        if target != own and target not in ALLOWED[own]:
            problems.append(f"{path.name}:{line}: the {own} layer imports {module} ({target})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda x: str(x))
def test_no_private_name_across_modules(name, path):
    problems = [f"{path.name}:{line}: {module}.{n}" for line, module, names in imports(path)
                if module not in (name, "<relative>") for n in names
                if n.startswith("_") and not n.startswith("__")]
    assert not problems, "private names used from another module:\n" + "\n".join(problems)


def test_a_violation_is_seen(tmp_path):
    # the checker itself: an upward import and a private name are found
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from strainsim.studies.trials import _blocks\n")
    found = list(imports(bad))
    assert found == [(2, "strainsim.studies.trials", ["_blocks"])]
    assert "studies" not in ALLOWED["model"]


# the engine's per-curve routines take plain arrays and scalars on purpose: numba counts
# references to arrays taken out of a tuple at every access, which costs more than the
# work in those loops (strainsim/measure/engine.py); every other kernel takes records
PLAIN_ARGUMENT_ROUTINES = {"record_segment", "finish_patient", "measure_patient"}
MAX_POSITIONAL = 8


@pytest.mark.parametrize("name,path", [m for m in modules() if ".app.cli" not in m[0]],
                         ids=lambda x: str(x))
def test_no_public_call_takes_more_than_eight_positional_arguments(name, path):
    """Kernels take typed records; wrappers are keyword-only past a few arguments (the
    command-line functions, whose parameters are options, are not calls)."""
    long = []
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        count = len(node.args.posonlyargs) + len(node.args.args)
        if count > MAX_POSITIONAL and node.name not in PLAIN_ARGUMENT_ROUTINES:
            long.append(f"{node.name}: {count}")
    assert not long, f"{path.name}: " + ", ".join(long)
