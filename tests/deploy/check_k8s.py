#!/usr/bin/env python3
"""check_k8s.py: checks the Kubernetes manifests in deploy/k8s.

    tests/deploy/check_k8s.py [DIR] [--broker-bin PATH] [--gateway-bin PATH]

DIR defaults to deploy/k8s next to this script. The binaries default to
$CHAT_BROKER_BIN and $CHAT_GATEWAY_BIN: every CHAT_* key a container reads
(envFrom ConfigMaps, env) and every --flag in its command or args must be a
flag of the real binary, as its --help prints them, and the binary must
accept the values (it is run with them and --help, which parses and exits).

Also checked: yamllint (strict, DIR/.yamllint); every file parses and every
object has apiVersion, kind and metadata.name; kustomization.yaml lists every
manifest (files named *.example.yaml excepted: they show shapes, such as the
Secrets, and are never applied); the required kinds exist; selectors match
pod labels; Services, probes and NetworkPolicies name declared container
ports; liveness probes ask /healthz and readiness probes /readyz; the HPA and
the PDB target the gateway Deployment; pods run as a numeric non-root user;
resources are set; every ConfigMap, Secret and volume referenced exists; and
file paths in flags lie inside the container's mounts (Secret keys included).

Prints one line per problem and exits 1, or prints "ok" and exits 0.
kubectl, where installed, also renders the kustomization (not a Debian
package, so it is optional).
"""

import argparse
import os
import posixpath
import re
import shutil
import subprocess
import sys

import yaml

BINARIES = ("chat-broker", "chat-gateway")
REQUIRED_KINDS = ("StatefulSet", "Deployment", "Service", "HorizontalPodAutoscaler",
                  "PodDisruptionBudget", "ConfigMap", "Secret")
WORKLOAD_KINDS = ("StatefulSet", "Deployment")
# Probe -> the path it must ask, and whether every container needs one.
PROBES = {"livenessProbe": ("/healthz", True), "readinessProbe": ("/readyz", True),
          "startupProbe": ("/healthz", False)}
# Paths that exist in the image itself (deploy/Dockerfile), not in a mount.
IMAGE_PATHS = ("/usr/share/chat/web",)
HISTORY_MOUNT = "/data"
RUN_TIMEOUT = 20  # seconds for one `binary --help`


class Report:
    """Collects problems, each naming the file and object it is about."""

    def __init__(self):
        self.problems = []

    def err(self, where, msg):
        self.problems.append(f"{where}: {msg}" if where else msg)


class Obj:
    """One Kubernetes object and the file it came from."""

    def __init__(self, path, doc):
        self.path = path
        self.doc = doc
        self.kind = doc.get("kind")
        self.name = (doc.get("metadata") or {}).get("name")

    def where(self, field=""):
        base = f"{os.path.basename(self.path)}: {self.kind}/{self.name}"
        return f"{base}: {field}" if field else base


def dig(node, *keys):
    """node[k1][k2]..., or None where a level is missing or not a mapping."""
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


# ---------------------------------------------------------------- loading


def manifest_files(d):
    return sorted(f for f in os.listdir(d)
                  if f.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(d, f)))


def load(d, rep):
    """Returns (objects, kustomization doc or None, {file: [objects]})."""
    objs, kust, by_file = [], None, {}
    for f in manifest_files(d):
        path = os.path.join(d, f)
        try:
            with open(path, encoding="utf-8") as fh:
                docs = list(yaml.safe_load_all(fh))
        except yaml.YAMLError as e:
            rep.err(f, f"does not parse as YAML: {e}")
            continue
        by_file[f] = []
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                rep.err(f, f"document {i + 1} is not a mapping")
                continue
            missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
            if doc.get("kind") == "Kustomization":
                kust = doc
                continue
            if not dig(doc, "metadata", "name"):
                missing.append("metadata.name")
            if missing:
                rep.err(f, f"document {i + 1}: missing {', '.join(missing)}")
                continue
            o = Obj(path, doc)
            objs.append(o)
            by_file[f].append(o)
    return objs, kust, by_file


def run_yamllint(d, rep):
    conf = os.path.join(d, ".yamllint")
    if not os.path.isfile(conf):
        rep.err("yamllint", f"no configuration {conf}")
        return
    exe = shutil.which("yamllint")
    if not exe:
        rep.err("yamllint", "not installed (Debian package yamllint; deploy/deps.sh test)")
        return
    r = subprocess.run([exe, "--strict", "-f", "parsable", "-c", conf, d],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        lines = (r.stdout + r.stderr).strip().splitlines() or [f"exit {r.returncode}"]
        for line in lines:
            rep.err("yamllint", line.replace(d.rstrip("/") + "/", ""))


def check_kustomization(d, kust, by_file, objs, rep):
    if kust is None:
        rep.err("kustomization.yaml", "missing: `kubectl apply -k` needs it")
        return
    listed = kust.get("resources") or []
    for r in listed:
        if not os.path.exists(os.path.join(d, r)):
            rep.err("kustomization.yaml", f"resource {r} does not exist")
    for f, fobjs in by_file.items():
        if not fobjs or f.endswith((".example.yaml", ".example.yml")):
            continue
        if f not in listed:
            rep.err("kustomization.yaml",
                    f"{f} is not listed in resources (or name it *.example.yaml)")
    for f in listed:
        if any(o.kind == "Secret" for o in by_file.get(f, [])):
            rep.err(f, "holds a Secret and is applied by kustomization.yaml: "
                       "secrets do not belong in the repository")
    names = {i.get("name") for i in kust.get("images") or [] if isinstance(i, dict)}
    for o in objs:
        for c in containers(o):
            image = str(c.get("image") or "")
            base = image.rsplit("@", 1)[0]
            if ":" in base.rsplit("/", 1)[-1]:
                base = base.rsplit(":", 1)[0]
            if image and base not in names:
                rep.err(o.where(f"container {c.get('name')}"),
                        f"image {image} is not set by kustomization.yaml images:")
    kubectl = shutil.which("kubectl")
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", d], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            rep.err("kustomization.yaml", f"`kubectl kustomize` fails: {r.stderr.strip()}")


# ---------------------------------------------------------------- helpers


def pod_spec(o):
    return dig(o.doc, "spec", "template", "spec")


def pod_labels(o):
    return dig(o.doc, "spec", "template", "metadata", "labels") or {}


def containers(o):
    if o.kind not in WORKLOAD_KINDS:
        return []
    spec = pod_spec(o) or {}
    return [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            if isinstance(c, dict)]


def binary_of(c):
    cmd = c.get("command") or []
    return posixpath.basename(str(cmd[0])) if cmd else None


def label_selector(sel, where, rep):
    """A LabelSelector as a dict of labels (matchExpressions unsupported)."""
    if not isinstance(sel, dict):
        rep.err(where, "selector missing")
        return None
    if sel.get("matchExpressions"):
        rep.err(where, "matchExpressions is not supported by this checker; use matchLabels")
    ml = sel.get("matchLabels")
    if not ml:
        rep.err(where, "selector.matchLabels missing or empty")
        return None
    return ml


def selects(sel, labels):
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


def selected_workloads(sel, workloads):
    return [w for w in workloads if selects(sel, pod_labels(w))]


def port_declared(port, ctrs):
    """Whether `port` (a number or a port name) is a containerPort of ctrs."""
    for c in ctrs:
        for p in c.get("ports") or []:
            if port == p.get("containerPort") or (isinstance(port, str) and port == p.get("name")):
                return True
    return False


def is_under(path, mount):
    path, mount = posixpath.normpath(path), posixpath.normpath(mount)
    return path == mount or path.startswith(mount.rstrip("/") + "/")


# ---------------------------------------------------------------- binaries


class Binary:
    """A chat binary's flags and their environment variables, from --help."""

    def __init__(self, name, path, rep):
        self.name, self.path = name, path
        self.flags, self.envs = set(), set()
        env_name = name.replace("chat-", "CHAT_").upper() + "_BIN"
        if not path:
            rep.err(name, f"binary not given: pass --{name.split('-')[1]}-bin PATH or set "
                          f"{env_name}")
            self.path = None
            return
        if not os.access(path, os.X_OK):
            rep.err(name, f"{path} is not an executable file")
            self.path = None
            return
        r = self.run(["--help"], {})
        if r is None or r.returncode != 0:
            rep.err(name, f"`{path} --help` failed: {r.stderr.strip() if r else 'timeout'}")
            self.path = None
            return
        for line in r.stdout.splitlines():
            m = re.match(r"\s+--([a-z0-9][a-z0-9-]*)", line)
            if m:
                self.flags.add(m.group(1))
            self.envs.update(re.findall(r"\benv (CHAT_[A-Z0-9_]+)", line))
        if not self.flags:
            rep.err(name, f"`{path} --help` lists no flags")
            self.path = None

    def run(self, args, env):
        # Our own CHAT_ variables (CHAT_BROKER_BIN, ...) must not reach it.
        base = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
        try:
            return subprocess.run([self.path] + args, env={**base, **env},
                                  capture_output=True, text=True, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None


def flag_env(flag):
    return "CHAT_" + flag.upper().replace("-", "_")


# ---------------------------------------------------------------- workloads


def check_security(o, spec, rep):
    psc = spec.get("securityContext") or {}
    for c in spec.get("containers") or []:
        csc = c.get("securityContext") or {}
        where = o.where(f"container {c.get('name')}: securityContext")
        nonroot = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        if nonroot is not True:
            rep.err(where, "runAsNonRoot: true missing (pod or container)")
        if not isinstance(uid, int) or isinstance(uid, bool) or uid == 0:
            rep.err(where, "runAsUser must be a non-zero number (10001, the image's user "
                           "`chat`): runAsNonRoot cannot verify a user given by name")
        if csc.get("allowPrivilegeEscalation") is not False:
            rep.err(where, "allowPrivilegeEscalation: false missing")


def check_resources(o, c, rep):
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if dig(res, part, r) is None:
                rep.err(o.where(f"container {c.get('name')}"), f"resources.{part}.{r} missing")


def check_probes(o, c, rep):
    for probe, (path, required) in PROBES.items():
        where = o.where(f"container {c.get('name')}: {probe}")
        p = c.get(probe)
        if p is None:
            if required:
                rep.err(where, f"missing (httpGet {path})")
            continue
        get = p.get("httpGet") if isinstance(p, dict) else None
        if not isinstance(get, dict):
            rep.err(where, f"must be an httpGet of {path}")
            continue
        if get.get("path") != path:
            rep.err(where, f"path is {get.get('path')!r}, must be {path}")
        if "port" not in get:
            rep.err(where, "httpGet.port missing")
        elif not port_declared(get["port"], [c]):
            rep.err(where, f"port {get['port']!r} is not a declared container port")


def check_grace(o, spec, c, rep):
    grace = spec.get("terminationGracePeriodSeconds")
    where = o.where("spec.template.spec.terminationGracePeriodSeconds")
    if not isinstance(grace, int):
        rep.err(where, "missing: set it to cover the graceful drain")
        return
    cmd = dig(c, "lifecycle", "preStop", "exec", "command") or []
    sleep = dig(c, "lifecycle", "preStop", "sleep", "seconds")
    if len(cmd) == 2 and posixpath.basename(str(cmd[0])) == "sleep":
        sleep = int(cmd[1]) if str(cmd[1]).isdigit() else None
    if isinstance(sleep, int) and grace < sleep + 5:
        rep.err(where, f"{grace} s leaves no time to drain after the {sleep} s preStop")


class Volumes:
    """The volumes of one pod and what backs each one."""

    def __init__(self, o, spec, secrets, configmaps, rep):
        self.by_name = {}
        for v in spec.get("volumes") or []:
            self.by_name[v.get("name")] = v
        for t in dig(o.doc, "spec", "volumeClaimTemplates") or []:
            self.by_name[dig(t, "metadata", "name")] = {"pvc": True}
        for v in spec.get("volumes") or []:
            where = o.where(f"volume {v.get('name')}")
            for kind, ref, store in (("secret", "secretName", secrets),
                                     ("configMap", "name", configmaps)):
                src = v.get(kind)
                if not isinstance(src, dict):
                    continue
                name = src.get(ref)
                if name not in store:
                    rep.err(where, f"{kind} {name!r} is defined nowhere in the manifests"
                                   + (" (secrets.example.yaml shows the Secrets)"
                                      if kind == "secret" else ""))
                    continue
                for item in src.get("items") or []:
                    if item.get("key") not in store[name]:
                        rep.err(where, f"key {item.get('key')!r} is not in {kind} {name}")

    def files_at(self, mount, secrets, configmaps):
        """Relative file names a mounted Secret/ConfigMap volume shows, or None."""
        v = self.by_name.get(mount.get("name")) or {}
        for kind, ref, store in (("secret", "secretName", secrets),
                                 ("configMap", "name", configmaps)):
            src = v.get(kind)
            if isinstance(src, dict) and src.get(ref) in store:
                if src.get("items"):
                    return {i.get("path") for i in src["items"]}
                return set(store[src[ref]])
        return None


def container_config(c, configmaps, rep, where):
    """{env var: (value, source)} a container gets from envFrom and env."""
    out = {}
    for ef in c.get("envFrom") or []:
        ref = ef.get("configMapRef") or ef.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in ef else "Secret"
        name = (ref or {}).get("name")
        if kind == "Secret":
            rep.err(where, f"envFrom secretRef {name}: mount secrets as files instead "
                           "(the flags take file paths)")
            continue
        if name not in configmaps:
            rep.err(where, f"envFrom configMapRef {name!r} is defined nowhere in the manifests")
            continue
        for k, v in configmaps[name].items():
            out[k] = (v, f"ConfigMap {name}")
    for e in c.get("env") or []:
        if "value" in e:
            out[e.get("name")] = (e.get("value"), "env")
        elif e.get("name", "").startswith("CHAT_"):
            out[e.get("name")] = (None, "env (valueFrom)")
    return out


def check_flags(o, c, binary, config, rep):
    """Every CHAT_ key and --flag the container gives must be a flag of binary."""
    where = o.where(f"container {c.get('name')}")
    for key, (_, src) in sorted(config.items()):
        if not key.startswith("CHAT_"):
            rep.err(where, f"{key} from {src} is not a CHAT_ flag variable")
        elif key not in binary.envs:
            flag = "--" + key[5:].lower().replace("_", "-")
            rep.err(where, f"{key} from {src} is not a flag of {binary.name} "
                           f"(no {flag} in `{binary.name} --help`)")
    bad = False
    words = [str(w) for w in (c.get("command") or [])[1:] + (c.get("args") or [])]
    for w in words:
        if w.startswith("--"):
            flag = w[2:].split("=", 1)[0]
            if flag not in binary.flags:
                rep.err(where, f"unknown flag --{flag} in command/args "
                               f"(not in `{binary.name} --help`)")
                bad = True
    if bad:  # the run below would only repeat it
        return
    # The binary parses its environment, then the arguments, then stops at
    # --help: a value it would refuse at start fails here. It ignores
    # variables that are not its flags (reported above).
    env = {k: str(v) for k, (v, _) in config.items() if v is not None}
    r = binary.run(words + ["--help"], env)
    if r is None or r.returncode != 0:
        msg = r.stderr.strip() if r else "timeout"
        rep.err(where, f"{binary.name} rejects this configuration: {msg}")


def flag_paths(c, config):
    """(flag variable, value) pairs of the container's flags that are paths."""
    out = [(k, str(v)) for k, (v, _) in config.items() if isinstance(v, str) and v.startswith("/")]
    words = [str(w) for w in (c.get("command") or [])[1:] + (c.get("args") or [])]
    for i, w in enumerate(words):
        if w.startswith("--"):
            flag, eq, val = w[2:].partition("=")
            if not eq and i + 1 < len(words) and not words[i + 1].startswith("--"):
                val = words[i + 1]
            if val.startswith("/"):
                out.append((flag_env(flag), val))
    return out


def check_paths(o, c, config, vols, secrets, configmaps, rep):
    where = o.where(f"container {c.get('name')}")
    mounts = [m for m in c.get("volumeMounts") or [] if isinstance(m, dict)]
    for key, path in flag_paths(c, config):
        inside = [m for m in mounts if is_under(path, m.get("mountPath", ""))]
        if not inside:
            if not any(is_under(path, p) for p in IMAGE_PATHS):
                rep.err(where, f"{key}={path} is not inside any volumeMount")
            continue
        m = max(inside, key=lambda m: len(m.get("mountPath", "")))
        files = vols.files_at(m, secrets, configmaps)
        rel = posixpath.relpath(posixpath.normpath(path), posixpath.normpath(m["mountPath"]))
        if files is not None and rel != "." and rel not in files:
            rep.err(where, f"{key}={path}: {m.get('name')} has no file {rel!r} "
                           f"(it has {', '.join(sorted(files)) or 'none'})")


def check_history(o, c, config, rep):
    where = o.where(f"container {c.get('name')}")
    pvc = {dig(t, "metadata", "name") for t in dig(o.doc, "spec", "volumeClaimTemplates") or []}
    mounts = [m for m in c.get("volumeMounts") or [] if m.get("name") in pvc]
    if not any(m.get("mountPath") == HISTORY_MOUNT for m in mounts):
        rep.err(where, f"no volumeClaimTemplate is mounted at {HISTORY_MOUNT}")
    hist = dict(flag_paths(c, config)).get("CHAT_HISTORY")
    if not hist:
        rep.err(where, "CHAT_HISTORY (--history) is unset or not a path: history would "
                       "live in memory and be lost with the pod")
    elif not any(is_under(hist, m.get("mountPath", "")) for m in mounts):
        rep.err(where, f"CHAT_HISTORY={hist} is not on a volumeClaimTemplate: "
                       "it would be lost with the pod")


def check_workload(o, ctx, rep):
    spec = pod_spec(o)
    if not isinstance(spec, dict):
        rep.err(o.where(), "spec.template.spec missing")
        return
    sel = label_selector(dig(o.doc, "spec", "selector"), o.where("spec.selector"), rep)
    if sel is not None and not selects(sel, pod_labels(o)):
        rep.err(o.where("spec.selector"), f"matchLabels {sel} do not match the pod labels "
                                          f"{pod_labels(o)}")
    if spec.get("enableServiceLinks") is not False:
        rep.err(o.where("spec.template.spec"),
                "enableServiceLinks: false missing: Kubernetes would set CHAT_<SERVICE>_PORT "
                "and other variables in the CHAT_ namespace the binaries read flags from")
    ctrs = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    if not ctrs:
        rep.err(o.where("spec.template.spec.containers"), "missing or empty")
    check_security(o, spec, rep)
    vols = Volumes(o, spec, ctx["secrets"], ctx["configmaps"], rep)
    for c in ctrs:
        where = o.where(f"container {c.get('name')}")
        if not c.get("image"):
            rep.err(where, "image missing")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols.by_name:
                rep.err(where, f"volumeMount {m.get('name')!r} names no volume")
        check_resources(o, c, rep)
        check_probes(o, c, rep)
        check_grace(o, spec, c, rep)
        config = container_config(c, ctx["configmaps"], rep, where)
        for k, (v, src) in config.items():
            if src.startswith("ConfigMap"):
                ctx["used_configmaps"].add(src.split(" ", 1)[1])
        name = binary_of(c)
        if name not in BINARIES:
            rep.err(where, f"command must start with one of {', '.join(BINARIES)} "
                           "(the image's default command only prints help)")
            continue
        ctx["runs"].setdefault(name, []).append(o)
        if ctx["bins"][name].path:
            check_flags(o, c, ctx["bins"][name], config, rep)
        check_paths(o, c, config, vols, ctx["secrets"], ctx["configmaps"], rep)
        if name == "chat-broker" and o.kind == "StatefulSet":
            check_history(o, c, config, rep)


def check_statefulset(o, services, rep):
    if not dig(o.doc, "spec", "volumeClaimTemplates"):
        rep.err(o.where("spec.volumeClaimTemplates"), "missing: the broker's history needs a "
                                                      "PersistentVolumeClaim")
    replicas = dig(o.doc, "spec", "replicas")
    if replicas not in (None, 1):
        rep.err(o.where("spec.replicas"), f"{replicas}: there is exactly one broker")
    svc = dig(o.doc, "spec", "serviceName")
    s = next((s for s in services if s.name == svc), None)
    if s is None:
        rep.err(o.where("spec.serviceName"), f"{svc!r} names no Service in the manifests")
    elif dig(s.doc, "spec", "clusterIP") != "None":
        rep.err(s.where("spec.clusterIP"), "must be None (headless) for the StatefulSet's "
                                           "pod DNS names")
    elif not selects(dig(s.doc, "spec", "selector") or {}, pod_labels(o)):
        rep.err(s.where("spec.selector"), f"does not select the pods of {o.where()}")


# ---------------------------------------------------------------- the rest


def check_services(services, workloads, rep):
    for s in services:
        sel = dig(s.doc, "spec", "selector")
        if not sel:
            rep.err(s.where("spec.selector"), "missing")
            continue
        pods = selected_workloads(sel, workloads)
        if not pods:
            rep.err(s.where("spec.selector"), f"{sel} selects no pods in the manifests")
            continue
        ctrs = [c for w in pods for c in containers(w)]
        ports = dig(s.doc, "spec", "ports") or []
        if not ports:
            rep.err(s.where("spec.ports"), "missing")
        for p in ports:
            target = p.get("targetPort", p.get("port"))
            if not port_declared(target, ctrs):
                rep.err(s.where(f"port {p.get('name') or p.get('port')}"),
                        f"targetPort {target!r} is not a declared port of the selected pods")


def check_hpa(objs, gateways, rep):
    for h in (o for o in objs if o.kind == "HorizontalPodAutoscaler"):
        if h.doc.get("apiVersion") != "autoscaling/v2":
            rep.err(h.where("apiVersion"), f"{h.doc.get('apiVersion')}: use autoscaling/v2")
        ref = dig(h.doc, "spec", "scaleTargetRef") or {}
        target = next((g for g in gateways if g.kind == ref.get("kind")
                       and g.name == ref.get("name")), None)
        if target is None or ref.get("apiVersion") != "apps/v1":
            rep.err(h.where("spec.scaleTargetRef"),
                    f"{ref.get('apiVersion')} {ref.get('kind')}/{ref.get('name')} is not the "
                    f"gateway Deployment (apps/v1 Deployment/"
                    f"{', '.join(g.name for g in gateways) or '?'})")
        lo, hi = dig(h.doc, "spec", "minReplicas"), dig(h.doc, "spec", "maxReplicas")
        if not isinstance(hi, int) or (isinstance(lo, int) and lo > hi):
            rep.err(h.where("spec"), f"minReplicas {lo} / maxReplicas {hi} are not a range")
        metrics = dig(h.doc, "spec", "metrics") or []
        if not any(dig(m, "resource", "name") == "cpu" for m in metrics):
            rep.err(h.where("spec.metrics"), "no Resource cpu metric")
        if target is None:
            continue
        if dig(target.doc, "spec", "replicas") is not None:
            rep.err(target.where("spec.replicas"),
                    "set while an HPA scales this Deployment: every `kubectl apply` would "
                    "reset the count the HPA chose (leave it out; the HPA's minReplicas "
                    "is the floor)")
        for c in containers(target):
            if dig(c, "resources", "requests", "cpu") is None:
                rep.err(target.where(f"container {c.get('name')}"),
                        "no CPU request: the HPA's CPU target is a share of it")


def check_pdb(objs, workloads, gateways, rep):
    for p in (o for o in objs if o.kind == "PodDisruptionBudget"):
        if p.doc.get("apiVersion") != "policy/v1":
            rep.err(p.where("apiVersion"), f"{p.doc.get('apiVersion')}: use policy/v1")
        sel = label_selector(dig(p.doc, "spec", "selector"), p.where("spec.selector"), rep)
        chosen = selected_workloads(sel, workloads) if sel else []
        if sel and (not chosen or any(w not in gateways for w in chosen)):
            rep.err(p.where("spec.selector"),
                    f"{sel} must select the gateway Deployment's pods and only those "
                    f"(selects: {', '.join(w.where() for w in chosen) or 'nothing'})")
        spec = p.doc.get("spec") or {}
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            rep.err(p.where("spec"), "set exactly one of minAvailable and maxUnavailable")


def check_netpol(objs, workloads, rep):
    for n in (o for o in objs if o.kind == "NetworkPolicy"):
        sel = label_selector(dig(n.doc, "spec", "podSelector") or {"matchLabels": {}},
                             n.where("spec.podSelector"), rep)
        pods = selected_workloads(sel, workloads) if sel else []
        if sel and not pods:
            rep.err(n.where("spec.podSelector"), f"{sel} selects no pods in the manifests")
        ctrs = [c for w in pods for c in containers(w)]
        for rule in dig(n.doc, "spec", "ingress") or []:
            for peer in rule.get("from") or []:
                ps = dig(peer, "podSelector", "matchLabels")
                if ps and not selected_workloads(ps, workloads):
                    rep.err(n.where("ingress.from"), f"{ps} selects no pods in the manifests")
            for port in rule.get("ports") or []:
                if "port" in port and not port_declared(port["port"], ctrs):
                    rep.err(n.where("ingress.ports"),
                            f"{port['port']!r} is not a declared port of the selected pods")


def string_maps(objs, rep):
    """ConfigMap data and Secret keys by name; non-string values are problems."""
    configmaps, secrets = {}, {}
    for o in objs:
        if o.kind == "ConfigMap":
            data = o.doc.get("data") or {}
            for k, v in data.items():
                if not isinstance(v, str):
                    rep.err(o.where(f"data.{k}"), f"{v!r} must be a string (quote it)")
            configmaps[o.name] = {k: str(v) for k, v in data.items()}
        elif o.kind == "Secret":
            keys = {}
            for part in ("data", "stringData"):
                for k, v in (o.doc.get(part) or {}).items():
                    if not isinstance(v, str):
                        rep.err(o.where(f"{part}.{k}"), f"{v!r} must be a string")
                    keys[k] = v
            secrets[o.name] = keys
        for field in ("labels", "annotations"):
            for k, v in (dig(o.doc, "metadata", field) or {}).items():
                if not isinstance(v, str):
                    rep.err(o.where(f"metadata.{field}.{k}"), f"{v!r} must be a string")
        tmeta = dig(o.doc, "spec", "template", "metadata") or {}
        for field in ("labels", "annotations"):
            for k, v in (tmeta.get(field) or {}).items():
                if not isinstance(v, str):
                    rep.err(o.where(f"spec.template.metadata.{field}.{k}"),
                            f"{v!r} must be a string (quote it)")
    return configmaps, secrets


def check(d, broker_bin, gateway_bin, lint=True):
    """All checks on folder d; returns the list of problems and a summary."""
    rep = Report()
    if not os.path.isdir(d):
        rep.err(d, "is not a folder")
        return rep.problems, ""
    if lint:
        run_yamllint(d, rep)
    objs, kust, by_file = load(d, rep)
    check_kustomization(d, kust, by_file, objs, rep)
    kinds = {o.kind for o in objs}
    for k in REQUIRED_KINDS:
        if k not in kinds:
            rep.err(os.path.basename(d.rstrip("/")), f"no {k} in the manifests (required)")
    configmaps, secrets = string_maps(objs, rep)
    ctx = {"configmaps": configmaps, "secrets": secrets, "used_configmaps": set(), "runs": {},
           "bins": {"chat-broker": Binary("chat-broker", broker_bin, rep),
                    "chat-gateway": Binary("chat-gateway", gateway_bin, rep)}}
    workloads = [o for o in objs if o.kind in WORKLOAD_KINDS]
    services = [o for o in objs if o.kind == "Service"]
    for w in workloads:
        check_workload(w, ctx, rep)
        if w.kind == "StatefulSet":
            check_statefulset(w, services, rep)
    brokers, gateways = ctx["runs"].get("chat-broker", []), ctx["runs"].get("chat-gateway", [])
    if not any(w.kind == "StatefulSet" for w in brokers) or len(brokers) != 1:
        rep.err("chat-broker", "must run in exactly one StatefulSet (found: "
                f"{', '.join(w.where() for w in brokers) or 'none'})")
    if not gateways or any(w.kind != "Deployment" for w in gateways):
        rep.err("chat-gateway", "must run in a Deployment (found: "
                f"{', '.join(w.where() for w in gateways) or 'none'})")
    gateways = [w for w in gateways if w.kind == "Deployment"]
    for name in sorted(set(configmaps) - ctx["used_configmaps"]):
        rep.err(f"ConfigMap/{name}", "is used by no container")
    check_services(services, workloads, rep)
    check_hpa(objs, gateways, rep)
    check_pdb(objs, workloads, gateways, rep)
    check_netpol(objs, workloads, rep)
    summary = f"{len(by_file)} files, {len(objs)} objects"
    return rep.problems, summary


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", default=os.path.join(here, "..", "..", "deploy", "k8s"),
                    help="folder of manifests (default: deploy/k8s)")
    ap.add_argument("--broker-bin", default=os.environ.get("CHAT_BROKER_BIN"),
                    help="chat-broker binary (default: $CHAT_BROKER_BIN)")
    ap.add_argument("--gateway-bin", default=os.environ.get("CHAT_GATEWAY_BIN"),
                    help="chat-gateway binary (default: $CHAT_GATEWAY_BIN)")
    ap.add_argument("--no-yamllint", action="store_true", help="skip yamllint")
    args = ap.parse_args(argv)
    d = os.path.normpath(args.dir)
    problems, summary = check(d, args.broker_bin, args.gateway_bin, not args.no_yamllint)
    for p in problems:
        print(f"check_k8s: {p}")
    if problems:
        print(f"check_k8s: FAILED, {len(problems)} problem(s) in {d}")
        return 1
    print(f"check_k8s: ok, {d}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
