# manofwar: `make run` serves sample media at http://127.0.0.1:8096; `make test` runs every test.
SHELL := /bin/bash
MEDIA ?= .cache/sample-media
DATA ?= .cache/data
LISTEN ?= 127.0.0.1:8096

.PHONY: deps web build run test test-rust test-browser test-fuzz test-p2p test-hub oidc-op lint bench clean

deps:
	bash e2e/deps.sh

web: deps
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

build: web
	cargo build --release -p manofwar-node

run: build
	bash examples/sample-media.sh $(MEDIA)
	./target/release/manofwar up --media $(MEDIA) --data $(DATA) --listen $(LISTEN)

lint: web
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cd web && npm run check

# The OpenID provider of the single sign-on tests (built from its Go module, cached).
oidc-op: deps
	bash e2e/oidc-op.sh

test-rust: deps oidc-op
	cargo test --workspace

test-browser: web oidc-op
	cargo build -p manofwar-node
	cd web && MANOFWAR_BIN=../target/debug/manofwar npm test

# schemathesis against a running `up` and a running `hub`, from the OpenAPI document: no 5xx, no route open that the
# document says needs a login.
test-fuzz: deps
	cargo build -p manofwar-node
	bash e2e/fuzz/openapi.sh
	FUZZ_TARGET=hub bash e2e/fuzz/openapi.sh

# Friends behind NATs in network namespaces (needs root), and js-libp2p dialing a gateway.
test-p2p: deps
	cargo build -p manofwar-node
	bash e2e/p2p/nat_test.sh
	bash e2e/p2p/interop_test.sh

# The front door (`manofwar hub`) over two private library servers.
test-hub: deps
	cargo build -p manofwar-node
	bash e2e/hub/hub_test.sh

test: web lint test-rust test-browser test-fuzz test-p2p test-hub test-k8s-static

.PHONY: test-k8s-static
# Chart lint + offline schema validation of the chart and examples/, Argo CD health.lua tests.
test-k8s-static:
	bash e2e/k8s-static/check.sh

.PHONY: e2e-k8s
# A real etcd + kube-apiserver + controller-manager + scheduler built from Go modules (cached
# in ~/.cache/manofwar/k8s; about 12 minutes cold): CRD acceptance tests, the operator against
# it (children, status, Jobs, profile edits, leader election, garbage collection), then the
# whole system on a real node (e2e/k8s/node.sh: kubelet, containerd, kube-proxy, CoreDNS; the
# product image from e2e/image/oci.sh), needs root.
e2e-k8s:
	bash e2e/k8s/run.sh
	bash e2e/k8s/gitops/judge_test.sh
	bash operator/tests/e2e_k8s.sh
	bash e2e/k8s/cluster_test.sh

.PHONY: image-check
# The Dockerfile's runtime stage without a Docker engine (needs root): a debootstrap'd bookworm
# root filesystem (cached in ~/.cache/manofwar/image-rootfs), the stage's RUN, then ldd, --help,
# a transcode and `manofwar up` as uid 65532 in a chroot. Not part of `make test`.
image-check:
	bash e2e/image/runtime_check.sh

bench: build
	bash e2e/bench/run.sh

clean:
	cargo clean
	rm -rf web/dist web/node_modules .cache
