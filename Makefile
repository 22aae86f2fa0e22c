# condcast: `make test` builds and tests every language; `make demo` shows objects crossing loopback
# multicast. Each part installs what it needs (npm packages, a pinned Node 24 when the system's Node
# is older, Debian packages when run as root, Maven artifacts).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
NODE_BIN := $(shell $(ROOT)/scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(ROOT)/ts/node_modules/.bin:$(PATH)

.PHONY: all build test demo ts ts-test ts-test-pgs3 spec-check vectors generate cpp cpp-test java java-test interop chaos chaos-short fuzz-rest fuzz-rest-short cluster deploy-check model-check bench bench-farm bench-flip bench-sync bench-store bench-race clean

all: build
build: ts cpp java

## TypeScript ---------------------------------------------------------------------------------------
ts/node_modules/.installed: ts/package.json ts/package-lock.json
	# npm ci refuses this lockfile: the registry here serves buf only for Linux, so the lockfile
	# lacks the other platforms' optional packages. npm install honours the lockfile all the same.
	cd ts && npm install --no-audit --no-fund --loglevel=error
	touch $@

# The optional native paths are N-API addons built with plain cc against Node-API's headers: the
# sender's (ts/native/udp_batch.c: sendmmsg and UDP GSO) and the receiver's (ts/native/udp_recv.c: a
# thread draining the socket with recvmmsg and UDP GRO into the receiver's ring). Without a C compiler
# or the headers they are skipped (the sender then uses node:dgram, the receiver a worker thread). As
# root a missing compiler is installed first.
NODE_INCLUDE := $(abspath $(NODE_BIN)/../include/node)
NATIVE_CC = cc -O2 -Wall -Wextra -shared -fPIC -pthread -I"$(NODE_INCLUDE)"
ts: ts/node_modules/.installed bin/condcast
	cd ts && tsc -p tsconfig.build.json
	mkdir -p ts/dist/server/ui/assets && cp ts/src/server/ui/assets/* ts/dist/server/ui/assets/
	if ! command -v cc >/dev/null && [ "$$(id -u)" -eq 0 ]; then scripts/ensure-debs.sh gcc || true; fi
	if command -v cc >/dev/null && [ -f "$(NODE_INCLUDE)/node_api.h" ]; then \
	  mkdir -p ts/dist/native && \
	  $(NATIVE_CC) -o ts/dist/native/udp_batch.node ts/native/udp_batch.c ts/native/napi_util.c && \
	  $(NATIVE_CC) -o ts/dist/native/udp_recv.node ts/native/udp_recv.c ts/native/napi_util.c; \
	else echo "ts: no C compiler or Node-API headers: native send and receive paths not built (node:dgram, worker thread)"; fi

bin/condcast: scripts/condcast.sh
	mkdir -p bin && cp scripts/condcast.sh bin/condcast && chmod +x bin/condcast

ts-test: ts
	cd ts && tsc -p tsconfig.json --noEmit && vitest run
	tsc -p tsconfig.scripts.json

# The repository on PostgreSQL + S3 (docs/STORE.md): the CCDB conformance files on that backend, then
# the fault and replica tests alone (they restart PostgreSQL and stop the object store under their own
# feet). scripts/with-pg-s3.sh starts a private PostgreSQL (installed from Debian's packages as root)
# and the Versity S3 gateway (built from the Go module proxy the first time) on loopback.
PGS3_CONFORMANCE := test/server/repository.test.ts test/server/runs.test.ts test/server/keys.test.ts test/server/keys-atomicity.test.ts test/server/copy.test.ts test/server/pg-gc.test.ts test/server/pg-checkpoints.test.ts test/server/pg-log-sender.test.ts test/server/sync.test.ts
ts-test-pgs3: ts
	scripts/with-pg-s3.sh bash -c 'cd ts && export CONDCAST_TEST_STORE=pgs3 && vitest run $(PGS3_CONFORMANCE) && vitest run test/server/pgs3-faults.test.ts'

## Spec: lint, breaking changes, generated code and vectors in step with the .proto ----------------
spec-check: ts
	scripts/spec-check.sh

generate: ts/node_modules/.installed
	cd ts && buf generate ../spec --template buf.gen.yaml
	cd ts && node scripts/compile-wat.mjs

vectors: ts
	node ts/dist/vectors/write-vectors.js spec/vectors

## C++ and Java (each folder's own Makefile) ---------------------------------------------------------
# Their tests also run the TypeScript CLI (bin/condcast) against them, so they need `ts` first.
cpp:
	$(MAKE) -C cpp build
cpp-test: ts
	$(MAKE) -C cpp test
java:
	$(MAKE) -C java build
java-test: ts
	$(MAKE) -C java test

## Interop matrix between network-namespace hosts (needs root) -----------------------------------
interop: build
	scripts/ensure-debs.sh iproute2 nftables
	node interop/run.ts

## Chaos suite on network-namespace hosts (needs root; docs/RELIABILITY.md) ---------------------------
# Faults under a steady upload load with four caches; the short form (about 4 min) runs in make test,
# `make chaos` runs each fault for longer (30 s outages, longer floods). Failed scenarios keep their
# processes' logs under out/chaos/.
chaos-short: ts
	scripts/ensure-debs.sh iproute2 nftables
	node chaos/run.ts
chaos: ts
	scripts/ensure-debs.sh iproute2 nftables
	node chaos/run.ts --long

## Instances sharing namespaces (needs root; docs/INSTANCES.md) -----------------------------------------
# `make cluster`: three instances in network namespaces, each owning a prefix mirrored by the others,
# until Ctrl-C (CLUSTER_ARGS="--duration 30 --produce 20" runs the producer and stops by itself).
CLUSTER_ARGS ?=
cluster: ts
	scripts/ensure-debs.sh iproute2
	flock /tmp/condcast-netns.lock node cluster/run.ts $(CLUSTER_ARGS)
# In make test: 3 instances with tokens, 10 s of the producer at 20/s in changesets of 5; fails
# unless every mirror and every cache ends holding exactly the owner's namespace (cluster/run.ts --check).
cluster-short: ts
	scripts/ensure-debs.sh iproute2
	flock /tmp/condcast-netns.lock timeout 300 node cluster/run.ts --instances 3 --duration 10 --produce 20 --changeset-size 5 --check

## REST API fuzzing against spec/openapi.yaml (schemathesis, pinned, in .tools/; fuzz/rest/README.md) ----
# A repository and a cache on loopback, every answer checked against the spec. The short pass (under a
# minute, derandomized) runs in make test; `make fuzz-rest` generates up to 1000 examples per
# operation from FUZZ_SEED (default 1). A failed run keeps both servers' logs under out/fuzz-rest/.
fuzz-rest-short: ts
	fuzz/rest/run.sh --short
fuzz-rest: ts
	fuzz/rest/run.sh --long

## Deployment files: Compose against deploy/topology.json, Dockerfiles against the Makefile, systemd ---
deploy-check: ts
	scripts/ensure-debs.sh docker-compose systemd
	scripts/ensure-debs-no-daemons.sh prometheus
	promtool check rules deploy/prometheus/alerts.yml
	docker-compose -f docker-compose.yml config -q
	/usr/bin/python3 deploy/check-deploy.py

## Benchmarks (needs root; bounded, writes docs/BENCHMARKS.md, the race against UFTP and Aeron included;
## then the repository's backends and the sync lag, each printing its table; figures in bench/README.md)
BENCH_TOOLS := out/bench
bench: build
	scripts/ensure-debs.sh iproute2 nftables gcc nginx wrk
	scripts/ensure-debs-no-daemons.sh uftp
	mkdir -p $(BENCH_TOOLS)
	for t in raw-send sink replay; do gcc -O2 -Wall -Wextra -Werror -o $(BENCH_TOOLS)/$$t bench/c/$$t.c; done
	flock /tmp/condcast-netns.lock env AERON_JAR=$$(scripts/ensure-aeron.sh) node bench/run.ts --tools $(BENCH_TOOLS)
	$(MAKE) bench-store bench-sync

## The repository's cost of farm readiness reports (bench/farm-reports.ts; figures in bench/README.md) --
bench-farm: ts
	flock /tmp/condcast-netns.lock unshare -n bash -c 'ip link set lo up && node bench/farm-reports.ts'

## Flip latency: commit acknowledged -> every cache on the new key (bench/flip-latency.ts; figures in bench/README.md)
bench-flip: ts
	flock /tmp/condcast-netns.lock unshare -n bash -c 'ip link set lo up && node bench/flip-latency.ts'

## Sync lag at a steady producer rate (bench/sync-lag.ts; figures in bench/README.md) -----------------
bench-sync: ts
	flock /tmp/condcast-netns.lock node bench/sync-lag.ts

## The repository's backends: uploads/s and 2 MB GET/s embedded vs PostgreSQL + S3 on 1 and 2 replicas,
## and the sender's takeover time (bench/store.ts; figures in bench/README.md) ----------------------
bench-store: ts
	scripts/with-pg-s3.sh --prepare
	flock /tmp/condcast-netns.lock unshare -n bash -c 'ip link set lo up && scripts/with-pg-s3.sh node bench/store.ts'

## Race against UFTP on namespace hosts (bench/race.ts; figures in bench/README.md). RACE_FLAGS=--quick for development
bench-race: ts
	scripts/ensure-debs.sh iproute2 nftables
	scripts/ensure-debs-no-daemons.sh uftp
	scripts/ensure-aeron.sh >/dev/null
	flock /tmp/condcast-netns.lock env AERON_JAR=$$(scripts/ensure-aeron.sh) timeout 900 node bench/race.ts $(RACE_FLAGS)

## The FEC repair-load model (bench/repair-model.ts) against the issue's figures and its Monte Carlo -----
model-check: ts
	node bench/repair-sim.ts --self-check

## Everything -----------------------------------------------------------------------------------------
test: spec-check ts-test ts-test-pgs3 fuzz-rest-short cpp-test java-test model-check deploy-check interop chaos-short cluster-short
	@echo "make test: all parts passed"

demo: ts
	scripts/demo.sh

clean:
	rm -rf ts/dist bin cpp/build java/target
