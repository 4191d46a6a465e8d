#!/usr/bin/env python3
"""Load for the operator benchmark (e2e/bench/operator.sh), against a real API server.

1. latency: N MediaLibraries created one at a time; for each, the time from the create request to
   the watch delivering its Deployment (the operator's work plus two API round trips).
   Baseline in the same run: N Deployments created one at a time, and the time until the watch
   delivers the ReplicaSet kube-controller-manager's Deployment controller makes for each.
2. burst: M MediaLibraries created back to back; the time from the first request until every one
   has all its children (Deployment, Service, worker-token Secret, profiles ConfigMap, PVC).
3. the operator's RSS (VmRSS) and peak (VmHWM) after the burst has settled.
Prints one JSON object.
"""

import argparse
import concurrent.futures
import http.client
import json
import ssl
import statistics
import threading
import time
import urllib.parse
import urllib.request

LIBRARY = "/apis/manofwar.io/v1alpha1/namespaces/{ns}/medialibraries"


class Api:
    """Requests on one kept-alive connection per thread (no TLS handshake in the timings)."""

    def __init__(self, server, token, ca):
        self.server, self.token = server.rstrip("/"), token
        self.tls = ssl.create_default_context(cafile=ca)
        self.local = threading.local()

    def headers(self):
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def stream(self, path):
        req = urllib.request.Request(self.server + path, headers=self.headers())
        return urllib.request.urlopen(req, context=self.tls, timeout=3600)

    def call(self, method, path, body=None):
        if not hasattr(self.local, "conn"):
            host = urllib.parse.urlsplit(self.server).netloc
            self.local.conn = http.client.HTTPSConnection(host, context=self.tls, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        self.local.conn.request(method, path, body=data, headers=self.headers())
        response = self.local.conn.getresponse()
        answer = json.load(response)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {answer.get('message')}")
        return answer


class Seen:
    """Watches a collection and records when each object (by a key of it) first arrives."""

    def __init__(self, api, path, key):
        self.times, self.cond = {}, threading.Condition()
        threading.Thread(target=self.watch, args=(api, path, key), daemon=True).start()

    def watch(self, api, path, key):
        version = api.call("GET", path)["metadata"]["resourceVersion"]
        with api.stream(f"{path}?watch=1&resourceVersion={version}") as r:
            for line in r:
                event = json.loads(line)
                if event["type"] != "ADDED":
                    continue
                name = key(event["object"])
                with self.cond:
                    self.times.setdefault(name, time.monotonic())
                    self.cond.notify_all()

    def wait(self, name, timeout=60):
        with self.cond:
            if not self.cond.wait_for(lambda: name in self.times, timeout):
                raise TimeoutError(f"{name} not seen in {timeout} s")
            return self.times[name]


def library(name):
    return {"apiVersion": "manofwar.io/v1alpha1", "kind": "MediaLibrary", "metadata": {"name": name},
            "spec": {"media": {"hostPath": {"path": f"/srv/media/{name}"}}, "profiles": ["standard"]}}


def deployment(name):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:0"}]}}}}


def timed_creates(api, path, make, seen, count, prefix):
    latencies = []
    for i in range(count):
        name = f"{prefix}-{i}"
        t0 = time.monotonic()
        api.call("POST", path, make(name))
        latencies.append((seen.wait(name) - t0) * 1000)
        time.sleep(0.05)
    latencies.sort()
    return {"p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max_ms": latencies[-1], "n": count}


def burst(api, ns, count):
    children = {  # collection -> the child's name for library NAME
        f"/apis/apps/v1/namespaces/{ns}/deployments": lambda n: n,
        f"/api/v1/namespaces/{ns}/services": lambda n: n,
        f"/api/v1/namespaces/{ns}/secrets": lambda n: f"{n}-worker-token",
        f"/api/v1/namespaces/{ns}/configmaps": lambda n: f"{n}-profiles",
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims": lambda n: f"{n}-data",
    }
    watches = {path: Seen(api, path, lambda o: o["metadata"]["name"]) for path in children}
    time.sleep(0.5)  # let the watches start
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # as `kubectl apply` of a folder would
        list(pool.map(lambda i: api.call("POST", LIBRARY.format(ns=ns), library(f"burst-{i}")),
                      range(count)))
    created = time.monotonic() - t0
    done = max(watches[path].wait(child(f"burst-{i}"), timeout=300)
               for path, child in children.items() for i in range(count))
    return {"libraries": count, "all_children_s": done - t0, "creates_s": created}


def rss(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--namespace", default="bench")
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--libraries", type=int, default=200)
    p.add_argument("--operator-pid", type=int, required=True)
    a = p.parse_args()
    api = Api(a.server, open(a.token_file).read().strip(), a.ca)
    ns = a.namespace
    api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    api.call("POST", f"/apis/manofwar.io/v1alpha1/namespaces/{ns}/transcodeprofiles", {
        "apiVersion": "manofwar.io/v1alpha1", "kind": "TranscodeProfile",
        "metadata": {"name": "standard"},
        "spec": {"renditions": [{"name": "720p", "height": 720, "videoBitrateKbps": 3000}]}})
    deployments = Seen(api, f"/apis/apps/v1/namespaces/{ns}/deployments",
                       lambda o: o["metadata"]["name"])
    replicasets = Seen(api, f"/apis/apps/v1/namespaces/{ns}/replicasets",
                       lambda o: o["metadata"]["ownerReferences"][0]["name"])
    time.sleep(0.5)
    result = {
        "operator": timed_creates(api, LIBRARY.format(ns=ns), library, deployments, a.samples, "lat"),
        "baseline": timed_creates(api, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment,
                                  replicasets, a.samples, "base"),
        "burst": burst(api, ns, a.libraries),
    }
    time.sleep(5)  # the status updates that follow
    result["rss_mib"] = rss(a.operator_pid)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
