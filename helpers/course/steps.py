"""The ten roadmap steps and where their files live in the repository."""

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
    Step("04-frameworks", "Backend frameworks: a mini Flask API"),
    Step("05-git", "Version control with git"),
    Step("06-deployment", "Servers and deployment"),
    Step("07-security", "Security: TLS, passwords, injection, XSS, CSRF"),
    Step("08-observability", "Logging and monitoring"),
    Step("09-beyond-rest", "APIs beyond REST: GraphQL, gRPC, WebSockets, async"),
    Step("10-projects", "Build projects: blog, shop, chat"),
]


def find_step(slug: str) -> Step:
    """The step whose slug is ``slug`` (or starts with it: ``01`` finds ``01-fundamentals``)."""
    matches = [s for s in STEPS if s.slug == slug or s.slug.startswith(slug)]
    if len(matches) != 1:
        known = ", ".join(s.slug for s in STEPS)
        raise SystemExit(f"Unknown step {slug!r}. Steps are: {known}.")
    return matches[0]


def assignments() -> list[str]:
    """Slugs of the assignments authored in ``solutions/`` (the ones the tests grade)."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name)


def walkthroughs() -> list[Path]:
    """The walkthrough notebooks in reading order."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
