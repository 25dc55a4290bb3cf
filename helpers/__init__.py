"""Plumbing for the Backend Roadmap Lab notebooks, exercises and tests.

Modules a notebook imports:

- :mod:`helpers.servers`: run a WSGI app on 127.0.0.1 in the background.
- :mod:`helpers.local_httpbin`: a local httpbin for the HTTP material.
- :mod:`helpers.measure`: small timing and plotting helpers for measured behaviour.

The course machinery (release, grading, the learner's self-check, benchmarks)
lives in :mod:`helpers.course` and runs as ``python -m helpers.course ...``.
"""
