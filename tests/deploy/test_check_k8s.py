"""The Kubernetes manifests pass check_k8s.py, and check_k8s.py fails, with a
message naming the problem, on copies of them broken one way at a time.

Needs CHAT_BROKER_BIN and CHAT_GATEWAY_BIN (ctest passes them)."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_k8s.py")
MANIFESTS = os.path.normpath(os.path.join(HERE, "..", "..", "deploy", "k8s"))


@pytest.fixture(scope="module")
def bins():
    b = os.environ.get("CHAT_BROKER_BIN"), os.environ.get("CHAT_GATEWAY_BIN")
    if not all(b):
        pytest.fail("set CHAT_BROKER_BIN and CHAT_GATEWAY_BIN to the built binaries")
    return b


def run_checker(d, bins, *extra):
    r = subprocess.run([sys.executable, CHECKER, str(d), "--broker-bin", bins[0],
                        "--gateway-bin", bins[1], *extra],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def copy(tmp_path):
    d = tmp_path / "k8s"
    shutil.copytree(MANIFESTS, d)
    return d


def edit_text(d, name, old, new):
    """Replaces the one occurrence of old in d/name (formatting kept)."""
    path = d / name
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    path.write_text(text.replace(old, new))


def edit_yaml(d, name, kind, fn):
    """Applies fn to the object of this kind in d/name (comments are lost, so
    the checker then runs with --no-yamllint)."""
    path = d / name
    docs = [x for x in yaml.safe_load_all(path.read_text()) if x is not None]
    hits = [x for x in docs if x.get("kind") == kind]
    assert len(hits) == 1, f"{kind} is not once in {name}"
    fn(hits[0])
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def gateway_container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def expect_failure(d, bins, message, *extra):
    rc, out = run_checker(d, bins, *extra)
    assert rc == 1, out
    assert message in out, f"expected {message!r} in:\n{out}"
    assert "FAILED" in out


def test_manifests_pass(bins):
    rc, out = run_checker(MANIFESTS, bins)
    assert rc == 0, out
    assert "check_k8s: ok" in out


def test_missing_binaries_are_named(copy):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    r = subprocess.run([sys.executable, CHECKER, str(copy)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 1
    assert "pass --broker-bin PATH or set CHAT_BROKER_BIN" in r.stdout


# Text edits: yamllint still passes, so the failure is the checker's own.
TEXT_CASES = [
    ("unknown-arg-flag", "gateway.yaml", "command: [chat-gateway]\n",
     "command: [chat-gateway]\n          args: [--no-such-flag]\n",
     "unknown flag --no-such-flag in command/args (not in `chat-gateway --help`)"),
    ("unknown-configmap-key", "gateway.yaml", "  CHAT_LOG_LEVEL: info\n",
     "  CHAT_LOG_LEVEL: info\n  CHAT_NO_SUCH_FLAG: \"1\"\n",
     "CHAT_NO_SUCH_FLAG from ConfigMap chat-gateway-config is not a flag of chat-gateway"),
    ("broker-flag-on-gateway", "gateway.yaml", "  CHAT_LOG_LEVEL: info\n",
     "  CHAT_LOG_LEVEL: info\n  CHAT_RING: \"10\"\n",
     "CHAT_RING from ConfigMap chat-gateway-config is not a flag of chat-gateway"),
    ("bad-value", "gateway.yaml", "CHAT_PORT: \"8080\"", "CHAT_PORT: \"eighty\"",
     "chat-gateway rejects this configuration"),
    ("number-not-string", "gateway.yaml", "CHAT_PORT: \"8080\"", "CHAT_PORT: 8080",
     "data.CHAT_PORT: 8080 must be a string (quote it)"),
    ("probe-path", "gateway.yaml", "path: /readyz", "path: /ready",
     "readinessProbe: path is '/ready', must be /readyz"),
    ("probe-port", "broker.yaml", "path: /readyz\n              port: http",
     "path: /readyz\n              port: 9999",
     "readinessProbe: port 9999 is not a declared container port"),
    ("root", "gateway.yaml", "runAsUser: 10001", "runAsUser: 0",
     "runAsUser must be a non-zero number"),
    ("history-off-volume", "broker.yaml", "CHAT_HISTORY: /data/history.db",
     "CHAT_HISTORY: /tmp/history.db", "CHAT_HISTORY=/tmp/history.db is not on a "
                                      "volumeClaimTemplate"),
    ("secret-key-missing", "gateway.yaml", "/etc/chat/secrets/auth-secret",
     "/etc/chat/secrets/jwt", "secrets has no file 'jwt'"),
    ("path-not-mounted", "gateway.yaml", "/etc/chat/secrets/auth-secret",
     "/etc/elsewhere/auth-secret", "CHAT_AUTH_SECRET_FILE=/etc/elsewhere/auth-secret is not "
                                   "inside any volumeMount"),
    ("configmap-missing", "gateway.yaml", "name: chat-gateway-config\n          ports",
     "name: chat-gateway-conf\n          ports",
     "envFrom configMapRef 'chat-gateway-conf' is defined nowhere"),
    ("service-selector", "gateway.yaml",
     "type: ClusterIP\n  selector:\n    app.kubernetes.io/name: chat\n"
     "    app.kubernetes.io/component: gateway",
     "type: ClusterIP\n  selector:\n    app.kubernetes.io/name: chat\n"
     "    app.kubernetes.io/component: gatewy",
     "selects no pods in the manifests"),
    ("service-links", "gateway.yaml", "enableServiceLinks: false", "enableServiceLinks: true",
     "enableServiceLinks: false missing"),
    ("hpa-target", "gateway.yaml", "kind: Deployment\n    name: chat-gateway",
     "kind: Deployment\n    name: chat-gw", "is not the gateway Deployment"),
    ("pdb-on-broker", "gateway.yaml",
     "maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: chat\n"
     "      app.kubernetes.io/component: gateway",
     "maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: chat\n"
     "      app.kubernetes.io/component: broker",
     "must select the gateway Deployment's pods and only those"),
    ("secret-volume", "broker.yaml", "secretName: chat-curve-clients",
     "secretName: chat-curve-clientz", "secret 'chat-curve-clientz' is defined nowhere"),
    ("lint", "gateway.yaml", "CHAT_LOG_LEVEL: info\n", "CHAT_LOG_LEVEL: info   \n",
     "trailing-spaces"),
    ("parse", "broker.yaml", "  CHAT_LOG_LEVEL: info\n", "  CHAT_LOG_LEVEL: [info\n",
     "broker.yaml: does not parse as YAML"),
]


@pytest.mark.parametrize("name,file,old,new,message", TEXT_CASES,
                         ids=[c[0] for c in TEXT_CASES])
def test_text_mutation_fails(bins, copy, name, file, old, new, message):
    edit_text(copy, file, old, new)
    expect_failure(copy, bins, message)


def drop(key):
    def fn(obj):
        parent, _, leaf = key.rpartition(".")
        node = obj
        for k in parent.split(".") if parent else []:
            node = node[k]
        del node[leaf]
    return fn


def set_replicas(dep):
    dep["spec"]["replicas"] = 3


def drop_readiness(dep):
    del gateway_container(dep)["readinessProbe"]


def drop_cpu_request(dep):
    del gateway_container(dep)["resources"]["requests"]["cpu"]


def pod_label(dep):
    dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "gw"


YAML_CASES = [
    ("no-volume-claim", "broker.yaml", "StatefulSet", drop("spec.volumeClaimTemplates"),
     "spec.volumeClaimTemplates: missing"),
    ("no-readiness", "gateway.yaml", "Deployment", drop_readiness,
     "container gateway: readinessProbe: missing (httpGet /readyz)"),
    ("no-grace", "gateway.yaml", "Deployment",
     drop("spec.template.spec.terminationGracePeriodSeconds"),
     "terminationGracePeriodSeconds: missing"),
    ("no-nonroot", "broker.yaml", "StatefulSet",
     drop("spec.template.spec.securityContext.runAsNonRoot"), "runAsNonRoot: true missing"),
    ("replicas-under-hpa", "gateway.yaml", "Deployment", set_replicas,
     "set while an HPA scales this Deployment"),
    ("no-cpu-request", "gateway.yaml", "Deployment", drop_cpu_request,
     "resources.requests.cpu missing"),
    ("selector-vs-labels", "gateway.yaml", "Deployment", pod_label,
     "do not match the pod labels"),
    ("no-hpa-metric", "gateway.yaml", "HorizontalPodAutoscaler", drop("spec.metrics"),
     "no Resource cpu metric"),
    ("pdb-both", "gateway.yaml", "PodDisruptionBudget",
     lambda p: p["spec"].update(minAvailable=2),
     "set exactly one of minAvailable and maxUnavailable"),
    ("broker-not-headless", "broker.yaml", "Service", drop("spec.clusterIP"),
     "must be None (headless)"),
]


@pytest.mark.parametrize("name,file,kind,fn,message", YAML_CASES,
                         ids=[c[0] for c in YAML_CASES])
def test_yaml_mutation_fails(bins, copy, name, file, kind, fn, message):
    edit_yaml(copy, file, kind, fn)
    expect_failure(copy, bins, message, "--no-yamllint")


def test_required_kind_missing(bins, copy):
    path = copy / "gateway.yaml"
    docs = [x for x in yaml.safe_load_all(path.read_text()) if x is not None]
    path.write_text(yaml.safe_dump_all([x for x in docs
                                        if x["kind"] != "HorizontalPodAutoscaler"]))
    expect_failure(copy, bins, "no HorizontalPodAutoscaler in the manifests (required)",
                   "--no-yamllint")


def test_unlisted_manifest(bins, copy):
    shutil.copy(copy / "networkpolicy.yaml", copy / "extra.yaml")
    expect_failure(copy, bins, "extra.yaml is not listed in resources")


def test_applied_secret(bins, copy):
    edit_text(copy, "kustomization.yaml", "  - networkpolicy.yaml\n",
              "  - networkpolicy.yaml\n  - secrets.example.yaml\n")
    expect_failure(copy, bins, "holds a Secret and is applied by kustomization.yaml")
