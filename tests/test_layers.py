"""The import contracts of pyproject.toml ([tool.importlinter]): the layers of DESIGN.md, envs apart
from agent, and no import cycles. Today's breaks are listed there as ignore_imports; any new one fails
here, and so does a listed one that is gone (import-linter reports an ignore that matches nothing)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The lint-imports script of the environment running the tests (import-linter is a dev dependency).
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    # --no-cache: no cache folder left in the working tree
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept():
    assert LINT_IMPORTS.exists(), "import-linter is missing: pip install -e '.[dev]'"
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("contract, listed", [
    ("layers", "agent.rl.actor -> agent.attention.gaze"),  # an import against the layers
    ("cycles", "agent.weights -> agent.integrity"),  # the import that closes the integrity / weights circle
])
def test_an_import_not_listed_breaks_its_contract(tmp_path, contract, listed):
    """The contracts are not vacuous: one listed import taken off its list breaks the contract."""
    text = (ROOT / "pyproject.toml").read_text()
    head, sep, tail = text.partition(f'id = "{contract}"')
    entry = re.compile(rf'^\s*"{re.escape(listed)}",\n', re.M)
    section_end = tail.find("[[tool.importlinter.contracts]]")
    section = tail if section_end < 0 else tail[:section_end]
    assert sep and entry.search(section), f"{listed} is not in the {contract} contract's ignore_imports"
    config = tmp_path / "pyproject.toml"
    config.write_text(head + sep + entry.sub("", tail, count=1))
    result = lint_imports("--config", str(config), "--contract", contract)
    assert result.returncode == 1, result.stdout[-4000:]
    assert "BROKEN" in result.stdout
    importer, imported = listed.split(" -> ")
    assert importer.removeprefix("agent") in result.stdout and imported.removeprefix("agent") in result.stdout, \
        result.stdout[-4000:]


def _imports_inside_functions() -> tuple[int, int, list[str]]:
    """(import statements, those inside a function, where those of agent/envs modules are) over agent/ and envs/."""
    import ast

    total, inside, own = 0, 0, []
    for path in sorted([*(ROOT / "agent").rglob("*.py"), *(ROOT / "envs").rglob("*.py")]):
        tree = ast.parse(path.read_text(), str(path))
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
        in_function = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            total += 1
            if id(node) in in_function:
                inside += 1
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if isinstance(node, ast.ImportFrom) and node.level or any(n.split(".")[0] in ("agent", "envs")
                                                                          for n in names):
                    own.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return total, inside, own


# Imports of the project's own modules hidden inside functions (DESIGN.md: only heavy optional
# dependencies belong there, each with a reason): most hide an import against the layers or a cycle.
# A ratchet: lower it as they go; it must not grow.
OWN_IMPORTS_INSIDE_FUNCTIONS = 231


def test_imports_of_our_modules_inside_functions_do_not_grow():
    total, inside, own = _imports_inside_functions()
    assert len(own) <= OWN_IMPORTS_INSIDE_FUNCTIONS, (
        f"{len(own)} imports of agent/envs modules inside functions (of {inside} inside functions, {total} in all); "
        f"at most {OWN_IMPORTS_INSIDE_FUNCTIONS}: import at the top of the module, or fix the layer it crosses")
