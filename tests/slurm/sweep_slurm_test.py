#!/usr/bin/env python3
"""A sweep through a real one-machine Slurm cluster (packaging/slurm-local.sh), as issue 19 asks.

Four recipes and a sensitivity analysis in three chunks on sotu-llama, submitted as one job array
held until one recipe file is broken, so that its task fails: the failure is reported with its
log, collect refuses to call the sweep done, and the task resubmitted alone succeeds. The store
then holds every experiment once, with the metrics of the same sweep run with --local. The
daemons are stopped by their PIDs at the end, whatever happened.

usage: sweep_slurm_test.py --cli build/app/cli/quench-cli --demo resources/demo --slurm-local packaging/slurm-local.sh
Exit 77 (skipped) without root or passwordless sudo, or when Slurm is not installed.
"""
import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def run(args, env=None, check=True):
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_for_queue(env, job, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        out = run(["squeue", "-h", "-j", job, "-o", "%i"], env=env, check=False).stdout.strip()
        if not out:
            return
        time.sleep(1)
    raise AssertionError(f"job {job} still queued after {seconds} s: {out}")


def by_name(cli, db):
    runs = json.loads(run([cli, "experiments", "list", "--db", db, "--json"]).stdout)
    names = [r["name"] for r in runs]
    expect(len(names) == len(set(names)), f"{db} holds an experiment twice: {sorted(names)}")
    out = {}
    for r in runs:
        detail = json.loads(run([cli, "experiments", "show", str(r["id"]), "--db", db, "--json"]).stdout)
        out[r["name"]] = detail
    return out


def same_metrics(a, b, name):
    # Timings differ between runs; everything measured must not.
    def measured(e):
        return {(m["name"], m["dataset"], m["split"]): m["value"] for m in e["metrics"]
                if "seconds" not in m["name"] and not m["name"].endswith("_per_s")}
    ma, mb = measured(a), measured(b)
    expect(ma.keys() == mb.keys(), f"{name}: metrics {sorted(ma)} vs {sorted(mb)}")
    for k in ma:
        x, y = ma[k], mb[k]
        ok = (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12))
        expect(ok, f"{name}: {k} is {x} from Slurm, {y} from --local")
    la = [(l["layer"], l["settings"]) for l in a["layers"]]
    lb = [(l["layer"], l["settings"]) for l in b["layers"]]
    expect(la == lb, f"{name}: per-layer rows differ between Slurm and --local")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--demo", required=True)
    ap.add_argument("--slurm-local", required=True)
    a = ap.parse_args()
    cli = os.path.abspath(a.cli)
    root = os.geteuid() == 0 or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    if not root or not shutil.which("slurmctld") or not shutil.which("sbatch"):
        print("skipped: needs root (or passwordless sudo) and Debian's slurmctld, slurmd, slurm-client and munge")
        return SKIP

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 6817)) == 0:
            print("skipped: a Slurm controller already listens on port 6817 (stop it: packaging/slurm-local.sh stop)")
            return SKIP

    work = tempfile.mkdtemp(prefix="quench-slurm-test-")
    env = dict(os.environ)
    env["QUENCH_SLURM_DIR"] = os.path.join(work, "cluster")
    env["SLURM_CONF"] = os.path.join(work, "cluster", "slurm.conf")
    env.setdefault("QUENCH_THREADS", "1")
    recipe = os.path.join(work, "w4-channel.json")
    good = {"name": "w4-channel", "default": {"weights": {"bits": 4, "strategy": "channel"}}}
    with open(recipe, "w") as f:
        json.dump(good, f)
    demo = os.path.abspath(a.demo)
    desc = {
        "name": "ci",
        "model": f"{demo}/sotu-llama",
        "calib": f"{demo}/sotu-calib.txt", "samples": 4, "seq": 64,
        "eval": f"{demo}/sotu-2000-2023.txt", "ctx": 64, "max_windows": 4,
        "recipes": ["W4A16-G16", "W8A16", "w4-channel.json"],
        "grid": {"bits": [3], "group_size": [16]},
        "sensitivity": {"setting": "W4A16-G16", "chunks": 3, "layers": ["model.layers.*.mlp.*"]},
        "setup": ["export QUENCH_THREADS=1"],
    }
    desc_file = os.path.join(work, "sweep.json")
    with open(desc_file, "w") as f:
        json.dump(desc, f)

    started = False
    try:
        # The reference: the same sweep, one task after another here.
        run([cli, "sweep", "run", desc_file, "--dir", f"{work}/local", "--local", "--db", f"{work}/local.db"], env=env)

        t0 = time.time()
        out = run(["bash", a.slurm_local, "start"], env=env).stdout
        started = True
        print(out.strip().splitlines()[0], f"({time.time() - t0:.1f} s)")

        sweep = f"{work}/slurm"
        out = run([cli, "sweep", "run", desc_file, "--dir", sweep, "--slurm", "--time", "15", "--sbatch-arg=--hold"], env=env).stdout
        job = out.split("submitted Slurm job ")[1].split(",")[0]
        plan = json.load(open(f"{sweep}/sweep.json"))
        broken = next(j["index"] for j in plan["jobs"] if j["name"] == "ci/w4-channel")
        with open(recipe, "w") as f:
            f.write("{ broken")
        status = json.loads(run([cli, "sweep", "status", sweep, "--json"], env=env).stdout)
        expect(all(s["state"] == "queued" for s in status), f"held tasks should be queued: {status}")
        run(["scontrol", "release", job], env=env)
        t0 = time.time()
        wait_for_queue(env, job)
        print(f"job array {job}: {len(plan['jobs'])} tasks in {time.time() - t0:.1f} s")

        status = json.loads(run([cli, "sweep", "status", sweep, "--json"], env=env).stdout)
        states = {s["task"]: s["state"] for s in status}
        expect(states[broken] == "failed", f"task {broken} should have failed: {status}")
        expect(all(v == "completed" for k, v in states.items() if k != broken), f"the other tasks should have completed: {status}")
        text = run([cli, "sweep", "status", sweep], env=env).stdout
        expect("w4-channel.json" in text and f"--tasks {broken}" in text, f"status should show the failure's log and the resubmit command:\n{text}")

        store = f"{work}/store.db"
        p = run([cli, "sweep", "collect", sweep, "--db", store], env=env, check=False)
        expect(p.returncode == 1 and f"--tasks {broken}" in p.stdout, f"collect with a failed task: exit {p.returncode}\n{p.stdout}{p.stderr}")

        with open(recipe, "w") as f:
            json.dump(good, f)
        out = run([cli, "sweep", "run", "--dir", sweep, "--slurm", "--tasks", str(broken)], env=env).stdout
        job2 = out.split("submitted Slurm job ")[1].split(",")[0]
        wait_for_queue(env, job2)
        p = run([cli, "sweep", "collect", sweep, "--db", store], env=env)
        expect("1 experiment added, 4 already there" in p.stdout, p.stdout)
        again = run([cli, "sweep", "collect", sweep, "--db", store], env=env).stdout
        expect("0 experiments added, 5 already there" in again, f"a second collect should add nothing:\n{again}")
        expect(os.path.exists(f"{sweep}/attempts/{broken}.1/task-{broken}.log"), "the failed attempt's log should be kept")

        slurm_runs, local_runs = by_name(cli, store), by_name(cli, f"{work}/local.db")
        expect(sorted(slurm_runs) == sorted(local_runs), f"Slurm {sorted(slurm_runs)} vs local {sorted(local_runs)}")
        expect(len(slurm_runs) == 5, f"four recipes and one sensitivity analysis, got {sorted(slurm_runs)}")
        for name in slurm_runs:
            expect(slurm_runs[name]["status"] == "completed", f"{name} is {slurm_runs[name]['status']}")
            same_metrics(slurm_runs[name], local_runs[name], name)
        print(f"ok: {len(slurm_runs)} experiments, each once, the same metrics as --local")
        return 0
    finally:
        if started:
            p = run(["bash", a.slurm_local, "stop"], env=env, check=False)
            print(p.stdout.strip(), p.stderr.strip())
            st = run(["bash", a.slurm_local, "status"], env=env, check=False).stdout
            if "running" in st:
                print("daemons still running after stop:\n" + st)
                sys.exit(1)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
