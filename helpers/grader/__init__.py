"""The course's grading system: grade a class's submissions with nbgrader, confined,
tamper-evident and in parallel (on several machines through Celery workers:
:mod:`helpers.grader.distributed`, an optional extra), and the instructor workflow around it (LMS zips,
feedback hand-back, grade export, what students receive).

Learner commands never import this package; both sides read notebooks' nbgrader
cells through :mod:`helpers.course.cells`.
"""
