"""Plumbing for the Backend Roadmap Lab notebooks, exercises and tests.

Shared by every step:

- :mod:`helpers.servers`: run a WSGI app on 127.0.0.1 in the background (HTTP or HTTPS).
- :mod:`helpers.measure`: timing helpers for measured behaviour.
- :mod:`helpers.workloads`: CPU-bound work and a slow service for the concurrency demos.
- :mod:`helpers.key_namespaces`: per-run key prefixes on Redis and Memcached, cleared at exit.

By step:

- 01, 02, 04: :mod:`helpers.inprocess_pytest` (run pytest on a folder in the kernel's process);
  04: :mod:`helpers.quick_imports` (jsonschema without a grammar nothing uses).
- 02: :mod:`helpers.local_httpbin`, :mod:`helpers.http_wire` (raw HTTP, demo apps),
  :mod:`helpers.rest_demo` (a small REST API), :mod:`helpers.oauth_demo` (OAuth2 + OIDC),
  :mod:`helpers.dns_lab` (an authoritative DNS server on 127.0.0.1, a caching resolver).
- 03: :mod:`helpers.databases` (engines from DATABASE_URL), :mod:`helpers.dataset`,
  :mod:`helpers.keyvalue` (Redis or fakeredis), :mod:`helpers.migrations` (Alembic),
  :mod:`helpers.db_failures` (lock waits, a crash mid-transaction, backup and restore),
  :mod:`helpers.dynamo` (DynamoDB in process with moto).
- 04, 06: :mod:`helpers.mini_api` (the books API), :mod:`helpers.wsgi_process`
  (gunicorn/waitress subprocesses), :mod:`helpers.deploy_rules`, :mod:`helpers.serverless`
  (Lambda events and cold starts, for ``helpers.mini_api.aws_lambda``).
- 07: :mod:`helpers.tls` (a local CA), :mod:`helpers.vulnerable_apps` (attack, then fix).
- 08: :mod:`helpers.observability` (JSON logs, request IDs, metrics).
- 11a: :mod:`helpers.messaging` (kombu on memory:// or RabbitMQ, Redis Streams, RQ jobs,
  NATS JetStream), :mod:`helpers.search` (a corpus, BM25, SQLite FTS5 or PostgreSQL full text).
- 11b: :mod:`helpers.scale_lab` (hash ring, replica lag, circuit breaker, queues, stale cache),
  :mod:`helpers.patterns` (aggregate, event store, CQRS projection, saga),
  :mod:`helpers.cdn` (a caching reverse proxy), :mod:`helpers.memcached` (pymemcache
  on memcached or its in-process stand-in), :mod:`helpers.load_balancer` (worker processes
  behind a round-robin balancer).

The course machinery (release, grading, the learner's self-check, benchmarks)
lives in :mod:`helpers.course` and runs as ``python -m helpers.course ...``.
"""
