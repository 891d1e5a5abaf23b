"""README.md against the suite: every test file and test it names exists (its Reliability section
cites the test that holds each guarantee)."""
import ast
import re

from conftest import REPO

TESTS = REPO / "tests"


def suite() -> dict[str, set[str]]:
    """The test functions of each test file (``test_x.py`` -> its ``test_*`` names), read from the source."""
    return {path.name: {node.name for node in ast.parse(path.read_text()).body
                        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
            for path in sorted(TESTS.glob("test_*.py"))}


def cited(text: str) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """The test files (``test_x.py``), the test names (``test_y`` not followed by ``.py``) and the
    ``test_x.py::test_y`` pairs that ``text`` names."""
    files = set(re.findall(r"\b(test_\w+\.py)\b", text))
    names = set(re.findall(r"\b(test_\w+)\b(?!\.py)", text))
    pairs = set(re.findall(r"\b(test_\w+\.py)::(test_\w+)\b", text))
    return files, names, pairs


def test_every_test_the_readme_names_is_a_test_of_the_suite():
    example = ("`tests/test_a.py::test_one`, `test_two`, (tests/test_b.py) and `tests/test_<module>.py`; "
               "test-fast, --test-films")
    assert cited(example) == ({"test_a.py", "test_b.py"}, {"test_one", "test_two"}, {("test_a.py", "test_one")})
    tests = suite()
    every = set().union(*tests.values())
    files, names, pairs = cited((REPO / "README.md").read_text())
    assert len(names) > 50 and len(files) > 5     # the Reliability section cites them by name
    assert sorted(files - set(tests)) == []
    assert sorted(names - every) == []
    assert sorted((file, name) for file, name in pairs if name not in tests.get(file, ())) == []
