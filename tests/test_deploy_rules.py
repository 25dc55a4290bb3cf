"""helpers.deploy_rules: Dockerfile, Kubernetes and GitHub Actions rule checks."""

from __future__ import annotations

import copy

import pytest
import yaml

from helpers.deploy_rules import (
    check_dockerfile,
    check_isolation,
    check_manifests,
    check_workflow,
    load_workflow,
    parse_dockerfile,
    rule_ids,
)

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2"
SETUP_PYTHON = "actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b  # v5.3.0"

DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:3.12.7-slim-bookworm AS builder
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels \\
        -r requirements.txt

FROM python:3.12.7-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --create-home --uid 10001 app
WORKDIR /app
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY helpers/ ./helpers/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz')"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "helpers.mini_api:create_app()"]
"""

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: books-api}
spec:
  replicas: 3
  selector: {matchLabels: {app: books-api}}
  template:
    metadata: {labels: {app: books-api}}
    spec:
      containers:
        - name: api
          image: registry.example.com/books-api:1.4.2
          ports: [{containerPort: 8000, name: http}]
          env:
            - name: SECRET_KEY
              valueFrom: {secretKeyRef: {name: books-api, key: secret-key}}
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
---
apiVersion: v1
kind: Service
metadata: {name: books-api}
spec:
  selector: {app: books-api}
  ports: [{port: 80, targetPort: http}]
"""

WORKFLOW = """\
name: ci
on:
  push: {branches: [main]}
  pull_request:
permissions: {contents: read}
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
      - run: ruff check .
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
      - uses: actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b  # v5.3.0
      - run: pytest
  build:
    needs: [lint, test]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
      - run: docker build -t books-api .
"""


def test_parse_dockerfile_joins_continuations_and_drops_comments():
    instructions = parse_dockerfile(DOCKERFILE)
    assert instructions[0] == ("FROM", "python:3.12.7-slim-bookworm AS builder")
    assert ("RUN", "pip wheel --no-cache-dir --wheel-dir /wheels  -r requirements.txt") in instructions


def test_good_files_pass():
    assert check_dockerfile(DOCKERFILE) == []
    assert check_manifests(MANIFESTS) == []
    assert check_workflow(WORKFLOW) == []


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("FROM python:3.12.7-slim-bookworm\n", "FROM python:latest\n", "unpinned-base"),
        ("FROM python:3.12.7-slim-bookworm AS builder", "FROM python AS builder", "unpinned-base"),
        ("USER 10001:10001\n", "", "runs-as-root"),
        ("USER 10001:10001\n", "USER root\n", "runs-as-root"),
        ("HEALTHCHECK", "# HEALTHCHECK", "no-healthcheck"),
        ('CMD ["gunicorn", "--bind", "0.0.0.0:8000", "helpers.mini_api:create_app()"]',
         "CMD gunicorn helpers.mini_api:create_app()", "shell-form-cmd"),
        ("ENV PYTHONUNBUFFERED=1", "ENV SECRET_KEY=hunter2 PYTHONUNBUFFERED=1", "secret-in-image"),
        ("COPY helpers/", "ADD helpers/", "add-instead-of-copy"),
    ],
)
def test_dockerfile_rules(old, new, rule):
    assert old in DOCKERFILE
    assert rule in rule_ids(check_dockerfile(DOCKERFILE.replace(old, new)))


def test_single_stage_and_empty_dockerfile():
    single = "FROM python:3.12-slim\nUSER 1000\nHEALTHCHECK CMD true\nCMD [\"python\"]\n"
    assert rule_ids(check_dockerfile(single)) == {"single-stage"}
    assert rule_ids(check_dockerfile("")) == {"no-from"}
    digest = "FROM python@sha256:" + "a" * 64 + "\n"
    assert "unpinned-base" not in rule_ids(check_dockerfile(digest))


def edited(path, value):
    docs = list(yaml.safe_load_all(MANIFESTS))
    target = docs
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return docs


CONTAINER = (0, "spec", "template", "spec", "containers", 0)


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        ((0, "spec", "replicas"), 1, "single-replica"),
        ((*CONTAINER, "image"), "books-api:latest", "unpinned-image"),
        ((*CONTAINER, "readinessProbe"), None, "no-readiness-probe"),
        ((*CONTAINER, "livenessProbe"), None, "no-liveness-probe"),
        ((*CONTAINER, "resources"), None, "no-resource-requests"),
        ((*CONTAINER, "securityContext"), None, "may-run-as-root"),
        ((*CONTAINER, "env"), [{"name": "DB_PASSWORD", "value": "x"}], "secret-in-manifest"),
        ((0, "spec", "selector"), {"matchLabels": {"app": "other"}}, "selector-mismatch"),
        ((1, "spec", "selector"), {"app": "other"}, "service-selector"),
        ((1, "spec", "ports"), [{"port": 80, "targetPort": 9000}], "service-port"),
    ],
)
def test_manifest_rules(path, value, rule):
    assert rule in rule_ids(check_manifests(edited(path, value)))


def test_manifests_need_both_kinds():
    docs = list(yaml.safe_load_all(MANIFESTS))
    assert rule_ids(check_manifests([docs[0]])) == {"no-service"}
    assert "no-deployment" in rule_ids(check_manifests([docs[1]]))


def test_load_workflow_restores_on_key():
    assert set(load_workflow(WORKFLOW)["on"]) == {"push", "pull_request"}


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("  pull_request:\n", "", "triggers"),
        ("permissions: {contents: read}\n", "", "no-permissions"),
        ("    needs: [lint, test]\n", "    needs: lint\n", "needs-test"),
        (SETUP_PYTHON, "actions/setup-python@main", "unpinned-action"),
        (SETUP_PYTHON, "actions/setup-python@v5", "unpinned-action"),
        (
            "  lint:\n    runs-on: ubuntu-latest\n    steps:\n"
            f"      - uses: {CHECKOUT}\n      - run: ruff check .\n",
            "",
            "missing-job",
        ),
        (
            "      - run: pytest\n",
            "      - run: pytest\n        env: {API_TOKEN: abc123}\n",
            "secret-in-workflow",
        ),
        ("jobs:", "jobs: [", "invalid-yaml"),
    ],
)
def test_workflow_rules(old, new, rule):
    assert old in WORKFLOW
    assert rule in rule_ids(check_workflow(WORKFLOW.replace(old, new)))


def test_workflow_secret_from_secrets_is_fine():
    from_secrets = "      - run: pytest\n        env: {API_TOKEN: '${{ secrets.API_TOKEN }}'}\n"
    text = WORKFLOW.replace("      - run: pytest\n", from_secrets)
    assert check_workflow(text) == []


def test_findings_read_well():
    finding = check_dockerfile(DOCKERFILE.replace("USER 10001:10001\n", ""))[0]
    assert str(finding).startswith("[runs-as-root] ")
    assert copy.copy(finding) == finding


def test_dockerfile_user_must_be_numeric_for_run_as_non_root():
    """`USER app` works with docker run but the kubelet cannot verify it: flagged."""
    named = DOCKERFILE.replace("USER 10001:10001", "USER app")
    assert "non-numeric-user" in rule_ids(check_dockerfile(named))
    assert "non-numeric-user" not in rule_ids(check_dockerfile(DOCKERFILE))


@pytest.mark.parametrize(
    ("remove", "rule"),
    [
        ("            allowPrivilegeEscalation: false\n", "privilege-escalation"),
        ("            capabilities: {drop: [ALL]}\n", "capabilities-not-dropped"),
        ("            seccompProfile: {type: RuntimeDefault}\n", "no-seccomp-profile"),
    ],
)
def test_manifests_require_the_restricted_security_context(remove, rule):
    """Each part of the restricted Pod Security Standard is its own finding."""
    assert remove in MANIFESTS
    assert rule in rule_ids(check_manifests(MANIFESTS.replace(remove, "")))


def test_pod_level_seccomp_and_non_root_count():
    text = (MANIFESTS.replace("            seccompProfile: {type: RuntimeDefault}\n", "")
            .replace("            runAsNonRoot: true\n", ""))
    docs = list(yaml.safe_load_all(text))
    docs[0]["spec"]["template"]["spec"]["securityContext"] = {
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert check_manifests(docs) == []


def test_action_tags_are_not_pins():
    """Only a full commit SHA pins an action: tags and branches can be moved."""
    refs = ("actions/checkout@v4", "actions/checkout@v4.2.2", "actions/checkout@main",
            "actions/checkout@11bd719")
    for ref in refs:
        text = WORKFLOW.replace("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", ref)
        assert "unpinned-action" in rule_ids(check_workflow(text)), ref


NETWORK_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: books-api, namespace: books}
spec:
  podSelector: {matchLabels: {app: books-api}}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}]
"""


def isolated():
    """MANIFESTS in their own namespace, without an API token, behind a NetworkPolicy."""
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "books"}},
            *yaml.safe_load_all(MANIFESTS), yaml.safe_load(NETWORK_POLICY)]
    for doc in docs[1:3]:
        doc["metadata"]["namespace"] = "books"
    docs[1]["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    return docs


def test_isolated_manifests_pass_both_checks():
    assert check_isolation(isolated()) == []
    assert check_manifests(isolated()) == []


def test_isolation_rules_on_a_first_draft():
    """The plain MANIFESTS: default namespace for both objects, a token, no policy."""
    findings = check_isolation(MANIFESTS)
    assert [f.rule for f in findings] == [
        "default-namespace", "default-namespace", "service-account-token", "no-network-policy"]
    assert "Service books-api" in str(findings[1])


@pytest.mark.parametrize(
    ("edit", "rules"),
    [
        (lambda docs: docs[2]["metadata"].pop("namespace"), {"default-namespace"}),
        # The Deployment moved to `default`: its NetworkPolicy (in books) no longer applies either.
        (lambda docs: docs[1]["metadata"].update(namespace="default"),
         {"default-namespace", "no-network-policy"}),
        (lambda docs: docs[1]["spec"]["template"]["spec"].pop("automountServiceAccountToken"),
         {"service-account-token"}),
        (lambda docs: docs[1]["spec"]["template"]["spec"].update(automountServiceAccountToken=True),
         {"service-account-token"}),
        (lambda docs: docs.pop(3), {"no-network-policy"}),
        (lambda docs: docs[3]["metadata"].update(namespace="other"), {"no-network-policy"}),
        (lambda docs: docs[3]["spec"].update(podSelector={"matchLabels": {"app": "other"}}),
         {"no-network-policy"}),
    ],
)
def test_isolation_rules(edit, rules):
    docs = isolated()
    edit(docs)
    assert rule_ids(check_isolation(docs)) == rules


def test_an_empty_pod_selector_covers_every_pod_and_namespaces_need_none():
    """podSelector: {} selects every pod of its namespace; a Namespace has no namespace itself."""
    docs = isolated()
    docs[3]["spec"]["podSelector"] = {}
    assert check_isolation(docs) == []
