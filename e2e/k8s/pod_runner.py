#!/usr/bin/env python3
"""A small kubelet for the end-to-end tests: it registers a Node and runs the pods the scheduler
binds to it as local processes of the binaries built in this repository.

What it does, the way a kubelet and its helpers would:
- Node: registers it with capacity, keeps its Lease and Ready condition fresh.
- Pods: each gets its own network namespace (veth on a bridge, an IP from --pod-cidr) and its own
  mount namespace: an overlay of the host's root file system as the container's root, with the
  pod's volumes bound at their mountPaths (emptyDir, hostPath, persistentVolumeClaim, secret,
  configMap, projected service-account token, downwardAPI), /etc/hosts naming every Service, and
  the read-only root, user and group the pod's security context asks for. The container image is
  not pulled: the container's command (or `manofwar`) is looked up in --bin-dir.
- Status: phase, pod IP, conditions, container states, restart counts; readiness from the
  container's httpGet readiness probe; restartPolicy honoured; deletion with the grace period.
- Services: a userspace proxy (what kube-proxy once was) on each ClusterIP, added to `lo`, to the
  ready endpoints in the Service's EndpointSlices; the pods reach it through the bridge.
- Storage: a pending PersistentVolumeClaim gets a hostPath PersistentVolume (a local-path
  provisioner), which the controller manager binds.

Not done: liveness probes, resource limits, image pulls, init containers, ephemeral storage.
Needs root (network namespaces, mounts). Usage:

  pod_runner.py --server URL --token-file F --ca F --bin-dir target/debug --state DIR [--node N]
"""

import argparse
import base64
import datetime
import ipaddress
import json
import os
import random
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BRIDGE = "mow0"
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 10
KUBELET_VERSION = "v1.34.2"


def log(*parts):
    print(time.strftime("%H:%M:%S"), "pod-runner:", *parts, file=sys.stderr, flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sh(*cmd, check=True):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result


class ApiError(Exception):
    def __init__(self, code, text):
        super().__init__(f"HTTP {code}: {text[:300]}")
        self.code = code


class Api:
    def __init__(self, server, token, ca):
        self.server = server.rstrip("/")
        self.token = token
        self.tls = ssl.create_default_context(cafile=ca)

    def call(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.server + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type,
                     "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            if e.code == 404 and method in ("GET", "DELETE"):
                return None
            raise ApiError(e.code, e.read().decode(errors="replace")) from None

    def items(self, path):
        return (self.call("GET", path) or {}).get("items", [])

    def patch(self, path, body):
        return self.call("PATCH", path, body, "application/merge-patch+json")


# ---------------------------------------------------------------------------------------------
# Node


class Node:
    def __init__(self, api, name, ip):
        self.api, self.name, self.ip = api, name, ip
        self.since = now()
        self.last_beat = 0.0

    def register(self):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": {
            "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64"}}}
        try:
            self.api.call("POST", "/api/v1/nodes", node)
        except ApiError as e:
            if e.code != 409:
                raise
        self.beat()

    def beat(self):
        resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        self.api.patch(f"/api/v1/nodes/{self.name}/status", {"status": {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": self.ip},
                          {"type": "Hostname", "address": self.name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "pod runner is posting ready status",
                            "lastHeartbeatTime": now(), "lastTransitionTime": self.since}],
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "manofwar-pod-runner://1", "osImage": "",
                         "kernelVersion": os.uname().release, "machineID": "", "systemUUID": "",
                         "bootID": ""}}})
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": micro_now()}
        if self.api.call("GET", path) is None:
            self.api.call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                          {"metadata": {"name": self.name}, "spec": spec})
        else:
            self.api.patch(path, {"spec": spec})
        self.last_beat = time.monotonic()

    def tick(self):
        if time.monotonic() - self.last_beat >= HEARTBEAT_SECONDS:
            self.beat()


# ---------------------------------------------------------------------------------------------
# Network: a bridge, a namespace and veth per pod, and a userspace Service proxy.


class Network:
    def __init__(self, cidr):
        self.net = ipaddress.ip_network(cidr)
        hosts = list(self.net.hosts())
        self.gateway = str(hosts[0])
        self.free = [str(h) for h in hosts[1:]]
        self.lock = threading.Lock()

    def up(self):
        self.down()
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")

    def down(self):
        for ns in sh("ip", "netns", "list", check=False).stdout.split("\n"):
            if ns.startswith("mow-"):
                sh("ip", "netns", "del", ns.split()[0], check=False)
        sh("ip", "link", "del", BRIDGE, check=False)

    def attach(self, key):
        """A network namespace for a pod; returns (namespace, ip)."""
        with self.lock:
            ip = self.free.pop(0)
        index = ip.split(".")[-1]
        ns, veth = f"mow-{key}", f"mowv{index}"
        sh("ip", "link", "del", veth, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth, "master", BRIDGE, "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/{self.net.prefixlen}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", self.gateway)
        return ns, ip

    def detach(self, ns, ip):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", f"mowv{ip.split('.')[-1]}", check=False)
        with self.lock:
            self.free.append(ip)


class ServiceProxy:
    """ClusterIP:port -> one of the ready endpoints, for TCP."""

    def __init__(self, api_server):
        host, port = urllib.parse.urlsplit(api_server).netloc.rsplit(":", 1)
        self.api_server = (host, int(port))
        self.routes = {}  # (ip, port) -> [(address, port)]
        self.listeners = {}  # (ip, port) -> socket
        self.addresses = set()
        self.lock = threading.Lock()

    def sync(self, services, slices):
        # The API server advertises 127.0.0.1, which Endpoints may not hold: route the
        # `kubernetes` Service to it directly.
        ready = {("default", "kubernetes", "https"): [self.api_server]}
        for s in slices:
            service = s["metadata"].get("labels", {}).get("kubernetes.io/service-name")
            key = (s["metadata"]["namespace"], service)
            for e in s.get("endpoints") or []:
                if e.get("conditions", {}).get("ready") is False:
                    continue
                for p in s.get("ports") or []:
                    for address in e.get("addresses", []):
                        ready.setdefault(key + (p.get("name", ""),), []).append((address, p["port"]))
        routes = {}
        for svc in services:
            ip = svc["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
            for p in svc["spec"].get("ports", []):
                if p.get("protocol", "TCP") == "TCP":
                    routes[(ip, p["port"])] = ready.get(key + (p.get("name", ""),), [])
        with self.lock:
            self.routes = routes
        for ip in {ip for ip, _ in routes} - self.addresses:
            sh("ip", "addr", "add", f"{ip}/32", "dev", "lo", check=False)
            self.addresses.add(ip)
        for key in set(routes) - set(self.listeners):
            self.listen(key)
        for key in set(self.listeners) - set(routes):
            self.listeners.pop(key).close()
        for ip in self.addresses - {ip for ip, _ in routes}:
            sh("ip", "addr", "del", f"{ip}/32", "dev", "lo", check=False)
            self.addresses.discard(ip)

    def listen(self, key):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(key)
        except OSError as e:
            log(f"cannot proxy {key[0]}:{key[1]}: {e}")
            return
        server.listen(64)
        self.listeners[key] = server
        threading.Thread(target=self.accept, args=(server, key), daemon=True).start()

    def accept(self, server, key):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with self.lock:
                endpoints = list(self.routes.get(key, []))
            if not endpoints:
                client.close()
                continue
            try:
                upstream = socket.create_connection(random.choice(endpoints), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def close(self):
        for server in self.listeners.values():
            server.close()
        for ip in self.addresses:
            sh("ip", "addr", "del", f"{ip}/32", "dev", "lo", check=False)

    def hosts(self, services):
        lines = []
        for svc in services:
            ip = svc["spec"].get("clusterIP")
            if ip and ip != "None":
                name, ns = svc["metadata"]["name"], svc["metadata"]["namespace"]
                lines.append(f"{ip} {name}.{ns}.svc.cluster.local {name}.{ns}.svc {name}.{ns}")
        return lines


def pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Pods


class Container:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.process = None
        self.started_at = None
        self.exit = None  # (code, finished_at)
        self.restarts = 0
        self.next_start = 0.0
        self.ready = False
        self.next_probe = 0.0

    def status(self, image):
        if self.process is not None and self.exit is None:
            state = {"running": {"startedAt": self.started_at}}
        elif self.exit is not None:
            code, finished = self.exit
            state = {"terminated": {"exitCode": code, "startedAt": self.started_at,
                                    "finishedAt": finished,
                                    "reason": "Completed" if code == 0 else "Error"}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        return {"name": self.name, "ready": self.ready, "restartCount": self.restarts,
                "image": image, "imageID": "", "containerID": f"runner://{self.name}",
                "started": "running" in state, "state": state}


class Pod:
    def __init__(self, runner, obj):
        self.runner = runner
        meta = obj["metadata"]
        self.uid, self.ns, self.name = meta["uid"], meta["namespace"], meta["name"]
        self.obj = obj
        self.spec = obj["spec"]
        self.dir = os.path.join(runner.state, "pods", self.uid)
        self.containers = [Container(c) for c in self.spec["containers"]]
        self.netns = self.ip = None
        self.started = now()
        self.sent = None
        self.stopped = False
        self.synced = []  # (volume, folder) of secrets and configMaps
        self.next_sync = time.monotonic() + 5

    # -- start ---------------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.netns, self.ip = self.runner.network.attach(self.uid[:8])
        self.write_hosts()
        self.volumes = {v["name"]: self.volume(v) for v in self.spec.get("volumes", [])}
        log(f"pod {self.ns}/{self.name} at {self.ip}")

    def volume(self, v):
        name = v["name"]
        scratch = os.path.join(self.dir, "volumes", name)
        if "emptyDir" in v:
            os.makedirs(scratch, exist_ok=True)
            self.own(scratch)
            return scratch
        if "hostPath" in v:
            path = v["hostPath"]["path"]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(path, exist_ok=True)
            return path
        if "persistentVolumeClaim" in v:
            claim = v["persistentVolumeClaim"]["claimName"]
            pvc = self.runner.api.call("GET", f"/api/v1/namespaces/{self.ns}/persistentvolumeclaims/{claim}")
            pv = self.runner.api.call("GET", f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
            path = (pv["spec"].get("hostPath") or pv["spec"].get("local"))["path"]
            os.makedirs(path, exist_ok=True)
            self.own(path)
            return path
        if "nfs" in v:  # no NFS here: a folder stands for the export
            path = os.path.join(self.runner.state, "nfs", v["nfs"]["server"], v["nfs"]["path"].lstrip("/"))
            os.makedirs(path, exist_ok=True)
            return path
        if "secret" in v or "configMap" in v:  # kept up to date, as a kubelet does
            self.synced.append((v, scratch))
        write_files(scratch, self.files(v))
        return scratch

    def files(self, v):
        """A secret, configMap, projected or downwardAPI volume's files: path -> bytes."""
        if "secret" in v:
            return self.keys("secrets", v["secret"]["secretName"], v["secret"].get("items"))
        if "configMap" in v:
            return self.keys("configmaps", v["configMap"]["name"], v["configMap"].get("items"))
        if "projected" in v:
            files = {}
            for source in v["projected"]["sources"]:
                files.update(self.projected(source))
            return files
        if "downwardAPI" in v:
            return {i["path"]: self.field(i["fieldRef"]["fieldPath"]).encode()
                    for i in v["downwardAPI"]["items"]}
        raise RuntimeError(f"volume {v['name']}: kind not supported by the pod runner")

    def sync_volumes(self):
        if time.monotonic() < self.next_sync:
            return
        self.next_sync = time.monotonic() + 5
        for v, scratch in self.synced:
            write_files(scratch, self.files(v))

    def keys(self, kind, name, items):
        obj = self.runner.api.call("GET", f"/api/v1/namespaces/{self.ns}/{kind}/{name}")
        if obj is None:
            raise RuntimeError(f"{kind[:-1]} {name} not found")
        data = {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        for k, v in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(v) if kind == "secrets" else v.encode()
        if items:
            return {i.get("path", i["key"]): data[i["key"]] for i in items}
        return data

    def projected(self, source):
        if "serviceAccountToken" in source:
            t = source["serviceAccountToken"]
            sa = self.spec.get("serviceAccountName", "default")
            request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
                "audiences": [t["audience"]] if t.get("audience") else [],
                "expirationSeconds": t.get("expirationSeconds", 3607),
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": self.name, "uid": self.uid}}}
            answer = self.runner.api.call(
                "POST", f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token", request)
            return {t["path"]: answer["status"]["token"].encode()}
        if "configMap" in source:
            return self.keys("configmaps", source["configMap"]["name"], source["configMap"].get("items"))
        if "secret" in source:
            return self.keys("secrets", source["secret"]["name"], source["secret"].get("items"))
        if "downwardAPI" in source:
            return {i["path"]: self.field(i["fieldRef"]["fieldPath"]).encode()
                    for i in source["downwardAPI"]["items"]}
        raise RuntimeError(f"projected source {list(source)} not supported")

    def field(self, path):
        values = {"metadata.name": self.name, "metadata.namespace": self.ns,
                  "metadata.uid": self.uid, "spec.nodeName": self.runner.node.name,
                  "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
                  "status.podIP": self.ip or "", "status.hostIP": self.runner.node.ip}
        if path not in values:
            raise RuntimeError(f"fieldRef {path} not supported")
        return values[path]

    def user(self, container):
        ctx = {**(self.spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
        return ctx.get("runAsUser", 0), ctx.get("runAsGroup", ctx.get("runAsUser", 0)), ctx

    def own(self, path):
        uid, gid, ctx = self.user({})
        gid = ctx.get("fsGroup", gid)
        os.chown(path, uid, gid)
        os.chmod(path, 0o2775 if ctx.get("fsGroup") else 0o755)

    def write_hosts(self):
        lines = ["127.0.0.1 localhost", f"{self.ip} {self.name}"]
        lines += self.runner.hosts
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def env(self, c):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOSTNAME": self.name, "HOME": "/",
               "KUBERNETES_SERVICE_HOST": self.runner.kubernetes_ip or "",
               "KUBERNETES_SERVICE_PORT": "443"}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            source = e.get("valueFrom", {})
            if "fieldRef" in source:
                env[e["name"]] = self.field(source["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in source or "configMapKeyRef" in source:
                kind, ref = (("secrets", source["secretKeyRef"]) if "secretKeyRef" in source
                             else ("configmaps", source["configMapKeyRef"]))
                env[e["name"]] = self.keys(kind, ref["name"], None)[ref["key"]].decode()
        return env

    def script(self, c):
        """The shell script that builds the container's root and execs its command."""
        spec = c.spec
        root = os.path.join(self.dir, c.name)
        command = (spec.get("command") or ["manofwar"]) + spec.get("args", [])
        binary = os.path.basename(command[0])
        host_binary = os.path.join(self.runner.bin_dir, binary)
        if not os.access(host_binary, os.X_OK):
            raise RuntimeError(f"no {binary} in {self.runner.bin_dir}")
        uid, gid, ctx = self.user(spec)
        q = shlex.quote
        lines = [
            "set -e",
            f"L={q(root)}/layer R={q(root)}/rootfs",
            'mkdir -p "$L" "$R"',
            'mount -t tmpfs tmpfs "$L"',
            'mkdir -p "$L/upper" "$L/work"',
            'mount -t overlay overlay -o "lowerdir=/,upperdir=$L/upper,workdir=$L/work" "$R"',
            'mount -t proc proc "$R/proc"',
            'mount --rbind /dev "$R/dev"',
            f'mkdir -p "$R/usr/local/bin" && touch "$R/usr/local/bin/{binary}"',
            f'mount --bind {q(host_binary)} "$R/usr/local/bin/{binary}"',
            f'mount --bind {q(os.path.join(self.dir, "hosts"))} "$R/etc/hosts"',
        ]
        for m in spec.get("volumeMounts", []):
            source = self.volumes[m["name"]]
            if m.get("subPath"):
                source = os.path.join(source, m["subPath"])
            # The root is an overlay of /, so its symlinks (/var/run -> /run) are the host's.
            target = '"$R"' + q(os.path.realpath(m["mountPath"]))
            if os.path.isdir(source):
                lines.append(f"mkdir -p {target}")
            else:
                lines.append(f"mkdir -p \"$(dirname {target})\" && touch {target}")
            lines.append(f"mount --bind {q(source)} {target}")
            if m.get("readOnly"):
                lines.append(f"mount -o remount,bind,ro {target}")
        if ctx.get("readOnlyRootFilesystem"):
            lines.append('mount -o remount,bind,ro "$R"')
        env = " ".join(q(f"{k}={v}") for k, v in self.env(spec).items())
        lines.append(f'exec chroot "$R" setpriv --reuid={uid} --regid={gid} --clear-groups '
                     f"env -i {env} {' '.join(q(a) for a in ['/usr/local/bin/' + binary] + command[1:])}")
        return "\n".join(lines) + "\n"

    def run(self, c):
        path = os.path.join(self.dir, f"{c.name}.sh")
        with open(path, "w") as f:
            f.write(self.script(c))
        out = open(os.path.join(self.dir, f"{c.name}.log"), "ab")
        c.process = subprocess.Popen(["ip", "netns", "exec", self.netns, "/bin/sh", path],
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        c.started_at, c.exit, c.ready = now(), None, False
        c.next_probe = time.monotonic() + min(probe(c.spec).get("initialDelaySeconds", 0), 2)
        log(f"pod {self.ns}/{self.name}: started {c.name} (pid {c.process.pid})")

    # -- lifecycle -----------------------------------------------------------------------------

    def tick(self):
        if self.stopped:
            return
        self.sync_volumes()
        policy = self.spec.get("restartPolicy", "Always")
        for c in self.containers:
            if c.process is None:
                self.run(c)
                continue
            code = c.process.poll()
            if code is not None and c.exit is None:
                code = 128 - code if code < 0 else code
                c.exit, c.ready = (code, now()), False
                log(f"pod {self.ns}/{self.name}: {c.name} exited {code}")
                if policy == "Always" or (policy == "OnFailure" and code != 0):
                    c.next_start = time.monotonic() + min(10, 2 ** c.restarts)
            if c.exit is not None and c.next_start and time.monotonic() >= c.next_start:
                c.restarts += 1
                c.next_start = 0.0
                self.run(c)
            if c.exit is None:
                self.probe(c)
        if self.finished():
            self.teardown()

    def probe(self, c):
        p = probe(c.spec)
        if not p:
            c.ready = True
            return
        if time.monotonic() < c.next_probe:
            return
        c.next_probe = time.monotonic() + min(p.get("periodSeconds", 10), 2)
        get = p["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            port = next(x["containerPort"] for x in c.spec.get("ports", []) if x.get("name") == port)
        try:
            url = f"http://{self.ip}:{port}{get.get('path', '/')}"
            with urllib.request.urlopen(url, timeout=1) as response:
                c.ready = 200 <= response.status < 400
        except (OSError, urllib.error.URLError):
            c.ready = False

    def finished(self):
        return all(c.exit is not None and not c.next_start for c in self.containers)

    def phase(self):
        if self.finished():
            return "Succeeded" if all(c.exit[0] == 0 for c in self.containers) else "Failed"
        return "Running" if all(c.process for c in self.containers) else "Pending"

    def report(self):
        ready = all(c.ready for c in self.containers) and self.phase() == "Running"
        conditions = [{"type": t, "status": s, "lastTransitionTime": self.started} for t, s in (
            ("PodScheduled", "True"), ("Initialized", "True"),
            ("ContainersReady", str(ready)), ("Ready", str(ready)))]
        image = {c["name"]: c.get("image", "") for c in self.spec["containers"]}
        status = {"phase": self.phase(), "conditions": conditions, "startTime": self.started,
                  "hostIP": self.runner.node.ip, "hostIPs": [{"ip": self.runner.node.ip}],
                  "containerStatuses": [c.status(image[c.name]) for c in self.containers]}
        if self.ip:
            status.update(podIP=self.ip, podIPs=[{"ip": self.ip}])
        if status != self.sent:
            self.runner.api.patch(f"/api/v1/namespaces/{self.ns}/pods/{self.name}/status",
                                  {"status": status})
            self.sent = status

    def stop(self, grace):
        for c in self.containers:
            if c.process and c.process.poll() is None:
                signal_group(c.process, signal.SIGTERM)
        deadline = time.monotonic() + min(grace, 10)
        for c in self.containers:
            if c.process:
                try:
                    c.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    signal_group(c.process, signal.SIGKILL)
                    c.process.wait()
                if c.exit is None:
                    c.exit = (137, now())
            c.next_start = 0.0
        self.teardown()

    def teardown(self):
        if not self.stopped and self.netns:
            self.runner.network.detach(self.netns, self.ip)
        self.stopped = True


def write_files(folder, files):
    """Make `folder` hold exactly `files`; each changed file is replaced atomically."""
    os.makedirs(folder, exist_ok=True)
    for path, data in files.items():
        target = os.path.join(folder, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target) and open(target, "rb").read() == data:
            continue
        with open(target + ".new", "wb") as f:
            f.write(data)
        os.chmod(target + ".new", 0o644)
        os.replace(target + ".new", target)
    for name in os.listdir(folder):
        if name not in files and os.path.isfile(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))


def probe(container):
    p = container.get("readinessProbe") or {}
    return p if "httpGet" in p else {}


def signal_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------
# The loop


class Runner:
    def __init__(self, args):
        token = open(args.token_file).read().strip()
        self.api = Api(args.server, token, args.ca)
        self.state = os.path.abspath(args.state)
        self.bin_dir = os.path.abspath(args.bin_dir)
        self.network = Network(args.pod_cidr)
        self.node = Node(self.api, args.node, self.network.gateway)
        self.proxy = ServiceProxy(args.server)
        self.pods = {}
        self.hosts = []
        self.kubernetes_ip = None
        self.running = True

    def run(self):
        os.makedirs(self.state, exist_ok=True)
        self.network.up()
        self.node.register()
        log(f"node {self.node.name} registered; pods on {self.network.net}")
        try:
            while self.running:
                try:
                    self.sync()
                except (ApiError, OSError, RuntimeError) as e:
                    log(f"sync failed: {e}")
                time.sleep(POLL_SECONDS)
        finally:
            self.shutdown()

    def sync(self):
        self.node.tick()
        self.provision()
        services = self.api.items("/api/v1/services")
        slices = self.api.items("/apis/discovery.k8s.io/v1/endpointslices")
        self.proxy.sync(services, slices)
        hosts = self.proxy.hosts(services)
        kubernetes = [s for s in services if s["metadata"]["name"] == "kubernetes"
                      and s["metadata"]["namespace"] == "default"]
        self.kubernetes_ip = kubernetes[0]["spec"]["clusterIP"] if kubernetes else None
        if hosts != self.hosts:
            self.hosts = hosts
            for pod in self.pods.values():
                if pod.ip and not pod.stopped:
                    pod.write_hosts()
        listed = self.api.items(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.node.name}")
        seen = set()
        for obj in listed:
            uid = obj["metadata"]["uid"]
            seen.add(uid)
            pod = self.pods.get(uid)
            if obj["metadata"].get("deletionTimestamp"):
                self.delete(pod, obj)
                continue
            if pod is None:
                pod = self.start(obj)
                if pod is None:
                    continue
            try:
                pod.tick()
                pod.report()
            except (ApiError, OSError, RuntimeError, KeyError) as e:
                log(f"pod {pod.ns}/{pod.name}: {e}")
        for uid in set(self.pods) - seen:  # deleted without us
            self.pods.pop(uid).stop(0)

    def start(self, obj):
        pod = Pod(self, obj)
        try:
            pod.start()
        except (ApiError, OSError, RuntimeError, KeyError, TypeError) as e:
            # A missing Secret or an unbound claim may appear later: try again next round.
            log(f"pod {pod.ns}/{pod.name} cannot start yet: {e}")
            if pod.netns:
                self.network.detach(pod.netns, pod.ip)
            return None
        self.pods[pod.uid] = pod
        return pod

    def delete(self, pod, obj):
        if pod is not None:
            pod.stop(obj["metadata"].get("deletionGracePeriodSeconds", 30))
            self.pods.pop(pod.uid)
        meta = obj["metadata"]
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]}}
        try:
            self.api.call("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", body)
        except ApiError as e:
            if e.code != 409:
                raise

    def provision(self):
        """A hostPath PersistentVolume for each pending claim without one."""
        for pvc in self.api.items("/api/v1/persistentvolumeclaims"):
            if pvc.get("status", {}).get("phase") != "Pending" or pvc["spec"].get("volumeName"):
                continue
            meta = pvc["metadata"]
            name = f"pvc-{meta['uid']}"
            if self.api.call("GET", f"/api/v1/persistentvolumes/{name}") is not None:
                continue
            path = os.path.join(self.state, "volumes", name)
            os.makedirs(path, exist_ok=True)
            self.api.call("POST", "/api/v1/persistentvolumes", {
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                         "accessModes": pvc["spec"].get("accessModes", ["ReadWriteOnce"]),
                         "persistentVolumeReclaimPolicy": "Delete",
                         "storageClassName": pvc["spec"].get("storageClassName") or "",
                         "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                         "claimRef": {"namespace": meta["namespace"], "name": meta["name"],
                                      "uid": meta["uid"]}}})
            log(f"provisioned {name} for {meta['namespace']}/{meta['name']}")

    def shutdown(self):
        for pod in self.pods.values():
            pod.stop(5)
        self.proxy.close()
        self.network.down()
        log("stopped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--node", default="pod-runner")
    parser.add_argument("--pod-cidr", default="10.244.0.0/24")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("pod-runner: needs root (network namespaces and mounts)")
    runner = Runner(args)

    def stop(*_):
        runner.running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.run()


if __name__ == "__main__":
    main()
