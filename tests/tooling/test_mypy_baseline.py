"""scripts/mypy_baseline.py: errors are keyed without line numbers and counted, both ways."""
from collections import Counter

from tests.tooling.scripts import load_script

mypy_baseline = load_script("mypy_baseline")


def test_errors_are_keyed_without_their_line_numbers():
    message = 'Unsupported operand types for >= ("float" and "None")  [operator]'
    key = mypy_baseline.error_key(f"ml/ct.py:112: error: {message}")
    assert key == f"ml/ct.py: {message}"
    assert mypy_baseline.error_key(f"ml/ct.py:140:7: error: {message}") == key
    redefined = mypy_baseline.error_key('a\\b.py:9: error: Name "x" already defined on line 4  [no-redef]')
    assert redefined == 'a/b.py: Name "x" already defined on line N  [no-redef]'


def test_notes_and_summaries_are_not_errors():
    assert mypy_baseline.error_key("ml/ct.py:112: note: Possible overload variants:") is None
    assert mypy_baseline.error_key("Found 3 errors in 1 file (checked 9 source files)") is None


def test_new_and_fixed_errors_count_repeats():
    twice, once = Counter({"a.py: missing  [no-untyped-def]": 2}), Counter({"a.py: missing  [no-untyped-def]": 1})
    assert mypy_baseline.compare(current=twice, baseline=once) == (once, Counter())
    assert mypy_baseline.compare(current=once, baseline=twice) == (Counter(), once)
    assert mypy_baseline.compare(current=once, baseline=once) == (Counter(), Counter())


def test_the_baseline_file_round_trips_sorted_with_its_header(tmp_path):
    path = tmp_path / "baseline.txt"
    errors = Counter({"b.py: two  [misc]": 2, "a.py: one  [misc]": 1})
    mypy_baseline.write_baseline(path, errors)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    entries = [line for line in lines if not line.startswith("#")]
    assert entries == ["a.py: one  [misc]", "b.py: two  [misc]", "b.py: two  [misc]"]
    assert mypy_baseline.read_baseline(path) == errors
    assert mypy_baseline.read_baseline(tmp_path / "absent.txt") == Counter()
