"""Imported once by the process that forks the grading workers (see :class:`helpers.grader.workers.Pool`).

Starting Python and importing nbgrader, nbconvert, jupyter_client and SQLAlchemy costs a
worker 2-3 CPU-seconds. The pool's workers are forked from one server process that has
imported them already (``multiprocessing``'s ``forkserver`` with this module preloaded), so
that cost is paid once per grading process, not once per worker and batch. Nothing here
starts a thread, an event loop or a connection: a forked child must not inherit one.
"""

from helpers.grader.startup import skip_iri_grammar

skip_iri_grammar()  # before anything imports jsonschema

import nbgrader.apps.api  # noqa: E402, F401
import nbgrader.apps.baseapp  # noqa: E402, F401
import nbgrader.converters  # noqa: E402, F401
import nbgrader.preprocessors  # noqa: E402, F401

import helpers.grader.kernels  # noqa: E402, F401
import helpers.grader.nbgrader_plugins  # noqa: E402, F401
import helpers.grader.tamper  # noqa: E402, F401
