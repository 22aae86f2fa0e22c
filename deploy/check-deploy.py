#!/usr/bin/python3
"""Checks the deployment files without a Docker engine (none runs here):

1. docker-compose.yml is valid Compose (`docker-compose config -q`, run by the Makefile before this);
2. it has exactly the hosts of deploy/topology.json (the hosts the interop matrix builds as network
   namespaces): same names, roles, implementations, addresses, subnet, group and port;
3. every Dockerfile builds with the Makefile's own targets: each RUN of a build stage is a package
   install or `make [-C dir] target`, and each such target exists (`make -n`);
4. the systemd unit passes `systemd-analyze verify` (with ExecStart pointed at the built CLI).
Prints one line per check and exits 1 on the first failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        problems.append(message)


def compose_matches_topology():
    topology = json.load(open(os.path.join(ROOT, "deploy", "topology.json")))
    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    services = compose["services"]
    subnets = [c["subnet"] for c in compose["networks"]["condcast"]["ipam"]["config"]]
    check(subnets == [topology["subnet"]], f"compose network subnet {subnets} is the topology's {topology['subnet']}")
    check(sorted(services) == sorted(h["name"] for h in topology["hosts"]), f"compose services {sorted(services)} are the topology's hosts")
    images = {"ts": "condcast-ts", "cpp": "condcast-cpp", "java": "condcast-java"}
    for host in topology["hosts"]:
        service = services.get(host["name"])
        if service is None:
            continue
        address = service["networks"]["condcast"]["ipv4_address"]
        check(address == host["address"], f"{host['name']}: address {address} is {host['address']}")
        check(service.get("image") == images[host["impl"]], f"{host['name']}: image {service.get('image')} is the {host['impl']} implementation")
        words = " ".join(service.get("command") or service.get("entrypoint") or [])
        check(f"--interface {host['address']}" in words, f"{host['name']}: multicast on its own interface {host['address']}")
        check(f"--group {topology['group']}" in words and f"--port {topology['port']}" in words, f"{host['name']}: group {topology['group']} port {topology['port']}")
        role_words = {"repository": ["serve --role repository"], "cache": ["serve --role cache"], "sender": [" send ", "condcast-send "]}[host["role"]]
        check(any(w in f" {words} " for w in role_words), f"{host['name']}: runs as {host['role']}")
    for impl, image in images.items():
        builders = [s for s in services.values() if s.get("image") == image and "build" in s]
        check(len(builders) == 1 and builders[0]["build"]["dockerfile"] == f"docker/{impl}.Dockerfile", f"image {image} is built once, from docker/{impl}.Dockerfile")


PACKAGE_STEP = re.compile(r"^(apt-get |cd ts && npm prune --omit=dev$)")
MAKE_STEP = re.compile(r"^make(?: -C (\S+))? (\S+)$")


def dockerfiles_use_makefile_targets():
    for name in sorted(os.listdir(os.path.join(ROOT, "docker"))):
        if not name.endswith(".Dockerfile"):
            continue
        stages = open(os.path.join(ROOT, "docker", name)).read().split("\nFROM ")
        build_runs = [line[4:].strip() for stage in stages[:-1] for line in stage.splitlines() if line.startswith("RUN ")]
        makes = 0
        for run in build_runs:
            m = MAKE_STEP.match(run)
            if m:
                makes += 1
                directory = os.path.join(ROOT, m.group(1) or ".")
                exists = subprocess.run(["make", "-n", "-C", directory, m.group(2)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
                check(exists, f"{name}: `{run}` is a Makefile target")
            else:
                check(bool(PACKAGE_STEP.match(run)), f"{name}: build step `{run}` is a package install or a Makefile target")
        check(makes >= 1, f"{name}: builds with the Makefile ({makes} make step(s))")


def systemd_unit_verifies():
    if shutil.which("systemd-analyze") is None:
        check(False, "systemd-analyze is installed (Debian package systemd)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        unit = open(os.path.join(ROOT, "deploy", "systemd", "condcast-cache.service")).read()
        unit = unit.replace("/opt/condcast/bin/condcast", os.path.join(ROOT, "bin", "condcast"))
        path = os.path.join(tmp, "condcast-cache.service")
        open(path, "w").write(unit)
        result = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        messages = [l for l in (result.stdout + result.stderr).splitlines() if "condcast-cache.service" in l]
        check(result.returncode == 0 and not messages, "systemd-analyze verify condcast-cache.service" + (": " + " | ".join(messages) if messages else ""))


compose_matches_topology()
dockerfiles_use_makefile_targets()
systemd_unit_verifies()
print(f"deploy-check: {'all checks passed' if not problems else str(len(problems)) + ' problem(s)'}")
sys.exit(1 if problems else 0)
