"""scripts/check_imports.py on throwaway packages: a circle is found and named, a tree passes."""
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tooling.scripts import SCRIPTS, load_script

check_imports = load_script("check_imports")


def write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, source in modules.items():
        (package / f"{module}.py").write_text(source)


def run_checker(root: Path, *packages: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "check_imports.py"), "--root", str(root), *packages],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_a_circle_closed_by_an_import_inside_a_function_is_reported_as_a_chain(tmp_path):
    write_package(tmp_path, "circlepkg", {
        "alpha": "from circlepkg import beta\n",
        "beta": "def later():\n    from circlepkg.gamma import VALUE\n    return VALUE\n",
        "gamma": "import circlepkg.alpha\n\nVALUE = 1\n",
        "leaf": "import circlepkg.alpha\n",
    })
    result = run_checker(tmp_path, "circlepkg")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Import cycle: circlepkg.alpha -> circlepkg.beta -> circlepkg.gamma -> circlepkg.alpha" in result.stdout
    assert "circlepkg/beta.py:2  from circlepkg.gamma import VALUE" in result.stdout
    assert "circlepkg.leaf" not in result.stdout
    assert "1 import cycle(s)" in result.stdout


def test_packages_without_a_circle_pass(tmp_path):
    write_package(tmp_path, "treepkg", {
        "alpha": "from treepkg import beta, gamma\n",
        "beta": "def later():\n    from treepkg.gamma import VALUE\n    return VALUE\n",
        "gamma": "import json\n\nVALUE = 1\n",
    })
    write_package(tmp_path, "otherpkg", {"user": "import treepkg.alpha\n"})
    result = run_checker(tmp_path, "treepkg", "otherpkg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No import cycles" in result.stdout


def test_a_circle_between_two_packages_is_found(tmp_path):
    write_package(tmp_path, "firstpkg", {"uses": "from secondpkg.api import call\n"})
    write_package(tmp_path, "secondpkg", {"api": "def call():\n    import firstpkg.uses\n"})
    result = run_checker(tmp_path, "firstpkg", "secondpkg")
    assert result.returncode == 1
    assert "Import cycle: firstpkg.uses -> secondpkg.api -> firstpkg.uses" in result.stdout


def test_a_late_import_must_say_why_it_is_late(tmp_path):
    write_package(tmp_path, "latepkg", {
        "explained": "def f():\n    import json  # noqa: PLC0415  only the export needs it\n",
        "also_explained": "def f():\n    import csv  # noqa: E402,PLC0415 (loaded on first use)\n",
        "bare": "def f():\n    import os  # noqa: PLC0415\n",
        "other_code": "import os  # noqa: F401\n",
    })
    result = run_checker(tmp_path, "latepkg")
    assert result.returncode == 1
    assert "latepkg/bare.py:2  import os  # noqa: PLC0415" in result.stdout
    assert "explained.py" not in result.stdout and "other_code.py" not in result.stdout
    assert "No import cycles" in result.stdout


def test_every_import_inside_a_circle_is_in_some_reported_cycle():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"a", "d"}, "d": set(), "e": {"a"}}
    cycles = check_imports.find_cycles(graph)
    assert cycles == [("a", "b", "a"), ("a", "b", "c", "a")]
    reported = {step for cycle in cycles for step in itertools.pairwise(cycle)}
    assert reported == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")}


@pytest.mark.parametrize("graph", [{}, {"a": {"b"}, "b": set()}, {"a": {"b", "c"}, "b": {"c"}, "c": set()}])
def test_acyclic_graphs_have_no_cycles(graph):
    assert check_imports.find_cycles(graph) == []


def test_components_of_a_long_chain_need_no_recursion():
    size = 5000  # deeper than Python's recursion limit
    graph = {f"m{i}": {f"m{i + 1}"} for i in range(size)} | {f"m{size}": {"m0"}}
    assert [len(component) for component in check_imports.strongly_connected_components(graph)] == [size + 1]
