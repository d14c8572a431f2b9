"""The layers (README, "Architecture"): imports run one way, from the CLI down to the core.

The contracts live in pyproject.toml ([tool.importlinter]) and are checked by
import-linter, which sees every import statement, those inside functions included.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from sentinel.config import PROJECT_ROOT

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
ROOT_PACKAGES = ("sentinel", "functions", "eventing", "training", "ui")
# What the core may import besides the standard library: it does no I/O. onnx reads the
# served model's trees to explain its scores (sentinel.core.explain).
CORE_THIRD_PARTY = {"numpy", "onnx", "onnxruntime"}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept():
    result = lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's packages and contracts, copied where a test may break them."""
    for package in ROOT_PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def add_line(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n\n{line}\n")


def test_an_import_from_a_higher_layer_inside_a_function_breaks_the_contract(project_copy):
    add_line(project_copy / "sentinel/core/events.py", "def _sneaky():\n    from ui import create_app  # noqa")
    result = lint_imports(project_copy)
    assert result.returncode != 0
    assert "sentinel.core.events -> ui" in result.stdout


def test_an_import_between_two_functions_breaks_their_independence(project_copy):
    add_line(project_copy / "functions/persist/main.py", "from functions.score.main import scored_event  # noqa")
    result = lint_imports(project_copy)
    assert result.returncode != 0
    assert "functions.persist.main -> functions.score.main" in result.stdout


def test_the_core_imports_nothing_but_the_standard_library_numpy_onnx_and_onnxruntime():
    graph = grimp.build_graph(*ROOT_PACKAGES, include_external_packages=True, cache_dir=None)
    imported = {
        imported.split(".")[0]
        for module in graph.find_descendants("sentinel.core")
        for imported in graph.find_modules_directly_imported_by(module)
    }
    outside = imported - set(ROOT_PACKAGES) - set(sys.stdlib_module_names) - {"__future__"}
    assert outside <= CORE_THIRD_PARTY, f"sentinel.core imports {sorted(outside - CORE_THIRD_PARTY)}"
    assert not imported & (set(ROOT_PACKAGES) - {"sentinel"})
