"""No hidden-test text reaches a student through feedback outputs (issue 13)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.grader.scrub import MARKER, hidden_lines, scrub_notebook

HIDDEN = """\"\"\"dedupe: order and speed.\"\"\"
### BEGIN HIDDEN TESTS
assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2], "keeps the first occurrence"
big = list(range(50_000)) * 2
assert dedupe(big) == list(range(50_000))
### END HIDDEN TESTS
"""


def notebook(*outputs, answer="def dedupe(items):\n    return list(dict.fromkeys(items))\n"):
    test = new_code_cell(HIDDEN, outputs=list(outputs))
    return new_notebook(cells=[new_markdown_cell("Write `dedupe`."), new_code_cell(answer), test])


def test_hidden_lines_are_the_long_lines_inside_the_markers():
    lines = hidden_lines(notebook())
    assert 'assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2], "keeps the first occurrence"' in lines
    assert "big = list(range(50_000)) * 2" in lines
    assert not any("dedupe: order" in line for line in lines), "the docstring is visible"


def test_a_hidden_line_the_notebook_shows_elsewhere_is_not_secret():
    nb = notebook(answer="big = list(range(50_000)) * 2\n")
    assert "big = list(range(50_000)) * 2" not in hidden_lines(nb)


def test_printed_cells_are_scrubbed_and_the_rest_kept():
    printed = "my output\n" + HIDDEN + "more output\n"
    nb = notebook(new_output("stream", name="stdout", text=printed))
    assert scrub_notebook(nb) == 3
    text = nb.cells[2].outputs[0].text
    assert "dedupe([3, 1, 3" not in text and "range(50_000)" not in text
    assert text.count(MARKER) == 3
    assert text.startswith("my output\n") and text.endswith("more output\n")


def test_an_exception_message_holding_a_hidden_cell_is_scrubbed():
    error = new_output(
        "error", ename="ValueError", evalue=HIDDEN,
        traceback=["\x1b[31mValueError\x1b[0m: " + HIDDEN.replace("\n", "\n  ")],
    )
    nb = notebook(error)
    scrub_notebook(nb)
    out = nb.cells[2].outputs[0]
    assert "dedupe(big)" not in out.evalue and "dedupe(big)" not in "".join(out.traceback)
    assert MARKER in out.evalue


def test_repr_and_html_forms_are_scrubbed():
    as_repr = repr([HIDDEN])  # print(In): one line, escaped newlines and quotes
    html = "<pre>" + HIDDEN.replace('"', "&quot;").replace(">", "&gt;") + "</pre>"
    nb = notebook(new_output("execute_result", data={"text/plain": as_repr, "text/html": html}))
    scrub_notebook(nb)
    data = nb.cells[2].outputs[0].data
    assert "range(50_000)" not in data["text/plain"]
    assert "range(50_000)" not in data["text/html"] and "first occurrence" not in data["text/html"]


def test_short_common_lines_and_other_output_are_left_alone():
    nb = notebook(new_output("stream", name="stdout", text="assert x\n[3, 1, 2]\n"))
    assert scrub_notebook(nb) == 0
