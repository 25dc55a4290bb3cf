"""Tamper-evidence: student code must not change how the tests after it run or report.

An answer cell runs in the same Python process as the test cells after it, so it can
rewrite them (IPython input or AST transformers), skip them (a ``sys.settrace``
function that jumps over lines, a patched ``run_cell``), or make them pass
(replaced builtins such as ``len`` or ``isinstance``, ``pre_run_cell`` hooks,
``set_custom_exc``, a swapped ``sys.stdout``). Nothing inside that process can be
made impossible, so :class:`GuardedExecute` does two things around every test cell:

- **prevention**: before the test runs, the kernel's machinery is put back as it
  was before any student code ran (builtins, trace and profile functions,
  transformers, event callbacks, patched methods of the shell, the kernel and their
  classes, standard streams, custom exception handlers);
- **detection**: whatever had to be put back is a reason to *flag* the submission
  for review. Flags are written beside the gradebook
  (``flags/<assignment>/<student>/<notebook>.json``, read with :func:`read_flags`)
  and as a note at the top of that student's graded notebook and feedback.

The check runs through ``user_expressions`` of a silent execute request, which
bypasses input transformers and cell hooks. A kernel that does not answer the check
is flagged too. Only machinery that no exercise legitimately changes is checked:
``sys.excepthook``, logging and OpenTelemetry's global state (steps 08, 09) are not.

After each test cell that holds hidden tests, the kernel's copies of its source
(``In``, ``_ih``, ``_i*``, the input history and the source cache IPython keeps
for tracebacks) are replaced, so later student code cannot read those tests. The
notebook nbgrader writes into the kernel's working directory (all hidden tests in
it) is moved aside while the kernel runs. Whatever student code still prints is
scrubbed from feedback (:mod:`helpers.grader.scrub`).
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from traitlets import Bool

from helpers.grader.nbgrader_plugins import Execute

GUARD = "__grader_guard__"

# Evaluated once (user_expressions) before the first cell: saves the kernel's machinery and
# defines the check that compares with (and restores) it. Runs in the kernel.
KERNEL_SETUP = r'''
def __grader_setup():
    import builtins, json, linecache, sys, threading
    ip = get_ipython()
    shell_parts = {
        "shell": ip, "kernel": getattr(ip, "kernel", None),
        "session": getattr(getattr(ip, "kernel", None), "session", None),
        "displayhook": ip.displayhook, "display_pub": ip.display_pub,
        "compile": ip.compile, "input_transformer_manager": ip.input_transformer_manager,
        "traceback": ip.InteractiveTB, "history": ip.history_manager, "events": ip.events,
    }
    # Methods of these objects' classes, by class, as they are before student code.
    classes = {}
    for part in list(shell_parts.values()) + [sys.stdout, sys.stderr]:
        for cls in type(part).__mro__:
            if cls is not object and cls not in classes:
                classes[cls] = {k: v for k, v in vars(cls).items() if callable(v)}
    own = {name: dict(vars(obj)) for name, obj in shell_parts.items() if obj is not None}
    # The shell's parts are traits (not in its __dict__): compared one by one.
    shell_attrs = ("kernel", "displayhook", "display_pub", "compile", "input_transformer_manager",
                   "InteractiveTB", "history_manager", "events", "display_formatter")
    itm = ip.input_transformer_manager
    lists = {
        "input_transformers_cleanup": ip.input_transformers_cleanup,
        "input_transformers_post": ip.input_transformers_post,
        "ast_transformers": ip.ast_transformers,
        "cleanup_transforms": itm.cleanup_transforms,
        "line_transforms": itm.line_transforms,
        "token_transformers": itm.token_transformers,
    }
    saved = {
        "builtins": dict(vars(builtins)),
        "lists": {k: list(v) for k, v in lists.items()},
        "events": {k: list(v) for k, v in ip.events.callbacks.items()},
        "custom": (ip.custom_exceptions, ip.CustomTB),
        "streams": (sys.stdout, sys.stderr, sys.displayhook),
        "user_builtins": ip.user_ns.get("__builtins__"),
        "user_ns": {k: v for k, v in ip.user_ns.items() if k in vars(builtins)},
        "parts": {k: getattr(ip, k) for k in shell_attrs},
    }
    ipython_managed = {"exit", "quit", "get_ipython", "display", "__IPYTHON__", "_", "__", "___"}
    trusted = ("matplotlib", "matplotlib_inline", "IPython", "ipykernel", "ipywidgets")

    def library_display_hook(hook):
        """True for display hooks that libraries, not student code, leave installed; both pass
        every value on to the hook they replaced, so putting the saved one back changes nothing:
        IPython's own, left on when an interrupt (a cell timeout) lands inside its DisplayTrap,
        and werkzeug's debug console's, which importing werkzeug.debug installs (werkzeug's
        server imports it to log the traceback of a request that raised, in a server thread)."""
        if hook is ip.displayhook and ip.displayhook is saved["parts"]["displayhook"]:
            return True
        console = sys.modules.get("werkzeug.debug.console")
        return (console is not None and hook is getattr(console, "ThreadedStream").displayhook
                and getattr(console, "_displayhook", None) in (saved["streams"][2], ip.displayhook))

    def check():
        """What differs from the saved state, as reasons; everything is put back."""
        reasons = []
        if sys.gettrace() is not None:
            reasons.append("sys.settrace: a trace function is set")
            sys.settrace(None)
        if sys.getprofile() is not None:
            reasons.append("sys.setprofile: a profile function is set")
            sys.setprofile(None)
        if threading.gettrace() is not None or threading.getprofile() is not None:
            reasons.append("threading.settrace/setprofile: a hook is set")
            threading.settrace(None)
            threading.setprofile(None)
        current = vars(builtins)
        for name, value in saved["builtins"].items():
            # IPython itself adds and hides these around each cell (its builtin_trap).
            if name in ipython_managed or name not in current:
                continue
            if current[name] is not value:
                reasons.append(f"builtins.{name} was replaced")
                current[name] = value
        if ip.user_ns.get("__builtins__") is not saved["user_builtins"]:
            reasons.append("__builtins__ was replaced")
            ip.user_ns["__builtins__"] = saved["user_builtins"]
        for name, value in ip.user_ns.items():
            if (not name.startswith("_") and name in saved["builtins"] and callable(value)
                    and value is not saved["builtins"][name]
                    and value is not saved["user_ns"].get(name)):
                reasons.append(f"the builtin {name}() is shadowed by a global")
        for name, part in saved["parts"].items():
            if getattr(ip, name) is not part:
                reasons.append(f"the shell's {name} was replaced")
                setattr(ip, name, part)
        for name, original in saved["lists"].items():
            live = lists[name]
            if list(live) != original:
                reasons.append(f"IPython {name} were changed")
                live[:] = original
        for event, callbacks in ip.events.callbacks.items():
            added = [cb for cb in callbacks if cb not in saved["events"].get(event, [])]
            foreign = [cb for cb in added
                       if not str(getattr(cb, "__module__", "")).startswith(trusted)]
            if foreign:
                reasons.append(f"a callback was registered for IPython's {event} event")
                for cb in foreign:
                    callbacks.remove(cb)
        if (ip.custom_exceptions, ip.CustomTB) != saved["custom"]:
            reasons.append("custom exception handling was set (set_custom_exc)")
            ip.custom_exceptions, ip.CustomTB = saved["custom"]
        if library_display_hook(sys.displayhook):
            sys.displayhook = saved["streams"][2]
        now = (sys.stdout, sys.stderr, sys.displayhook)
        for name, live, before in zip(("sys.stdout", "sys.stderr", "sys.displayhook"), now, saved["streams"]):
            if live is not before:
                what = getattr(live, "__qualname__", type(live).__qualname__)
                reasons.append(f"{name} was replaced (by {getattr(live, '__module__', '?')}.{what})")
        sys.stdout, sys.stderr, sys.displayhook = saved["streams"]
        for cls, methods in classes.items():
            live = vars(cls)
            for name, method in methods.items():
                if live.get(name) is not method:
                    reasons.append(f"{cls.__name__}.{name} was patched")
                    setattr(cls, name, method)
        for part, before in own.items():
            obj = shell_parts[part]
            for name, value in list(vars(obj).items()):
                if name in before and before[name] is value:
                    continue
                if name not in before and not callable(value):
                    continue
                if name in before and not callable(value) and not callable(before[name]):
                    continue
                reasons.append(f"{type(obj).__name__}.{name} was replaced on the {part}")
                if name in before:
                    setattr(obj, name, before[name])
                else:
                    delattr(obj, name)
        return json.dumps(sorted(set(reasons)))

    def forget(marker):
        """Replace the kernel's copies of cell sources that contain ``marker``."""
        placeholder = "# (hidden tests)\n"
        hm = ip.history_manager
        for hist in (hm.input_hist_parsed, hm.input_hist_raw):
            hist[:] = [placeholder if marker in s else s for s in hist]
        for name in ("_i00", "_i", "_ii", "_iii"):  # the next cell shifts these into _i, _ii...
            if marker in str(getattr(hm, name, "")):
                setattr(hm, name, placeholder)
        for name in [n for n in ip.user_ns if n.startswith("_i")]:
            if isinstance(ip.user_ns[name], str) and marker in ip.user_ns[name]:
                ip.user_ns[name] = placeholder
        for key, entry in list(linecache.cache.items()):
            if len(entry) > 2 and any(marker in line for line in entry[2]):
                del linecache.cache[key]
        return "[]"

    return check, forget

__grader_guard__ = __grader_setup()
del __grader_setup
'''

SETUP = f"exec({KERNEL_SETUP!r})"
CHECK = f"{GUARD}[0]()"
HIDDEN_MARKER = "BEGIN HIDDEN TESTS"
FORGET = f"{GUARD}[1]({HIDDEN_MARKER!r})"
NO_ANSWER = "the kernel did not answer the grader's check (its execution machinery was changed)"


def parse_check(reply: dict | None) -> list[str]:
    """The reasons in a kernel's ``user_expressions`` reply to :data:`CHECK`."""
    try:
        content = reply["content"]
        result = content["user_expressions"]["check"]
        if content.get("status") != "ok" or result.get("status") != "ok":
            return [NO_ANSWER]
        reasons = json.loads(ast.literal_eval(result["data"]["text/plain"]))
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            return [NO_ANSWER]
        return reasons
    except (KeyError, TypeError, ValueError, SyntaxError):
        return [NO_ANSWER]


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell (graded, not an answer)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


# --- Flags: where the instructor finds them ---------------------------------------

FLAG_NOTE = (
    "**Flagged for review by the grader.** Code in this notebook changed how the "
    "tests after it run or report, so these scores need an instructor's look:"
)


@dataclass
class Flag:
    """One flagged submission notebook and why."""

    assignment: str
    student: str
    notebook: str
    reasons: list[str]


def flag_path(course_root: Path, assignment: str, student: str, notebook: str) -> Path:
    return Path(course_root) / "flags" / assignment / student / f"{notebook}.json"


def write_flag(course_root: Path, flag: Flag) -> Path:
    """Record ``flag`` (one file per submission notebook, so parallel graders never collide)."""
    path = flag_path(course_root, flag.assignment, flag.student, flag.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(flag.__dict__, indent=1))
    tmp.replace(path)
    return path


def clear_flag(course_root: Path, assignment: str, student: str, notebook: str) -> None:
    """A regrade that finds nothing removes an earlier flag."""
    flag_path(course_root, assignment, student, notebook).unlink(missing_ok=True)


def read_flags(course_root: Path, assignment: str | None = None) -> list[Flag]:
    """Every flag recorded in ``course_root`` (of one assignment, if given)."""
    base = Path(course_root) / "flags"
    pattern = f"{assignment}/*/*.json" if assignment else "*/*/*.json"
    return [Flag(**json.loads(p.read_text())) for p in sorted(base.glob(pattern))]


def flag_reasons(course_root: Path, assignment: str, student: str) -> list[str]:
    """Why ``student``'s submission of ``assignment`` was flagged (empty if it was not).

    The grade command runs this after each submission (:data:`helpers.grader.workers.CHECKS`).
    """
    return [reason for flag in read_flags(course_root, assignment)
            if flag.student == student for reason in flag.reasons]


def add_flag_note(nb: NotebookNode, reasons: list[str]) -> None:
    """Put the flag, with its reasons, in a markdown cell at the top of ``nb``."""
    from nbformat.v4 import new_markdown_cell

    text = FLAG_NOTE + "\n" + "\n".join(f"- {r}" for r in reasons)
    nb.cells.insert(0, new_markdown_cell(text, metadata={"grader_flag": True}))
    nb.metadata["grader_flags"] = reasons


# --- The Execute preprocessor -------------------------------------------------------


def _course_root(config: Any) -> Path:
    from nbgrader.coursedir import CourseDirectory

    return Path(CourseDirectory(config=config).root)


@contextmanager
def notebooks_put_aside(directory: str | None) -> Iterator[None]:
    """Move the notebooks out of ``directory`` while the kernel runs there, then back.

    nbgrader writes the notebook it grades into the kernel's working directory, with
    every test cell (hidden tests of cells not yet run included) before running it;
    student code must not be able to open it.
    """
    notebooks = sorted(Path(directory).glob("*.ipynb")) if directory else []
    if not notebooks:
        yield
        return
    aside = Path(tempfile.mkdtemp(prefix="grader-aside-"))
    try:
        for path in notebooks:
            shutil.move(path, aside / path.name)
        yield
    finally:
        for path in notebooks:
            shutil.move(aside / path.name, path)
        aside.rmdir()


class GuardedExecute(Execute):
    """The course's Execute, restoring the kernel around each test cell and flagging tampering.

    With ``confine`` on, each kernel runs in a bubblewrap sandbox
    (:class:`helpers.grader.sandbox.SandboxedKernelManager`).
    """

    confine = Bool(False, help="Run each submission's kernel confined (bubblewrap).").tag(config=True)
    quick_kernels = Bool(
        False, help="Start and stop kernels without jupyter_client's fixed waits "
        "(helpers.grader.kernels; the grade command's workers turn it on).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.confine:
            from helpers.grader.sandbox import (
                QuickSandboxedKernelManager,
                SandboxedKernelManager,
                check_bwrap,
            )

            check_bwrap()  # refuse to grade unconfined: the error says how to install bwrap
            self.kernel_manager_class = (
                QuickSandboxedKernelManager if self.quick_kernels else SandboxedKernelManager)
        elif self.quick_kernels:
            from helpers.grader.kernels import QuickKernelManager

            self.kernel_manager_class = QuickKernelManager
        if self.quick_kernels:
            self.shutdown_kernel = "immediate"  # a graded kernel's state is thrown away

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None):
        self._flag_reasons: list[str] = []
        with notebooks_put_aside((resources or {}).get("metadata", {}).get("path")):
            nb, resources = super().preprocess(nb, resources, km)
        info = (resources or {}).get("nbgrader", {})
        reasons = sorted(set(self._flag_reasons))
        if info.get("student") and info.get("assignment"):
            root = _course_root(self.config)
            key = (info["assignment"], info["student"], info.get("notebook", ""))
            if reasons:
                write_flag(root, Flag(*key, reasons))
            else:
                clear_flag(root, *key)
        if reasons:
            self.log.warning("Flagged for review: %s", "; ".join(reasons))
            add_flag_note(nb, reasons)
        return nb, resources

    async def _guard_request(self, user_expressions: dict, code: str = "") -> dict | None:
        try:
            return await self.kc.execute_interactive(
                code, silent=True, store_history=False, user_expressions=user_expressions,
                timeout=self.timeout or 30, output_hook=lambda msg: None,
            )
        except (TimeoutError, RuntimeError):
            return None

    _guard = run_sync(_guard_request)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int):
        if cell.cell_type == "code" and getattr(self, "_guard_kc", None) is not self.kc:
            self._guard_kc = self.kc
            # A new kernel (first cell, or after a death). Set up from user_expressions, the
            # context the checks run in (IPython swaps sys.displayhook and input around cells).
            reply = self._guard({"setup": SETUP})
            self._checked = False
            self._guard_ready = True if reply else None
        checking = is_test_cell(cell) and self._guard_ready is not None
        # Only student code can have changed the kernel since the last check.
        if checking and not getattr(self, "_checked", False):
            self._check({"check": CHECK})
        cell, resources = super().preprocess_cell(cell, resources, index)
        if checking:  # again: a thread or a hook may have patched during the test
            after = {"check": CHECK}
            if HIDDEN_MARKER in cell.source:
                after["forget"] = FORGET
            self._check(after)
        self._checked = checking or (getattr(self, "_checked", False) and cell.cell_type != "code")
        return cell, resources

    def _check(self, user_expressions: dict) -> None:
        reasons = parse_check(self._guard(user_expressions))
        self._flag_reasons += reasons
        if NO_ANSWER in reasons:  # flagged; don't wait on a broken kernel at every cell
            self._guard_ready = None
