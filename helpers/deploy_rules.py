"""Rule checks for deployment files: Dockerfiles, Kubernetes manifests, GitHub Actions workflows.

No container engine or cluster runs in this course, so step 06 checks what can be
checked without one: the files' structure, by rules a reviewer would apply. Each
check returns a list of :class:`Finding` (empty when the file passes)::

    from helpers.deploy_rules import check_dockerfile
    for finding in check_dockerfile(text):
        print(finding)          # e.g. "[runs-as-root] no USER instruction: ..."

Rules are a floor, not a proof: a Dockerfile that passes may still fail to build.
Real pipelines add a linter (hadolint), a schema validator (kubeconform), a workflow
linter (actionlint) and an infrastructure-as-code scanner (checkov, which the course's
own tests run on the walkthrough's files: tests/test_checkov.py); these checks show
what those tools look for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "Finding",
    "check_dockerfile",
    "check_isolation",
    "check_manifests",
    "check_workflow",
    "load_workflow",
    "parse_dockerfile",
    "rule_ids",
]

SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One broken rule: ``rule`` is a stable id, ``message`` says what to change."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def rule_ids(findings: Iterable[Finding]) -> set[str]:
    """The set of rule ids in ``findings`` (handy for asserting)."""
    return {f.rule for f in findings}


# -- Dockerfile ---------------------------------------------------------------------


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs: comments dropped, ``\\`` continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if not line.strip():
            continue
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    if pending.strip():
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def _image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    tag = name.split(":", 1)[1]
    return tag not in ("latest", "") and any(ch.isdigit() for ch in tag)


def check_dockerfile(text: str) -> list[Finding]:
    """Check a production Dockerfile.

    Rules: ``unpinned-base`` (every FROM names a tag with a version, or a digest; not
    ``latest``), ``single-stage`` (build tools stay in a builder stage: at least two
    FROM), ``runs-as-root`` (the final stage switches to a non-root USER),
    ``no-healthcheck``, ``shell-form-cmd`` (CMD/ENTRYPOINT in exec form, so the server
    is PID 1 and receives SIGTERM), ``secret-in-image`` (no ENV/ARG holding a password,
    token or key), ``add-instead-of-copy`` (ADD fetches URLs and unpacks archives;
    COPY is explicit), ``no-cmd``.
    """
    instructions = parse_dockerfile(text)
    findings: list[Finding] = []
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    if not froms:
        return [Finding("no-from", "a Dockerfile starts with FROM <image>:<version>")]
    stage_names = set()
    for args in froms:
        parts = [p for p in args.split() if not p.startswith("--")]
        image = parts[0]
        if image not in stage_names and image != "scratch" and not _image_is_pinned(image):
            findings.append(
                Finding("unpinned-base", f"pin the base image {image!r} to a version tag or digest")
            )
        if len(parts) >= 3 and parts[1].upper() == "AS":
            stage_names.add(parts[2])
    if len(froms) < 2:
        findings.append(
            Finding("single-stage", "use a multi-stage build: build in one stage, copy the result")
        )
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    final = instructions[last_from:]
    users = [args.split(":")[0].strip() for keyword, args in final if keyword == "USER"]
    if not users or users[-1] in ("root", "0"):
        findings.append(Finding("runs-as-root", "add USER with a non-root user in the final stage"))
    elif not users[-1].isdigit():
        # Kubernetes' runAsNonRoot can only verify a numeric user: with `USER app` the
        # kubelet refuses to start the container ("image has non-numeric user").
        findings.append(
            Finding(
                "non-numeric-user",
                f"USER {users[-1]}: use the numeric UID (e.g. USER 10001:10001) "
                "so runAsNonRoot can verify it",
            )
        )
    if not any(keyword == "HEALTHCHECK" and not args.upper().startswith("NONE") for keyword, args in final):
        findings.append(Finding("no-healthcheck", "add HEALTHCHECK CMD ... probing the health endpoint"))
    commands = [(keyword, args) for keyword, args in final if keyword in ("CMD", "ENTRYPOINT")]
    if not commands:
        findings.append(Finding("no-cmd", "say how to start the server with CMD [...]"))
    for keyword, args in commands:
        if not args.startswith("["):
            findings.append(
                Finding("shell-form-cmd", f'write {keyword} in exec form: {keyword} ["...", "..."]')
            )
    for keyword, args in instructions:
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", args) or args.split()[:1]
            for name in names:
                if SECRET_NAME.search(name):
                    findings.append(
                        Finding(
                            "secret-in-image",
                            f"{keyword} {name}: secrets come from the runtime environment, never the image",
                        )
                    )
        if keyword == "ADD":
            findings.append(
                Finding("add-instead-of-copy", "use COPY for local files (ADD also fetches URLs)")
            )
    return findings


# -- Kubernetes -----------------------------------------------------------------------


def _documents(manifests: str | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(manifests, str):
        return [d for d in yaml.safe_load_all(manifests) if d]
    return [d for d in manifests if d]


def _check_container(
    name: str, container: dict[str, Any], pod_security: dict[str, Any] | None = None
) -> list[Finding]:
    findings = []
    image = container.get("image", "")
    if not _image_is_pinned(image):
        findings.append(
            Finding("unpinned-image", f"container {name}: pin image {image!r} to a version or digest")
        )
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in container:
            findings.append(
                Finding(
                    f"no-{probe.removesuffix('Probe')}-probe",
                    f"container {name}: add a {probe} (an HTTP GET on the health endpoints)",
                )
            )
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        values = resources.get(part) or {}
        if not {"cpu", "memory"} <= set(values) and not (part == "limits" and "memory" in values):
            findings.append(
                Finding(f"no-resource-{part}", f"container {name}: set resources.{part} for cpu and memory")
            )
    security = container.get("securityContext") or {}
    pod = pod_security or {}
    if security.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
        findings.append(
            Finding("may-run-as-root", f"container {name}: set securityContext.runAsNonRoot: true")
        )
    # The rest of Kubernetes' "restricted" Pod Security Standard.
    if security.get("allowPrivilegeEscalation") is not False:
        findings.append(
            Finding(
                "privilege-escalation",
                f"container {name}: set securityContext.allowPrivilegeEscalation: false",
            )
        )
    dropped = {str(c).upper() for c in ((security.get("capabilities") or {}).get("drop") or [])}
    if "ALL" not in dropped:
        findings.append(
            Finding(
                "capabilities-not-dropped",
                f"container {name}: drop every Linux capability (securityContext.capabilities.drop: [ALL])",
            )
        )
    seccomp = (security.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        findings.append(
            Finding(
                "no-seccomp-profile",
                f"container {name}: set securityContext.seccompProfile.type: RuntimeDefault",
            )
        )
    for env in container.get("env") or []:
        if SECRET_NAME.search(env.get("name", "")) and "value" in env:
            findings.append(
                Finding(
                    "secret-in-manifest",
                    f"container {name}: {env['name']} must come from a Secret (valueFrom)",
                )
            )
    return findings


def check_manifests(manifests: str | Iterable[dict[str, Any]]) -> list[Finding]:
    """Check Kubernetes manifests (YAML text with ``---`` separators, or parsed dicts).

    Rules: a Deployment exists (``no-deployment``) with at least 2 replicas
    (``single-replica``), a selector matching its pod labels (``selector-mismatch``),
    and containers with pinned images, readiness and liveness probes, resource requests
    and limits, no literal secrets, and the security context of Kubernetes' *restricted*
    Pod Security Standard: ``runAsNonRoot`` (``may-run-as-root``),
    ``allowPrivilegeEscalation: false`` (``privilege-escalation``), ``capabilities.drop:
    [ALL]`` (``capabilities-not-dropped``) and a ``RuntimeDefault`` seccomp profile
    (``no-seccomp-profile``; the pod's securityContext counts for it and runAsNonRoot); a Service exists
    (``no-service``) whose selector picks the Deployment's pods and whose
    ``targetPort`` is a container port (``service-selector``, ``service-port``).
    """
    docs = _documents(manifests)
    findings: list[Finding] = []
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    services = [d for d in docs if d.get("kind") == "Service"]
    if not deployments:
        findings.append(Finding("no-deployment", "add a Deployment (apps/v1)"))
    pod_labels: dict[str, str] = {}
    ports: set[Any] = set()
    for dep in deployments:
        spec = dep.get("spec") or {}
        name = (dep.get("metadata") or {}).get("name", "?")
        if (spec.get("replicas") or 1) < 2:
            findings.append(Finding("single-replica", f"deployment {name}: run at least 2 replicas"))
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        pod_labels.update(labels)
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            findings.append(
                Finding(
                    "selector-mismatch",
                    f"deployment {name}: selector.matchLabels must match the pod template labels",
                )
            )
        pod_spec = template.get("spec") or {}
        containers = pod_spec.get("containers") or []
        if not containers:
            findings.append(
                Finding("no-containers", f"deployment {name}: the pod template has no containers")
            )
        for container in containers:
            findings.extend(
                _check_container(container.get("name", "?"), container, pod_spec.get("securityContext"))
            )
            for port in container.get("ports") or []:
                ports.add(port.get("containerPort"))
                if port.get("name"):
                    ports.add(port["name"])
    if not services:
        findings.append(Finding("no-service", "add a Service in front of the Deployment's pods"))
    for svc in services:
        spec = svc.get("spec") or {}
        name = (svc.get("metadata") or {}).get("name", "?")
        selector = spec.get("selector") or {}
        if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
            findings.append(
                Finding("service-selector", f"service {name}: its selector matches no Deployment pods")
            )
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if target not in ports:
                findings.append(
                    Finding("service-port", f"service {name}: targetPort {target!r} is no container port")
                )
    return findings


# Cluster-scoped object kinds: they have no namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "PriorityClass", "IngressClass"}


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a ``{matchLabels: ...}`` selector picks pods with ``labels`` (empty: every pod)."""
    match = (selector or {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in match.items())


def check_isolation(manifests: str | Iterable[dict[str, Any]]) -> list[Finding]:
    """Check how the manifests' workloads are fenced off from the rest of the cluster.

    :func:`check_manifests` looks at the pod itself; these rules look at what surrounds
    it, the first things a scanner such as checkov reports once the pod is hardened:

    - ``default-namespace``: every namespaced object names its own namespace, not
      ``default`` (where everything lands unless told otherwise), so access rules,
      quotas, network policies and Pod Security admission apply to it alone;
    - ``service-account-token``: the pod template sets ``automountServiceAccountToken:
      false``; otherwise every pod gets a token for the Kubernetes API, and whoever takes
      over the app can use it (an API server does not need one);
    - ``no-network-policy``: a ``NetworkPolicy`` in the same namespace selects the
      Deployment's pods; without one any pod in the cluster may connect to them.
    """
    docs = _documents(manifests)
    findings: list[Finding] = []
    for doc in docs:
        kind = doc.get("kind", "?")
        metadata = doc.get("metadata") or {}
        if kind not in CLUSTER_SCOPED and metadata.get("namespace", "default") == "default":
            findings.append(
                Finding(
                    "default-namespace",
                    f"{kind} {metadata.get('name', '?')}: set metadata.namespace to the app's own namespace",
                )
            )
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    for dep in (d for d in docs if d.get("kind") == "Deployment"):
        name = (dep.get("metadata") or {}).get("name", "?")
        namespace = (dep.get("metadata") or {}).get("namespace", "default")
        template = (dep.get("spec") or {}).get("template") or {}
        pod_spec = template.get("spec") or {}
        if pod_spec.get("automountServiceAccountToken") is not False:
            findings.append(
                Finding(
                    "service-account-token",
                    f"deployment {name}: set automountServiceAccountToken: false in the pod template "
                    "(the app does not call the Kubernetes API)",
                )
            )
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not any(
            (p.get("metadata") or {}).get("namespace", "default") == namespace
            and _selects((p.get("spec") or {}).get("podSelector"), labels)
            for p in policies
        ):
            findings.append(
                Finding(
                    "no-network-policy",
                    f"deployment {name}: add a NetworkPolicy whose podSelector matches its pods "
                    "and allows only the traffic they need",
                )
            )
    return findings


# -- GitHub Actions -------------------------------------------------------------------


def load_workflow(text: str) -> dict[str, Any]:
    """Parse a workflow; YAML 1.1 reads the key ``on`` as ``True``, so it is renamed back."""
    workflow = yaml.safe_load(text) or {}
    if not isinstance(workflow, dict):
        raise ValueError("a workflow is a YAML mapping with `on:` and `jobs:`")
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _needs(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs") or []
    return {needs} if isinstance(needs, str) else set(needs)


def _depends_on(jobs: dict[str, Any], job: str, target: str) -> bool:
    seen, stack = set(), [job]
    while stack:
        current = stack.pop()
        for need in _needs(jobs.get(current) or {}):
            if need == target:
                return True
            if need not in seen:
                seen.add(need)
                stack.append(need)
    return False


def check_workflow(text: str, required_jobs: Iterable[str] = ("lint", "test", "build")) -> list[Finding]:
    """Check a GitHub Actions workflow for the API.

    Rules: it runs on ``push`` and ``pull_request`` (``triggers``); it has the
    ``required_jobs`` (``missing-job``), each with ``runs-on`` and ``steps``
    (``job-shape``); jobs after ``test`` depend on it through ``needs`` (``needs-test``:
    nothing is built or deployed from code whose tests failed); actions are pinned to a
    full commit SHA (``unpinned-action``: a branch such as ``@main`` or a tag such as
    ``@v4`` can be moved to other code; write the version in a comment); ``permissions``
    are declared (``no-permissions``: least privilege for the ``GITHUB_TOKEN``); no secret
    is written in clear (``secret-in-workflow``).
    """
    try:
        workflow = load_workflow(text)
    except (yaml.YAMLError, ValueError) as exc:
        return [Finding("invalid-yaml", f"the workflow does not parse: {exc}")]
    findings: list[Finding] = []
    on = workflow.get("on")
    events = set(on) if isinstance(on, (dict, list)) else {on} if isinstance(on, str) else set()
    for event in ("push", "pull_request"):
        if event not in events:
            findings.append(Finding("triggers", f"run the workflow on {event}"))
    if "permissions" not in workflow:
        findings.append(Finding("no-permissions", "declare `permissions:` (e.g. contents: read) at the top"))
    jobs = workflow.get("jobs") or {}
    for name in required_jobs:
        if name not in jobs:
            findings.append(Finding("missing-job", f"add a {name!r} job"))
    for name, job in jobs.items():
        if not isinstance(job, dict) or "runs-on" not in job or not job.get("steps"):
            findings.append(Finding("job-shape", f"job {name!r} needs runs-on and steps"))
            continue
        for step in job["steps"]:
            uses = step.get("uses") if isinstance(step, dict) else None
            if uses and not uses.startswith(("./", "docker://")) and not re.search(r"@[0-9a-f]{40}$", uses):
                # A tag such as @v4 is a movable pointer: whoever controls the action's
                # repository can point it at new code. Only a full commit SHA is fixed.
                findings.append(
                    Finding(
                        "unpinned-action",
                        f"job {name!r}: pin {uses!r} to a full commit SHA (a tag like @v4 can be moved); "
                        "keep the version in a comment",
                    )
                )
            env = step.get("env") if isinstance(step, dict) else None
            for key, value in (env or {}).items():
                if SECRET_NAME.search(str(key)) and "${{" not in str(value):
                    findings.append(
                        Finding(
                            "secret-in-workflow",
                            f"job {name!r}: {key} must come from ${{{{ secrets.{key} }}}}",
                        )
                    )
        if "test" in jobs and name not in ("test", "lint") and not _depends_on(jobs, name, "test"):
            findings.append(Finding("needs-test", f"job {name!r} must need the test job"))
    return findings
