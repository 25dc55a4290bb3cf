# Thin wrappers over `python -m helpers.course ...` and pytest; see README.md.
# Every target sets up .venv first (once, and again when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# nbgrader runs `alembic` from PATH, and kernels must be the venv's Python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup lab lab-instructor test test-fast test-notebooks test-grading lint \
        check reset reset-walkthrough execute release bench clean \
        update collect autograde feedback handback export publish grade tools

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; found " + sys.version.split()[0] + ". Run: make PYTHON=python3.12 ...")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)                  ## open JupyterLab on the curriculum
	$(BIN)/python -m helpers.course lab

lab-instructor: $(STAMP)       ## JupyterLab with nbgrader's instructor panels
	$(BIN)/python -m helpers.course lab --instructor

# Items sharing a node id (schemathesis: one per API operation) run in a process of their
# own: pytest-xdist would run only one of each (tests/conftest.py marks them single_process).
test: $(STAMP)                 ## the whole test suite (what CI runs)
	@# Bytecode for helpers/, which every kernel and server imports: where PYTHONDONTWRITEBYTECODE
	@# is set (as on CI), each process would otherwise compile the modules it imports again.
	$(BIN)/python -m compileall -q helpers
	$(BIN)/python -m pytest -n auto --dist loadscope --no-loadscope-reorder -m "not single_process"
	$(BIN)/python -m pytest tests -m single_process

test-fast: $(STAMP)            ## everything but the grading proofs
	$(BIN)/python -m pytest -m "not grading"

test-notebooks: $(STAMP)       ## nbval over the walkthroughs only
	$(BIN)/python -m pytest notebooks

test-grading: $(STAMP)         ## the grading proofs only
	$(BIN)/python -m pytest -m grading

lint: $(STAMP)
	$(BIN)/python -m ruff check .

# Learners' commands print only their own messages (make's exit code is the command's).
check: $(STAMP)                ## learners: check your exercises in my-work/
	@$(BIN)/python -m helpers.course check $(STEP)

reset: $(STAMP)                ## learners: fresh copy of one exercise, e.g. make reset STEP=01
	@test -n "$(STEP)" || { echo "Say which step: make reset STEP=01"; exit 2; }
	@$(BIN)/python -m helpers.course reset $(STEP)

reset-walkthrough: $(STAMP)    ## learners: pristine copy of one walkthrough, e.g. make reset-walkthrough STEP=01
	@test -n "$(STEP)" || { echo "Say which step: make reset-walkthrough STEP=01"; exit 2; }
	@$(BIN)/python -m helpers.course reset --walkthrough $(STEP)

execute: $(STAMP)              ## maintainers: re-run walkthroughs and save outputs
	$(BIN)/python -m helpers.course execute $(STEP)

release: $(STAMP)              ## maintainers: regenerate exercises/ from solutions/
	$(BIN)/python -m helpers.course release $(STEP)

grade: $(STAMP)                ## instructors: grade submitted/ for one step, e.g. make grade STEP=01
	@test -n "$(STEP)" || { echo "Say which step: make grade STEP=01"; exit 2; }
	$(BIN)/python -m helpers.course grade $(STEP) $(GRADE_ARGS)

bench: $(STAMP)                ## timings against the targets
	$(BIN)/python -m helpers.course bench

# Scanners that would clash with the project's dependencies get a venv of their own.
# CI installs them (.ci/run); without them their tests skip, saying how to install them.
TOOLS := .venv-tools
tools: $(TOOLS)/checkov/.installed   ## maintainers/CI: checkov in .venv-tools/ (about 300 MB)

$(TOOLS)/checkov/.installed: .ci/checkov-requirements.txt
	$(PYTHON) -m venv --clear $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

clean:
	rm -rf $(VENV) .venv-tools .pytest_cache .ruff_cache

# Instructors (README, "For instructors"): one step at a time, e.g. make collect STEP=01.
update collect autograde feedback handback: $(STAMP)
	@test -n "$(STEP)" || { echo "Say which step: make $@ STEP=01"; exit 2; }
	$(BIN)/python -m helpers.course $@ $(STEP)

export: $(STAMP)               ## instructors: grades/<step>.csv + the LMS import file (ROSTER=canvas.csv)
	$(BIN)/python -m helpers.course export $(STEP) $(if $(ROSTER),--roster $(ROSTER))

publish: $(STAMP)              ## instructors: what students receive, e.g. make publish TO=../course-students
	@test -n "$(TO)" || { echo "Say where: make publish TO=../course-students"; exit 2; }
	$(BIN)/python -m helpers.course publish $(TO) --git
