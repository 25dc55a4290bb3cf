"""A capstone's reference app is exactly what its solution notebook writes.

The graded projects (10a blog, 10b shop, 10c chat) build a package with ``%%writefile``
cells; helpers/<name>_app holds the same package, which the walkthroughs and the
proofs use. :func:`assert_notebook_writes` checks the two have not drifted apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers.course.cells import read

#: nbgrader's solution markers, which the written files do not contain.
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\n", re.MULTILINE)


def code_without_docstring(source: str) -> str:
    """The module's code as an AST dump, its module docstring left out."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        tree.body = tree.body[1:]
    return ast.dump(tree)


def written_files(solution: Path, package: str) -> dict[str, str]:
    """``{path: text}`` that the notebook's %%writefile cells (markers removed) and its
    ``TEMPLATES = {...}`` cell, if any (the blog's), into ``<package>/templates/``, write."""
    files = {}
    for cell in read(solution).cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith("%%writefile "):
            first, body = cell.source.split("\n", 1)
            files[first.split()[1]] = MARKERS.sub("", body)
        elif "TEMPLATES = {" in cell.source:
            namespace: dict = {}
            exec(cell.source.split("for name, text")[0], namespace)  # noqa: S102 (our own notebook)
            templates = namespace["TEMPLATES"].items()
            files.update({f"{package}/templates/{name}": text for name, text in templates})
    return files


def assert_notebook_writes(solution: Path, package: str, reference: Path) -> None:
    """Assert ``solution`` writes into ``package/`` exactly the files of ``reference``: the same
    names, Python modules equal as code (docstrings may differ), other files equal as text."""
    files = written_files(solution, package)
    on_disk = [p for p in reference.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert sorted(files) == sorted(f"{package}/{p.relative_to(reference).as_posix()}" for p in on_disk)
    for name, text in files.items():
        expected = (reference / Path(name).relative_to(package)).read_text()
        if name.endswith(".py"):
            assert code_without_docstring(expected) == code_without_docstring(text), name
        else:
            assert expected.rstrip("\n") == text.rstrip("\n"), name
