#!/usr/bin/env python3
"""Offline validation of Kubernetes manifests for e2e/k8s-static/check.sh.

  validate.py manifests [--crds DIR] [--skip-group G]... FILE...   (FILE may be "-" for stdin)
      Core kinds: kubernetes-validate's strict schemas for Kubernetes 1.34.
      manofwar.io kinds: the generated CRDs' OpenAPI schemas, strictly (unknown fields, types,
        enums, bounds, required). Their CEL rules are evaluated by the Rust test
        crds/tests/examples.rs, not here.
      Groups given with --skip-group (Flux, Argo CD, kustomize, Prometheus Operator) have no
        offline schema: such documents are listed as skipped, with that reason.
      Anything else fails.
  validate.py chart-crds --crds DIR [--keep | --no-keep | --absent] FILE
      The CRDs in a rendered chart are exactly the generated ones (labels and annotations
      aside), with helm.sh/resource-policy=keep iff --keep; none with --absent.
  validate.py rbac FILE
      The rendered RBAC is least privilege: no wildcards, no pods/nodes/CRDs, and cluster-wide
      only what the operator manages; Leases only through a namespaced Role.
  validate.py selectors FILE
      No Deployment's selector matches another Deployment's pods (the operator's must not take
      the hub's), and every Service selects the pods of exactly one Deployment.
  validate.py hub [--absent] FILE
      The front door is wired: one hub Deployment running the operator's data-plane image, the
      operator's MANOFWAR_HUB_DIRECTORY is the Secret the hub mounts (optional) for its
      --libraries file, its MANOFWAR_HUB_URL is the hub's Service, the initial-admin Secret it
      reads exists (or is the user's), and the Ingress / HTTPRoute, when rendered, lead to the
      hub's Service. With --absent: no hub objects, no MANOFWAR_HUB_DIRECTORY or _URL.
"""

import argparse
import glob
import os
import sys

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.34.0"
OUR_GROUP = "manofwar.io"


def load(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    return [d for d in yaml.safe_load_all(text) if d]


def group_of(doc):
    api_version = doc.get("apiVersion", "")
    return api_version.split("/")[0] if "/" in api_version else ""


def name_of(doc):
    return "%s/%s" % (doc.get("kind"), (doc.get("metadata") or {}).get("name"))


def to_json_schema(node):
    """An apiextensions v1 structural schema as a strict JSON Schema (what pruning and
    kubectl --validate=strict enforce)."""
    out = {}
    nullable = node.get("nullable", False)
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if nullable else node["type"]
    for key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                "pattern", "required", "exclusiveMinimum", "exclusiveMaximum"):
        if key in node:
            out[key] = node[key]
    if "enum" in node:
        out["enum"] = node["enum"] + ([None] if nullable else [])
    preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
        if not preserve:
            out["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(node["additionalProperties"])
    if "items" in node:
        out["items"] = to_json_schema(node["items"])
    return out


def crd_schemas(crd_dir):
    schemas = {}
    for path in sorted(glob.glob(os.path.join(crd_dir, "*.yaml"))):
        for crd in load(path):
            for version in crd["spec"]["versions"]:
                schema = to_json_schema(version["schema"]["openAPIV3Schema"])
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"const": "%s/%s" % (crd["spec"]["group"], version["name"])}
                props["kind"] = {"const": crd["spec"]["names"]["kind"]}
                props["metadata"] = {"type": "object", "required": ["name"],
                                     "properties": {"name": {"type": "string"}}}
                schema["required"] = sorted(set(schema.get("required", [])) | {"metadata"})
                key = (crd["spec"]["group"], version["name"], crd["spec"]["names"]["kind"])
                schemas[key] = schema
    return schemas


def check_ours(doc, schemas):
    api_version = doc.get("apiVersion", "")
    key = (group_of(doc), api_version.split("/")[-1], doc.get("kind"))
    if key not in schemas:
        return ["no CRD for %s %s" % (api_version, doc.get("kind"))]
    validator = jsonschema.Draft202012Validator(schemas[key])
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(root)", e.message)
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))]


def check_core(doc):
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        return []
    except kubernetes_validate.ValidationError as e:
        return ["%s: %s" % ("/".join(map(str, e.path)) or "(root)", e.message)]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]


def manifests(args):
    schemas = crd_schemas(args.crds) if args.crds else {}
    failures = checked = skipped = 0
    for path in args.files:
        for doc in load(path):
            where = "%s %s" % (path if path != "-" else "<stdin>", name_of(doc))
            group = group_of(doc)
            if group in args.skip_group:
                skipped += 1
                print("SKIP %s: %s has no offline schema" % (where, doc.get("apiVersion")))
                continue
            if group == OUR_GROUP:
                if not schemas:
                    print("FAIL %s: pass --crds to validate manofwar.io kinds" % where)
                    failures += 1
                    continue
                errors, how = check_ours(doc, schemas), "CRD schema"
            else:
                errors, how = check_core(doc), "Kubernetes %s strict" % K8S_VERSION
            checked += 1
            if errors:
                failures += 1
                for error in errors:
                    print("FAIL %s: %s" % (where, error))
            else:
                print("ok   %s (%s)" % (where, how))
    print("%d validated, %d skipped, %d failed" % (checked, skipped, failures))
    return 1 if failures or not checked else 0


def strip_meta(crd):
    crd = dict(crd)
    meta = dict(crd["metadata"])
    meta.pop("labels", None)
    meta.pop("annotations", None)
    crd["metadata"] = meta
    return crd


def chart_crds(args):
    rendered = {d["metadata"]["name"]: d for d in load(args.file)
                if d.get("kind") == "CustomResourceDefinition"}
    generated = {}
    for path in sorted(glob.glob(os.path.join(args.crds, "*.yaml"))):
        for crd in load(path):
            generated[crd["metadata"]["name"]] = crd
    problems = []
    if args.mode == "absent":
        problems += ["%s rendered with crds.install=false" % n for n in rendered]
    else:
        if sorted(rendered) != sorted(generated):
            problems.append("rendered %s, generated %s" % (sorted(rendered), sorted(generated)))
        for name, crd in rendered.items():
            if name in generated and strip_meta(crd) != strip_meta(generated[name]):
                problems.append("%s differs from %s" % (name, args.crds))
            annotations = crd["metadata"].get("annotations") or {}
            kept = annotations.get("helm.sh/resource-policy") == "keep"
            if kept != (args.mode == "keep"):
                problems.append("%s: resource-policy keep is %s, want %s"
                                % (name, kept, args.mode == "keep"))
            labels = crd["metadata"].get("labels") or {}
            if labels.get("app.kubernetes.io/managed-by") != "Helm":
                problems.append("%s lacks the chart's labels" % name)
    for problem in problems:
        print("FAIL chart CRDs: " + problem)
    if not problems:
        print("ok   chart CRDs (%s): %s" % (args.mode, ", ".join(sorted(rendered)) or "none"))
    return 1 if problems else 0


ALLOWED_CLUSTER = {
    ("manofwar.io", "medialibraries"), ("manofwar.io", "transcodeprofiles"),
    ("manofwar.io", "peergroups"), ("manofwar.io", "medialibraries/status"),
    ("manofwar.io", "transcodeprofiles/status"), ("manofwar.io", "peergroups/status"),
    ("manofwar.io", "medialibraries/finalizers"), ("manofwar.io", "transcodeprofiles/finalizers"),
    ("manofwar.io", "peergroups/finalizers"), ("apps", "deployments"), ("batch", "jobs"),
    ("", "services"), ("", "persistentvolumeclaims"), ("", "secrets"), ("", "configmaps"),
    ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "networkpolicies"),
    ("events.k8s.io", "events"), ("", "events"),
    # Read only: a library's status says why its pods cannot be scheduled.
    ("", "pods"),
}
REQUIRED_CLUSTER = ALLOWED_CLUSTER
READ_ONLY = {("", "pods")}


def rbac(args):
    docs = load(args.file)
    problems, granted = [], set()
    for doc in docs:
        if doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        for rule in doc.get("rules", []):
            verbs = rule.get("verbs", [])
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    pair = (group, resource)
                    if "*" in (group, resource) or "*" in verbs:
                        problems.append("%s grants a wildcard: %s" % (name_of(doc), rule))
                    elif doc["kind"] == "ClusterRole":
                        granted.add(pair)
                        if pair not in ALLOWED_CLUSTER:
                            problems.append("%s grants %s/%s" % (name_of(doc), group, resource))
                        if pair in READ_ONLY and set(verbs) - {"get", "list", "watch"}:
                            problems.append("%s may change %s: it only reads them" % (name_of(doc), resource))
                        if resource.endswith("/finalizers") and set(verbs) != {"update"}:
                            problems.append("%s: finalizers need only update" % name_of(doc))
                        if resource.endswith("/status") and {"create", "delete"} & set(verbs):
                            problems.append("%s: status needs no create/delete" % name_of(doc))
                    elif pair != ("coordination.k8s.io", "leases"):
                        problems.append("%s grants %s/%s" % (name_of(doc), group, resource))
    missing = REQUIRED_CLUSTER - granted
    if missing:
        problems.append("ClusterRole lacks %s" % sorted(missing))
    if not any(d.get("kind") == "Role" for d in docs):
        problems.append("no Role for the leader-election Lease")
    for problem in problems:
        print("FAIL rbac: " + problem)
    if not problems:
        print("ok   rbac: least privilege (%d cluster-wide grants, Lease via Role)" % len(granted))
    return 1 if problems else 0


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def pod_labels(deployment):
    return deployment["spec"]["template"]["metadata"].get("labels") or {}


def selectors(args):
    docs = load(args.file)
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    problems = []
    for d in deployments:
        selector = d["spec"]["selector"]["matchLabels"]
        if not matches(selector, pod_labels(d)):
            problems.append("%s does not select its own pods" % name_of(d))
        for other in deployments:
            if other is not d and matches(selector, pod_labels(other)):
                problems.append("%s selects the pods of %s" % (name_of(d), name_of(other)))
    for svc in (d for d in docs if d.get("kind") == "Service"):
        selector = svc["spec"]["selector"]
        chosen = [name_of(d) for d in deployments if matches(selector, pod_labels(d))]
        if len(chosen) != 1:
            problems.append("%s selects the pods of %s" % (name_of(svc), chosen or "nothing"))
    for problem in problems:
        print("FAIL selectors: " + problem)
    if not problems:
        print("ok   selectors: %d Deployments, each Service selects one" % len(deployments))
    return 1 if problems else 0


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def component(doc):
    return (doc["metadata"].get("labels") or {}).get("app.kubernetes.io/component")


def hub(args):
    docs = load(args.file)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    operator = next(d for d in by_kind.get("Deployment", []) if component(d) == "operator")
    operator_env = env_of(operator["spec"]["template"]["spec"]["containers"][0])
    hubs = [d for d in docs if component(d) == "hub"]
    problems = []
    if args.absent:
        problems += ["%s rendered with hub.enabled=false" % name_of(d) for d in hubs]
        for var in ("MANOFWAR_HUB_DIRECTORY", "MANOFWAR_HUB_URL"):
            if var in operator_env:
                problems.append("the operator has %s with hub.enabled=false" % var)
    else:
        problems += check_hub(by_kind, hubs, operator_env)
    for problem in problems:
        print("FAIL hub: " + problem)
    if not problems:
        print("ok   hub: %s" % ("absent" if args.absent else ", ".join(name_of(d) for d in hubs)))
    return 1 if problems else 0


def check_hub(by_kind, hubs, operator_env):
    deployments = [d for d in hubs if d["kind"] == "Deployment"]
    if len(deployments) != 1:
        return ["want one hub Deployment, got %d" % len(deployments)]
    deployment = deployments[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = env_of(container)
    problems = []
    directory = (operator_env.get("MANOFWAR_HUB_DIRECTORY") or {}).get("value")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    libraries = (volumes.get("libraries") or {}).get("secret") or {}
    if not directory or libraries.get("secretName") != directory:
        problems.append("the operator writes %s, the hub mounts %s"
                        % (directory, libraries.get("secretName")))
    if libraries.get("optional") is not True:
        problems.append("the directory Secret must be optional (the operator writes it later)")
    args = container.get("args", [])
    mount = (mounts.get("libraries") or {}).get("mountPath")
    file = args[args.index("--libraries") + 1] if "--libraries" in args else None
    if file != "%s/libraries.json" % mount:
        problems.append("--libraries %s is not in the directory mounted at %s" % (file, mount))
    if container["image"] != operator_env["MANOFWAR_IMAGE"]["value"]:
        problems.append("the hub runs %s, the operator's pods %s"
                        % (container["image"], operator_env["MANOFWAR_IMAGE"]["value"]))
    spec = deployment["spec"]
    if spec.get("replicas") != 1 or spec["strategy"]["type"] != "Recreate":
        problems.append("the hub must be one replica, recreated")
    secrets = {d["metadata"]["name"] for d in by_kind.get("Secret", [])}
    for var in ("MANOFWAR_INITIAL_ADMIN", "MANOFWAR_INITIAL_ADMIN_PASSWORD"):
        ref = ((env.get(var) or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if not ref:
            problems.append("%s is not from a Secret" % var)
        elif ref["name"].endswith("-initial-admin") and ref["name"] not in secrets:
            problems.append("%s: the Secret %s is not rendered" % (var, ref["name"]))
    for secret in (by_kind.get("Secret") or []):
        if secret["metadata"]["name"].endswith("-initial-admin"):
            annotations = secret["metadata"].get("annotations") or {}
            if annotations.get("helm.sh/resource-policy") != "keep":
                problems.append("%s lacks helm.sh/resource-policy=keep" % name_of(secret))
            if set(secret.get("data", {})) != {"username", "password"}:
                problems.append("%s keys: %s" % (name_of(secret), sorted(secret.get("data", {}))))
    # The hub's Service for users (its metrics Service, with the ServiceMonitor, is another).
    services = [s for s in by_kind.get("Service", [])
                if matches(s["spec"]["selector"], pod_labels(deployment))
                and not s["metadata"]["name"].endswith("-metrics")]
    if len(services) != 1:
        return problems + ["want one Service for the hub, got %d" % len(services)]
    service = services[0]
    port = service["spec"]["ports"][0]
    url = (operator_env.get("MANOFWAR_HUB_URL") or {}).get("value")
    want = "http://%s.%s.svc:%s" % (service["metadata"]["name"],
                                    service["metadata"].get("namespace"), port["port"])
    if url != want:
        problems.append("the operator's MANOFWAR_HUB_URL is %s, the hub's Service %s" % (url, want))
    for ingress in (d for d in hubs if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                to = (backend["name"], backend["port"].get("name"))
                if to != (service["metadata"]["name"], port["name"]):
                    problems.append("%s leads to %s" % (name_of(ingress), backend))
    for route in (d for d in hubs if d["kind"] == "HTTPRoute"):
        if not route["spec"].get("parentRefs"):
            problems.append("%s has no parentRefs" % name_of(route))
        for rule in route["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                if ref["name"] != service["metadata"]["name"] or ref["port"] != port["port"]:
                    problems.append("%s leads to %s" % (name_of(route), ref))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifests")
    m.add_argument("--crds")
    m.add_argument("--skip-group", action="append", default=[])
    m.add_argument("files", nargs="+")
    c = sub.add_parser("chart-crds")
    c.add_argument("--crds", required=True)
    mode = c.add_mutually_exclusive_group(required=True)
    mode.add_argument("--keep", dest="mode", action="store_const", const="keep")
    mode.add_argument("--no-keep", dest="mode", action="store_const", const="no-keep")
    mode.add_argument("--absent", dest="mode", action="store_const", const="absent")
    c.add_argument("file")
    r = sub.add_parser("rbac")
    r.add_argument("file")
    s = sub.add_parser("selectors")
    s.add_argument("file")
    h = sub.add_parser("hub")
    h.add_argument("--absent", action="store_true")
    h.add_argument("file")
    args = parser.parse_args()
    commands = {"manifests": manifests, "chart-crds": chart_crds, "rbac": rbac,
                "selectors": selectors, "hub": hub}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
