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
    ("networking.k8s.io", "ingresses"), ("events.k8s.io", "events"), ("", "events"),
}
REQUIRED_CLUSTER = ALLOWED_CLUSTER


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
    args = parser.parse_args()
    return {"manifests": manifests, "chart-crds": chart_crds, "rbac": rbac}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
