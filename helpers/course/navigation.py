"""Previous / contents / next links for the walkthroughs, generated, never kept by hand.

``make execute`` refreshes the navigation cell (the cell with id ``navigation``,
right after the opening cell) before running a notebook; the tests check it is current.
"""

from __future__ import annotations

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from helpers.course.steps import STEPS, walkthroughs

CELL_ID = "navigation"


def _number(slug: str) -> str:
    """``09`` for ``09-beyond-rest``, ``10a`` for ``10a-blog``."""
    return slug.split("-", 1)[0]


def navigation_markdown(slug: str) -> str:
    """The navigation line for walkthrough ``slug`` among the walkthroughs that exist."""
    built = [p.stem for p in walkthroughs()]
    titles = {s.slug: s.title for s in STEPS}
    index = built.index(slug)
    parts = []
    if index > 0:
        prev = built[index - 1]
        parts.append(f"← [{_number(prev)}: {titles.get(prev, prev)}]({prev}.ipynb)")
    parts.append("[Contents](../README.md#the-steps)")
    if index + 1 < len(built):
        nxt = built[index + 1]
        parts.append(f"[{_number(nxt)}: {titles.get(nxt, nxt)}]({nxt}.ipynb) →")
    return " | ".join(parts)


def apply(nb: NotebookNode, slug: str) -> bool:
    """Insert or refresh ``nb``'s navigation cell; True if it changed."""
    text = navigation_markdown(slug)
    for cell in nb.cells:
        if cell.get("id") == CELL_ID:
            if cell.source == text:
                return False
            cell.source = text
            return True
    cell = new_markdown_cell(text)
    cell["id"] = CELL_ID
    nb.cells.insert(1, cell)
    return True


def refresh_all() -> list[str]:
    """Refresh the navigation cell of every walkthrough in place, without running it.

    Adding a step changes its neighbours' links; a markdown cell is not compared by nbval,
    so the neighbours need no re-run. Returns the names of the notebooks it changed.
    """
    changed = []
    for path in walkthroughs():
        nb = nbformat.read(path, as_version=4)
        if apply(nb, path.stem):
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed
