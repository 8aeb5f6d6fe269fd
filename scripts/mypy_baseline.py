#!/usr/bin/env python3
"""Type-check the project with mypy against mypy-baseline.txt, the known errors, which may only shrink.

    .venv/bin/python scripts/mypy_baseline.py           # fails on a new error, or on a fixed one
    .venv/bin/python scripts/mypy_baseline.py --update  # rewrites the baseline (make mypy-baseline)

An error is keyed by its file, message and code, without its line number, so an edit elsewhere
in the file does not churn the baseline; the same error twice in one file is two entries.
The check fails when an error is not in the baseline (fix it), and when a baseline entry no
longer occurs (run --update and commit the smaller baseline, so that the error cannot come back
unnoticed). mypy's settings and the packages it checks are in pyproject.toml, [tool.mypy];
a package named there but not in the tree yet is skipped.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
HEADER = (
    "# mypy errors the code had when the check was switched on: this list may only shrink.\n"
    "# One error a line, keyed without its line number. Rewritten by `make mypy-baseline`.\n"
)
ERROR_LINE = re.compile(r"^(?P<path>.+?\.pyi?):(?P<line>\d+):(?:\d+:)? error: (?P<message>.*)$")
# Messages such as 'Name "x" already defined on line 12' move with unrelated edits.
LINE_NUMBER_IN_MESSAGE = re.compile(r"\bline \d+")


def error_key(line: str) -> str | None:
    """`path: message  [code]` for an error line of mypy's output; None for anything else."""
    match = ERROR_LINE.match(line.rstrip())
    if match is None:
        return None
    path = match["path"].replace("\\", "/")
    message = LINE_NUMBER_IN_MESSAGE.sub("line N", match["message"])
    return f"{path}: {message}"


def compare(current: Counter[str], baseline: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """(new errors, baseline entries that no longer occur), counting repeats."""
    return current - baseline, baseline - current


def read_baseline(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    return Counter(line for line in lines if line.strip() and not line.startswith("#"))


def write_baseline(path: Path, errors: Counter[str]) -> None:
    path.write_text(HEADER + "".join(f"{key}\n" for key in sorted(errors.elements())), encoding="utf-8")


def configured_targets(root: Path) -> tuple[list[str], list[str]]:
    """The paths of [tool.mypy] files that exist, and those that do not."""
    with (root / "pyproject.toml").open("rb") as file:
        files = tomllib.load(file)["tool"]["mypy"]["files"]
    present = [name for name in files if (root / name).exists()]
    return present, [name for name in files if name not in present]


def run_mypy(targets: list[str]) -> tuple[list[str], int]:
    """mypy's output lines and exit status (0 clean, 1 type errors, 2 it could not run)."""
    stdout, stderr, status = api.run(
        [*targets, "--no-pretty", "--no-color-output", "--no-error-summary", "--show-error-codes"]
    )
    if stderr:
        print(stderr, file=sys.stderr, end="")
    return stdout.splitlines(), status


def report(lines: list[str], new: Counter[str], fixed: Counter[str], total: int) -> None:
    if new:
        print(f"mypy: {sum(new.values())} new error(s), not in {BASELINE.name}:")
        for line in lines:
            if error_key(line) in new:
                print(f"  {line}")
        print("Fix them; where mypy is wrong, `# type: ignore[code]` with a comment saying why.")
    if fixed:
        print(f"mypy: {sum(fixed.values())} error(s) in {BASELINE.name} no longer occur:")
        for key in sorted(fixed.elements()):
            print(f"  {key}")
        print("Good: shrink the baseline with `make mypy-baseline` and commit mypy-baseline.txt.")
    if not new and not fixed:
        print(f"mypy: {total} known error(s), as in {BASELINE.name}; no new ones.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline from the errors there are now")
    parser.add_argument("targets", nargs="*", help="paths to check (default: [tool.mypy] files that exist)")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    targets, missing = (args.targets, []) if args.targets else configured_targets(ROOT)
    if missing:
        print(f"mypy: not in this tree, skipped: {', '.join(missing)}", file=sys.stderr)
    lines, status = run_mypy(targets)
    keys = [key for key in map(error_key, lines) if key is not None]
    if status not in (0, 1) or (status == 1 and not keys):
        print("\n".join(lines))
        print(f"mypy could not check the code (exit status {status}).", file=sys.stderr)
        return 2

    current = Counter(keys)
    baseline = read_baseline(BASELINE)
    new, fixed = compare(current, baseline)
    if args.update:
        write_baseline(BASELINE, current)
        print(f"{BASELINE.name}: {len(keys)} error(s) (+{sum(new.values())}, -{sum(fixed.values())}).")
        return 0
    report(lines, new, fixed, len(keys))
    return 1 if new or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
