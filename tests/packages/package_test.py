#!/usr/bin/python3
"""Installs the coderef-live .deb packages into a fresh Debian container and
runs their services as their systemd units would (tests/packages/run.sh).

There is no systemd in the container, so the test starts each service with
exactly what its unit file says, parsed from the installed unit: ExecStart,
EnvironmentFile, User/Group, and the StateDirectory it would create. Then:

 1. dpkg -i of both packages (their Depends installed first with apt, as
    `apt-get -f install` would); the system user, the conffiles, the files;
 2. the configuration a user edits: projects.json naming a workspace, the
    gateway listening on the container's address (conffile edits);
 3. both services running as the unit's user: REST /orchestrator/projects
    and /plans answer, the WebSocket gets hello, a plan.json edit arrives;
    the watcher writes nothing outside its state directory;
 4. dpkg -i again (an upgrade to the same version): the edited conffiles
    are kept;
 5. dpkg --purge of both: no /etc/coderef-live, no /var/lib/coderef-live, no
    coderef-live user left.

Run with /usr/bin/python3 (python3-websockets). Exit 0 pass, 1 fail.
"""

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request

import websockets

T0 = time.monotonic()
PKGS = ("coderef-live-watcher", "coderef-live-gateway")


def log(msg):
    print(f"package_test: [{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def sh(*cmd, check_rc=True, input=None):
    r = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if check_rc and r.returncode != 0:
        raise TestFailure(f"{shlex.join(cmd)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


class Container:
    def __init__(self, name):
        self.name = name

    def run(self, script, check_rc=True, user=None):
        cmd = ["docker", "exec", "-i"] + (["-u", user] if user else []) + [self.name, "bash", "-euo", "pipefail", "-c", script]
        return sh(*cmd, check_rc=check_rc)

    def read(self, path):
        return self.run(f"cat {shlex.quote(path)}")

    def write(self, path, text):
        sh("docker", "exec", "-i", self.name, "bash", "-c", f"cat > {shlex.quote(path)}.tmp && mv {shlex.quote(path)}.tmp {shlex.quote(path)}", input=text)


def parse_unit(text):
    """The [Service] keys of a unit file: key -> list of values (in order)."""
    section, out = None, {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Service" and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def parse_env_file(text):
    """systemd EnvironmentFile: KEY=VALUE lines, # and ; comments, optional quotes."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        env[k.strip()] = v
    return env


def start_service(c, unit_name):
    """Start a service in the container the way systemd would from its unit."""
    unit = parse_unit(c.read(f"/lib/systemd/system/{unit_name}"))
    exec_start = unit["ExecStart"][-1]
    env_file = unit["EnvironmentFile"][-1].lstrip("-")
    user, group = unit["User"][-1], unit["Group"][-1]
    for sd in unit.get("StateDirectory", []):
        for d in sd.split():
            mode = unit.get("StateDirectoryMode", ["0755"])[-1]
            c.run(f"install -d -o {user} -g {group} -m {mode} /var/lib/{d}")
    env = parse_env_file(c.read(env_file))
    env_args = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    logf = f"/tmp/{unit_name}.log"
    # setpriv: the unit's User/Group, no new privileges, its
    # CapabilityBoundingSet and AmbientCapabilities, an empty environment
    # plus the EnvironmentFile (systemd adds little else for a system unit).
    caps = ""
    if "CapabilityBoundingSet" in unit:
        bset = [c.strip().lower().removeprefix("cap_") for c in unit["CapabilityBoundingSet"][-1].split()]
        caps += " --bounding-set " + ",".join(["-all"] + [f"+{c}" for c in bset])
    amb = [c.strip().lower().removeprefix("cap_") for c in unit.get("AmbientCapabilities", [""])[-1].split()]
    if amb:
        plus = ",".join(f"+{c}" for c in amb)
        caps += f" --inh-caps {plus} --ambient-caps {plus}"
    script = (f"cd / && setpriv --reuid={user} --regid={group} --init-groups --no-new-privs{caps} "
              f"env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin {env_args} {exec_start} >{logf} 2>&1 & echo $!")
    pid = c.run(script).strip()
    log(f"{unit_name}: ExecStart={exec_start} EnvironmentFile={env_file} User={user} -> pid {pid}")
    return pid, env, logf


def http_json(url, timeout=3.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def wait_for(cond, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(step)
    raise TestFailure(f"timed out after {timeout} s waiting for {what} (last error: {last!r})")


async def ws_edit(c, url, workspace_file, feature):
    async with websockets.connect(url, open_timeout=10) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        check(hello.get("type") == "hello", f"first message {hello}")
        plan = {"META_DOCUMENTATION": {"feature_name": feature, "status": "review",
                                       "workorder_id": "WO-PKG-0001", "version": "1.1"},
                "UNIVERSAL_PLANNING_STRUCTURE": {"notes": "written by tests/packages/package_test.py"}}
        t = time.monotonic()
        c.write(workspace_file, json.dumps(plan, indent=2) + "\n")
        written = time.monotonic()  # `docker exec` returned: the file is in place
        deadline = written + 15
        while time.monotonic() < deadline:
            m = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            if m.get("type", "").startswith("plan_") and m.get("feature_name") == feature:
                return hello, m, (written - t, time.monotonic() - written)
        raise TestFailure(f"no plan event for {feature}")


def run(args):
    debs = [os.path.abspath(p) for p in args.debs]
    names = [sh("dpkg-deb", "-f", d, "Package").strip() for d in debs]
    check(sorted(names) == sorted(PKGS), f"packages {names}")
    c = Container(args.container)

    # 1. install ------------------------------------------------------------------
    c.run("dpkg -i /pkgs/*.deb")
    for p in PKGS:
        st = c.run(f"dpkg-query -W -f='${{Status}}' {p}")
        check(st == "install ok installed", f"{p}: {st}")
    c.run("getent passwd coderef-live && test -x /usr/bin/watcher-svc && test -x /usr/bin/gateway-svc "
          "&& test -f /usr/share/coderef-live/web/index.html")
    conffiles = c.run("dpkg-query -W -f='${Conffiles}\\n' coderef-live-watcher coderef-live-gateway")
    for f in ("/etc/coderef-live/watcher.env", "/etc/coderef-live/projects.json", "/etc/coderef-live/gateway.env"):
        check(f in conffiles, f"{f} is not a conffile: {conffiles}")
    log("dpkg -i: both installed, user coderef-live, conffiles " +
        ", ".join(sorted(set(l.split()[0] for l in conffiles.split("\n") if l.strip()))))

    # 2. configure as a user would ------------------------------------------------------
    c.run("mkdir -p /srv/workspace/noted/coderef/working/auth && chmod -R a+rX /srv")
    c.write("/etc/coderef-live/projects.json", json.dumps({"projects": [{"name": "noted", "path": "/srv/workspace/noted"}]}) + "\n")
    genv = c.read("/etc/coderef-live/gateway.env").replace("GATEWAY_LISTEN=127.0.0.1:8000", "GATEWAY_LISTEN=0.0.0.0:8000")
    check("GATEWAY_LISTEN=0.0.0.0:8000" in genv, "gateway.env has no GATEWAY_LISTEN line to edit")
    c.write("/etc/coderef-live/gateway.env", genv)
    c.run("chmod 644 /etc/coderef-live/*")

    # 3. run the services as their units say ------------------------------------------
    wpid, wenv, wlog = start_service(c, "coderef-live-watcher.service")
    gpid, genv_d, glog = start_service(c, "coderef-live-gateway.service")
    check(wenv.get("WATCHER_PROJECTS") == "/etc/coderef-live/projects.json", f"watcher.env: {wenv}")
    ip = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c.name).strip()
    base = f"http://{ip}:8000"
    try:
        wait_for(lambda: http_json(base + "/readyz") is not None, 20, "gateway /readyz")
    except TestFailure:
        log("watcher log:\n" + c.read(wlog) + "\ngateway log:\n" + c.read(glog))
        raise
    projects = http_json(base + "/orchestrator/projects")["projects"]
    check([p["id"] for p in projects] == ["noted"], f"/orchestrator/projects: {projects}")
    log(f"REST answers: /orchestrator/projects {[p['id'] for p in projects]}")
    hello, ev, (write_s, after_s) = asyncio.run(ws_edit(c, base.replace("http", "ws") + "/orchestrator/ws",
                                        "/srv/workspace/noted/coderef/working/auth/plan.json", "auth"))
    log(f"WebSocket hello {hello}; plan.json edit arrived as {ev['type']} seq {ev['seq']} "
        f"{after_s * 1000:.0f} ms after the write (which took {write_s * 1000:.0f} ms: `docker exec`)")
    # The workspace is root's, the watcher runs as coderef-live: the unit's
    # AmbientCapabilities=CAP_LEASE is what lets it read under leases.
    wstart = [l for l in c.read(wlog).splitlines() if "watcher.started" in l]
    check(wstart and "read_leases=all" in wstart[-1].replace('"', ""),
          f"the watcher reads without CAP_LEASE: {wstart[-1] if wstart else c.read(wlog)[-1500:]}")
    log("watcher: read leases on every file (AmbientCapabilities=CAP_LEASE as coderef-live)")
    plans = http_json(base + "/orchestrator/plans?project=noted")["plans"]
    check(any(p["feature_name"] == "auth" for p in plans), f"plans after the edit: {plans}")
    state_dir = wenv.get("WATCHER_STATE_DIR", "")
    check(state_dir.startswith("/var/lib/coderef-live/"), f"WATCHER_STATE_DIR {state_dir!r} not under /var/lib/coderef-live")
    owner = c.run(f"stat -c %U {shlex.quote(state_dir)}").strip()
    check(owner == "coderef-live", f"{state_dir} owned by {owner}")
    # (The container's init does not reap: an exited service stays a zombie, state Z.)
    c.run(f"kill -TERM {wpid} {gpid}; gone() {{ [[ ! -e /proc/$1 || $(awk '{{print $3}}' /proc/$1/stat) == Z ]]; }}; "
          f"for i in $(seq 50); do gone {wpid} && gone {gpid} && exit 0; sleep 0.1; done; exit 1")
    log("both services stopped on SIGTERM within 5 s")

    # 4. upgrade keeps edited conffiles -------------------------------------------------
    c.run("dpkg -i /pkgs/*.deb")
    check("/srv/workspace/noted" in c.read("/etc/coderef-live/projects.json"), "upgrade replaced the edited projects.json")
    check("GATEWAY_LISTEN=0.0.0.0:8000" in c.read("/etc/coderef-live/gateway.env"), "upgrade replaced the edited gateway.env")
    log("dpkg -i again (upgrade): the edited conffiles were kept")

    # 5. purge ---------------------------------------------------------------------------
    c.run("dpkg --purge coderef-live-gateway coderef-live-watcher")
    left = c.run("ls -d /etc/coderef-live /var/lib/coderef-live /usr/share/coderef-live /lib/systemd/system/coderef-live-* 2>/dev/null || true").strip()
    check(not left, f"left after purge: {left}")
    user = c.run("getent passwd coderef-live || true").strip()
    check(not user, f"user left after purge: {user}")
    log("dpkg --purge: no files, state or user left")
    log("PASS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--container", required=True, help="a running container with the .debs at /pkgs")
    ap.add_argument("debs", nargs=2)
    args = ap.parse_args()
    try:
        run(args)
    except TestFailure as e:
        log(f"FAIL: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
