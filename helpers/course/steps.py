"""The roadmap steps (ten, and step 11 beyond them) and where their files live in the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
#: A learner's own copies of the exercises; git ignores it, so `git pull` never conflicts.
WORK = REPO / "my-work"


@dataclass(frozen=True)
class Step:
    """One roadmap step: ``slug`` names its walkthrough, solution and exercise files."""

    slug: str
    title: str

    @property
    def number(self) -> str:
        """``01`` for ``01-fundamentals``, ``10a`` for ``10a-blog``."""
        return self.slug.split("-", 1)[0]

    @property
    def walkthrough(self) -> Path:
        return NOTEBOOKS / f"{self.slug}.ipynb"

    @property
    def solution(self) -> Path:
        return SOLUTIONS / self.slug / f"{self.slug}.ipynb"

    @property
    def exercise(self) -> Path:
        return EXERCISES / self.slug / f"{self.slug}.ipynb"

    @property
    def work_copy(self) -> Path:
        return WORK / self.slug / f"{self.slug}.ipynb"

    @property
    def built(self) -> bool:
        """True once the step has released exercises."""
        return self.exercise.exists()


STEPS = [
    Step("01-fundamentals", "Fundamentals: Python for backend work"),
    Step("02-web", "How the web works: HTTP, REST, authentication"),
    Step("03-databases", "Databases: SQL, transactions, ORMs, NoSQL"),
    Step("04-frameworks", "Backend frameworks: Flask, FastAPI and Django"),
    Step("05-git", "Version control with git"),
    Step("06-deployment", "Servers and deployment"),
    Step("07-security", "Security: TLS, passwords, injection, XSS, CSRF"),
    Step("08-observability", "Logging and monitoring"),
    Step("09-beyond-rest", "APIs beyond REST: GraphQL, gRPC, WebSockets, async"),
    # Step 10 is three capstones (DESIGN §1); `STEP=10` finds the first.
    Step("10a-blog", "Capstone: a blog with authentication and authorisation"),
    Step("10b-shop", "Capstone: an e-commerce backend with payments"),
    Step("10c-chat", "Capstone: a real-time chat"),
    # Step 11, architecture and scaling (DESIGN §2, beyond the roadmap's first ten).
    Step("11a-messaging-and-search", "Messaging and search: brokers, logs, background jobs, full text"),
    Step("11b-architecture-and-scale", "Architecture and scale: databases, resilience, patterns, caching"),
]


class UnknownStep(SystemExit):
    """A step name that matches no step; exits with code 2 and says which names are valid."""

    def __init__(self, name: str) -> None:
        super().__init__(2)
        self.message = (
            f"Unknown step {name!r}. Name a step by its number or its name, e.g. "
            f"`make check STEP=1`, `STEP=01`, `STEP=fundamentals` or `STEP=01-fundamentals`.\n"
            "The steps are:\n" + "\n".join(f"  {s.slug:<18} {s.title}" for s in STEPS)
        )

    def __str__(self) -> str:
        return self.message


def step_names(step: Step) -> set[str]:
    """The names that find ``step``: ``1``, ``01``, ``fundamentals``, ``01-fundamentals``;
    ``10a``, ``blog``, ``10a-blog`` and also ``10`` for a split step (the first one listed wins)."""
    number, _, name = step.slug.partition("-")
    digits = number.rstrip("abcdefghijklmnopqrstuvwxyz")
    return {step.slug, number, str(int(digits)), digits, name}


def find_step(name: str) -> Step:
    """The step called ``name`` (any of :func:`step_names`, any case); :class:`UnknownStep` if none."""
    wanted = name.strip().lower()
    for step in STEPS:
        if wanted in step_names(step):
            return step
    raise UnknownStep(name)


def assignments() -> list[str]:
    """Slugs of the assignments authored in ``solutions/`` (the ones the tests grade)."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name)


def walkthroughs() -> list[Path]:
    """The walkthrough notebooks in reading order."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
