"""The shape the ml package keeps: small modules and functions, no import circles, imports
at the top unless a comment says why not, annotated public functions, no Django."""

from __future__ import annotations

import ast
from pathlib import Path

ML = Path(__file__).resolve().parents[2] / "ml"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
WEB_PACKAGES = {"django", "rest_framework", "celery", "accounts", "diagnosis", "studies",
                "radiology", "lesions_project"}


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(ML.rglob("*.py")):
        parts = path.relative_to(ML.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, ast.parse(path.read_text(), str(path)))
    return found


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def imported_modules(node: ast.AST, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known
                else node.module for alias in node.names]
    return []


def test_modules_and_functions_are_small():
    too_long = []
    for name, (path, tree) in modules().items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for function in functions(tree):
            length = function.end_lineno - function.lineno + 1
            if length > MAX_FUNCTION_LINES:
                too_long.append(f"{name}.{function.name}: {length} lines")
    assert too_long == []


def test_no_import_circles_inside_ml():
    found = modules()
    known = set(found)
    graph = {name: set() for name in found}
    for name, (_, tree) in found.items():
        for node in ast.walk(tree):
            graph[name].update(m for m in imported_modules(node, known) if m in known and m != name)
    circles, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target):], name, target]))
            elif target not in state:
                visit(target, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert circles == []


def test_imports_inside_functions_say_why():
    silent = []
    for name, (path, tree) in modules().items():
        lines = path.read_text().splitlines()
        for function in functions(tree):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    above = node.lineno - 2
                    while lines[above].lstrip().startswith(("import ", "from ")):
                        above -= 1  # one comment may head a block of imports
                    if "#" not in lines[node.lineno - 1] and not lines[above].lstrip().startswith("#"):
                        silent.append(f"{name}:{node.lineno} in {function.name}")
    assert silent == []


def test_public_functions_are_annotated():
    missing = []
    for name, (_, tree) in modules().items():
        scopes = [tree] + [n for n in tree.body if isinstance(n, ast.ClassDef)]
        for scope in scopes:
            for function in scope.body:
                if not isinstance(function, ast.FunctionDef) or function.name.startswith("_"):
                    continue
                arguments = function.args
                params = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                params += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                unannotated = [a.arg for a in params
                               if a.annotation is None and a.arg not in ("self", "cls")]
                if unannotated or function.returns is None:
                    missing.append(f"{name}.{function.name} {unannotated}")
    assert missing == []


def test_ml_imports_no_web_application():
    offending = [f"{name} imports {module}"
                 for name, (_, tree) in modules().items()
                 for node in ast.walk(tree)
                 for module in imported_modules(node, set())
                 if module.split(".")[0] in WEB_PACKAGES]
    assert offending == []
