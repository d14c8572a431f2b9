"""The seeded corpus: every nasty input found so far, replayed against its function with the answer it must get.

Each file in tests/fuzz/corpus/ is one raw request, named `<function>-<status>-<what>.http`:
a first line `POST <path>`, header lines `Name: value` (latin-1, as HTTP carries
them), an empty line, then the body byte for byte. Add a file for every input a
fuzz run or a bug report finds; docs/bad-input.md says what each class gets.
"""

from pathlib import Path

import pytest
from in_memory import BUILDERS, answer, served_functions

CORPUS = Path(__file__).parent / "corpus"


def request_of(path: Path) -> tuple[str, dict[str, str], bytes]:
    head, _, body = path.read_bytes().partition(b"\n\n")
    first, *lines = head.decode("latin-1").split("\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return first.removeprefix("POST "), headers, body


@pytest.fixture
def served():
    """Functions of their own for each case: cases may reuse a transaction id with another payload."""
    functions = served_functions()
    yield functions
    for function in functions.values():
        function.stop()


@pytest.mark.parametrize("case", sorted(CORPUS.glob("*.http")), ids=lambda case: case.stem)
def test_each_corpus_input_gets_its_answer(served, case):
    function, status, _ = case.stem.split("-", 2)
    path, headers, body = request_of(case)
    answered, document = answer(served[function], path, content=body, headers=headers)
    assert answered == int(status), document


def test_the_corpus_covers_every_function():
    assert {case.name.split("-")[0] for case in CORPUS.glob("*.http")} == set(BUILDERS)
