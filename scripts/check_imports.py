#!/usr/bin/env python3
"""Fail on any import cycle between the project's Python modules, and on an unexplained late import.

    .venv/bin/python scripts/check_imports.py                 # the project's packages
    .venv/bin/python scripts/check_imports.py --root DIR PKG  # other packages (the tests use this)

Every import counts: at module level, inside a function, under `if TYPE_CHECKING:`. An import
that runs late still makes the two modules depend on each other, so one inside a function
that closes a circle is still a circle. Each cycle is printed as a chain, with the line that
makes each step:

    Import cycle: studies.services -> studies.tasks -> studies.services
      studies/services.py:14  from studies.tasks import analyse_study
      studies/tasks.py:52  from studies.services import study_analyse

A circle through several modules is reported as the shortest cycles that together cover every
import taking part in it, so each import to cut is shown at least once.

ruff's PLC0415 makes every import inside a function carry `# noqa: PLC0415`; this script also
fails when that comment does not go on to say why the import is late, as in
`import torch  # noqa: PLC0415  torch loads in ~1 s, and only training needs it`.

The layer rules (what may import what) are import-linter contracts in pyproject.toml, checked
by `lint-imports`; both read the package list from [tool.importlinter] root_packages.
grimp (import-linter's graph library) reads the imports; the cycles are found here.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import tokenize
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent

Graph = Mapping[str, set[str]]

# A noqa comment's codes (PLC0415 among them, for a late import) and what follows: the reason.
LATE_IMPORT_NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)(?P<reason>.*)$")


def configured_packages(root: Path) -> list[str]:
    """The root packages named in pyproject.toml for import-linter."""
    with (root / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["tool"]["importlinter"]["root_packages"])


def build_graph(root: Path, packages: Iterable[str]) -> grimp.ImportGraph:
    sys.path.insert(0, str(root))
    return grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)


def as_mapping(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


class _Tarjan:
    """Tarjan's algorithm without recursion: a chain of imports can be deeper than Python's stack."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.index: dict[str, int] = {}
        self.lowlink: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def run(self) -> list[list[str]]:
        for start in sorted(self.graph):
            if start not in self.index:
                self._search(start)
        return self.components

    def _search(self, start: str) -> None:
        work = [self._enter(start)]
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.lowlink[parent] = min(self.lowlink[parent], self.lowlink[node])
                self._leave(node)
            elif successor not in self.index:
                work.append(self._enter(successor))
            elif successor in self.on_stack:
                self.lowlink[node] = min(self.lowlink[node], self.index[successor])

    def _enter(self, node: str) -> tuple[str, Iterator[str]]:
        self.index[node] = self.lowlink[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        return node, iter(sorted(self.graph[node]))

    def _leave(self, node: str) -> None:
        if self.lowlink[node] == self.index[node]:
            position = self.stack.index(node)
            component = self.stack[position:]
            del self.stack[position:]
            self.on_stack.difference_update(component)
            self.components.append(sorted(component))


def strongly_connected_components(graph: Graph) -> list[list[str]]:
    """The groups of modules that all reach each other (one module alone for most)."""
    return _Tarjan(graph).run()


def _shortest_path(graph: Graph, start: str, goal: str, within: set[str]) -> list[str]:
    """Breadth-first: the modules from start to goal, both included."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        for successor in sorted(graph[node] & within):
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise ValueError(f"{goal} is not reachable from {start}")


def _rotated(cycle: list[str]) -> tuple[str, ...]:
    """The same closed chain, starting at its first module in alphabetical order."""
    ring = cycle[:-1]
    first = ring.index(min(ring))
    ring = ring[first:] + ring[:first]
    return (*ring, ring[0])


def find_cycles(graph: Graph) -> list[tuple[str, ...]]:
    """Closed chains (a, b, ..., a) that together cover every import inside a circle."""
    cycles: list[tuple[str, ...]] = []
    for component in strongly_connected_components(graph):
        members = set(component)
        covered: set[tuple[str, str]] = set()
        for importer in component:
            for imported in sorted(graph[importer] & members):
                if (importer, imported) in covered:
                    continue
                cycle = [importer, *_shortest_path(graph, imported, importer, members)]
                covered.update(itertools.pairwise(cycle))
                chain = _rotated(cycle)
                if chain not in cycles:
                    cycles.append(chain)
    return sorted(cycles, key=lambda chain: (len(chain), chain))


def _source_path(root: Path, module: str) -> str:
    base = root.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return path.relative_to(root).as_posix()


def describe(cycle: tuple[str, ...], graph: grimp.ImportGraph, root: Path) -> str:
    lines = ["Import cycle: " + " -> ".join(cycle)]
    for importer, imported in itertools.pairwise(cycle):
        lines.extend(
            f"  {_source_path(root, importer)}:{detail['line_number']}  {detail['line_contents']}"
            for detail in graph.get_import_details(importer=importer, imported=imported)
        )
    return "\n".join(lines)


def late_imports_without_reason(root: Path, packages: Iterable[str]) -> list[str]:
    """`path:line` of each PLC0415 noqa comment that gives no reason."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            with tokenize.open(path) as file:
                tokens = list(tokenize.generate_tokens(file.readline))
            for comment in (token for token in tokens if token.type == tokenize.COMMENT):
                match = LATE_IMPORT_NOQA.search(comment.string)
                if match and "PLC0415" in match["codes"] and not re.search(r"[A-Za-z]{2}", match["reason"]):
                    found.append(f"{path.relative_to(root).as_posix()}:{comment.start[0]}  {comment.line.strip()}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", help="top-level packages (default: pyproject's root_packages)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder the packages are in")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    packages = args.packages or configured_packages(root)
    present = [name for name in packages if (root / name / "__init__.py").is_file()]
    if missing := sorted(set(packages) - set(present)):
        print(f"check_imports: not in this tree, skipped: {', '.join(missing)}", file=sys.stderr)
    if not present:
        print("check_imports: none of the packages exists", file=sys.stderr)
        return 2

    graph = build_graph(root, present)
    cycles = find_cycles(as_mapping(graph))
    for cycle in cycles:
        print(describe(cycle, graph, root), end="\n\n")
    unexplained = late_imports_without_reason(root, present)
    if unexplained:
        print("Imports inside a function whose `# noqa: PLC0415` does not say why:")
        print("\n".join(f"  {place}" for place in unexplained), end="\n\n")
    if cycles:
        print(f"{len(cycles)} import cycle(s) among the modules of {', '.join(present)}.")
    else:
        print(f"No import cycles among the {len(graph.modules)} modules of {', '.join(present)}.")
    return 1 if cycles or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
