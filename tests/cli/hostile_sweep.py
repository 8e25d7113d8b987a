#!/usr/bin/env python3
"""The hostile-input sweep through the real quench-cli, as the tester ran it (issue 18).

Every case must end with exit 0 (a harmless value: finite logits written) or exit 1 or 2 with the
error on one line naming the file and the key, tensor or option; never a signal, never more than
--timeout seconds, never more than 1 GB of peak memory (the child's ru_maxrss, from wait4).

    tests/cli/hostile_sweep.py --cli build/app/cli/quench-cli [--quick] [--families a,b]

Cases:
  config    every numeric config.json value (nested ones too) of each family's tiny fixture set to
            0, -1 and 2^40 (floats also to 0.0 and -1.0), through `forward`
  nonfinite a NaN and an Inf weight, through forward, eval, calibrate and compress
  bomb      a 70-byte PNG whose header claims 100000 x 100000, through eval --image-folder
  threads   QUENCH_THREADS at 100000, -5, 0 and "many"
  devices   /dev/zero, a FIFO and a folder where a text, recipe, config.json, tokenizer.json,
            model.safetensors or IDX file belongs
--quick (CI): the config cases of one family (mamba2-tiny) and every other case.
Standard library only. Prints one line per failing case and a summary; exits 1 if any failed.
"""
import argparse
import json
import math
import os
import shutil
import signal
import struct
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "hf-tiny")
DEMO = os.path.join(ROOT, "resources", "demo")
FAMILIES = ["llama-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gpt2-tiny", "mamba-tiny", "mamba2-tiny", "vit-tiny",
            "resnet-tiny", "resnet-bottleneck-tiny"]
MAX_RSS_KB = 1024 * 1024


class Sweep:
    def __init__(self, cli, timeout, work):
        self.cli, self.timeout, self.work = cli, timeout, work
        self.cases = self.failures = 0
        self.peak_kb = 0
        self.by_outcome = {}

    def run(self, args, env=None):
        """Runs quench-cli; returns (status, stderr, maxrss kB); status is -signal or 'timeout'."""
        err_path = os.path.join(self.work, "stderr.txt")
        with open(err_path, "wb") as err, open(os.devnull, "wb") as out:
            pid = os.fork()
            if pid == 0:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.setpgid(0, 0)
                os.execve(self.cli, [self.cli] + args, {**os.environ, **(env or {})})
            deadline = time.time() + self.timeout
            while True:
                wpid, status, ru = os.wait4(pid, os.WNOHANG)
                if wpid:
                    break
                if time.time() > deadline:
                    os.killpg(pid, signal.SIGKILL)
                    _, status, ru = os.wait4(pid, 0)
                    return "timeout", open(err_path, errors="replace").read(), ru.ru_maxrss
                time.sleep(0.02)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
        return code, open(err_path, errors="replace").read(), ru.ru_maxrss

    def check(self, label, args, must_name, env=None, allow_ok=False, ok_check=None, ok_must_warn=None):
        """One case. must_name: strings the error line must contain (file, key, tensor, option)."""
        self.cases += 1
        code, err, rss = self.run(args, env)
        self.peak_kb = max(self.peak_kb, rss)
        lines = [l for l in err.splitlines() if l.strip() and not l.startswith("warning:")]
        problem = None
        if code == "timeout":
            problem = "no result after %d s" % self.timeout
        elif code < 0:
            problem = "killed by signal %d" % -code
        elif rss > MAX_RSS_KB:
            problem = "peak memory %.2f GB" % (rss / 1048576)
        elif code == 0:
            if not allow_ok:
                problem = "accepted (exit 0)"
            elif ok_check:
                problem = ok_check()
            if ok_must_warn and ok_must_warn not in err:
                problem = "exit 0 without the warning '%s'" % ok_must_warn
        elif code not in (1, 2):
            problem = "exit %d" % code
        elif len(lines) != 1:
            problem = "%d lines of error" % len(lines)
        else:
            missing = [s for s in must_name if s not in lines[0]]
            if missing:
                problem = "the error does not name %s" % ", ".join(repr(m) for m in missing)
        outcome = "ok" if code == 0 else "refused"
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1
        if problem:
            self.failures += 1
            print("FAIL %s: %s\n     %s" % (label, problem, err.strip().replace("\n", "\n     ")[:600]))


def numeric_paths(j, prefix=""):
    for k, v in j.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            yield prefix + k, isinstance(v, float)
        elif isinstance(v, dict):
            yield from numeric_paths(v, prefix + k + ".")


def set_path(j, path, value):
    *parents, leaf = path.split(".")
    for p in parents:
        j = j[p]
    j[leaf] = value


def linked_copy(src, dst, skip=()):
    os.makedirs(dst)
    for f in os.listdir(src):
        if f not in skip:
            os.symlink(os.path.join(src, f), os.path.join(dst, f))


def logits_finite(path):
    """forward's output: every value of the float32 'logits' finite."""
    def check():
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            base = 8 + n
            info = header["logits"]
            f.seek(base + info["data_offsets"][0])
            data = f.read(info["data_offsets"][1] - info["data_offsets"][0])
        values = struct.unpack("<%df" % (len(data) // 4), data)
        return None if all(math.isfinite(v) for v in values) else "exit 0 with non-finite logits"
    return check


def config_cases(s, family):
    src = os.path.join(FIXTURES, family)
    base = json.load(open(os.path.join(src, "config.json")))
    inputs = os.path.join(src, "reference.safetensors")
    for i, (path, is_float) in enumerate(numeric_paths(base)):
        values = [0, -1, 1 << 40] + ([0.0, -1.0] if is_float else [])
        for v in values:
            d = os.path.join(s.work, "%s-%d-%s" % (family, i, v))
            linked_copy(src, d, skip=("config.json",))
            cfg = json.loads(json.dumps(base))
            set_path(cfg, path, v)
            json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
            out = os.path.join(d, "logits.safetensors")
            s.check("%s: %s = %s" % (family, path, v), ["forward", d, "--inputs", inputs, "--out", out],
                    [os.path.join(d, "config.json"), path.split(".")[-1]], allow_ok=True, ok_check=logits_finite(out))
            shutil.rmtree(d)


def poisoned_copy(s, src, tensor, value, name):
    """A copy of a model whose `tensor` has `value` as its first element (F32, F16 or BF16 files)."""
    d = os.path.join(s.work, name)
    linked_copy(src, d, skip=("model.safetensors",))
    data = bytearray(open(os.path.join(src, "model.safetensors"), "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    info = json.loads(data[8:8 + n])[tensor]
    at = 8 + n + info["data_offsets"][0]
    if info["dtype"] == "F32":
        data[at:at + 4] = struct.pack("<f", value)
    elif info["dtype"] == "F16":
        data[at:at + 2] = struct.pack("<e", value)
    elif info["dtype"] == "BF16":
        data[at:at + 2] = struct.pack("<f", value)[2:]  # bfloat16: the upper half of a float32
    else:
        raise SystemExit("poisoned_copy: %s is %s" % (tensor, info["dtype"]))
    open(os.path.join(d, "model.safetensors"), "wb").write(data)
    return d


def nonfinite_cases(s):
    calib = os.path.join(DEMO, "sotu-calib.txt")
    tensor = "model.layers.0.mlp.up_proj.weight"
    for name, value in [("nan", float("nan")), ("inf", float("inf"))]:
        d = poisoned_copy(s, os.path.join(DEMO, "sotu-llama"), tensor, value, "sotu-" + name)
        for cmd in (["forward", d, "--inputs", os.path.join(FIXTURES, "llama-tiny", "reference.safetensors"),
                     "--out", os.path.join(s.work, "o.safetensors")],
                    ["eval", d, "--text", calib, "--max-windows", "2", "--no-record"],
                    ["calibrate", d, "--text", calib, "--samples", "2", "--seq", "32", "--no-record"],
                    ["compress", d, "--recipe", "W8A16", "--no-record", "--measure-samples", "0"]):
            s.check("%s weight: %s" % (name, cmd[0]), cmd, [tensor])


def png(width, height, body=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + body + chunk(b"IEND", b"")


def bomb_cases(s):
    folder = os.path.join(s.work, "bomb")
    os.makedirs(os.path.join(folder, "0"))
    bomb = os.path.join(folder, "0", "bomb.png")
    # IHDR claims 100000 x 100000 gray pixels (10 GB); one tiny IDAT follows: 70 bytes in all.
    idat = zlib.compress(b"\x00" * 16)
    open(bomb, "wb").write(png(100000, 100000, struct.pack(">I", len(idat)) + b"IDAT" + idat +
                               struct.pack(">I", zlib.crc32(b"IDAT" + idat) & 0xFFFFFFFF)))
    s.check("PNG bomb: eval --image-folder", ["eval", os.path.join(DEMO, "mnist-vit"), "--image-folder", folder, "--no-record"],
            [bomb, "100000"])


def thread_cases(s):
    model = os.path.join(FIXTURES, "llama-tiny")
    s.check("QUENCH_THREADS=100000", ["inspect", model], [], env={"QUENCH_THREADS": "100000"}, allow_ok=True,
            ok_must_warn="QUENCH_THREADS")
    for v in ["-5", "0", "many"]:
        s.check("QUENCH_THREADS=" + v, ["inspect", model], ["QUENCH_THREADS"], env={"QUENCH_THREADS": v}, allow_ok=True,
                ok_must_warn="QUENCH_THREADS")


def device_cases(s):
    fifo = os.path.join(s.work, "fifo")
    os.mkfifo(fifo)
    folder = os.path.join(s.work, "folder")
    os.makedirs(folder)
    llama = os.path.join(DEMO, "sotu-llama")
    for bad in ["/dev/zero", fifo, folder]:
        s.check("--text %s" % bad, ["eval", llama, "--text", bad, "--no-record"], [bad])
        s.check("--recipe %s" % bad, ["compress", llama, "--recipe", bad, "--no-record"], [bad])
        s.check("--images %s" % bad, ["eval", os.path.join(DEMO, "mnist-vit"), "--images", bad, "--labels", bad, "--no-record"],
                [bad])
    for member in ["config.json", "tokenizer.json", "model.safetensors"]:
        for bad in ["/dev/zero", fifo]:
            d = os.path.join(s.work, "dev-%s-%s" % (member, os.path.basename(bad)))
            linked_copy(llama, d, skip=(member,))
            os.symlink(bad, os.path.join(d, member))
            cmd = (["tokenize", d, "--text", os.path.join(DEMO, "sotu-calib.txt")] if member == "tokenizer.json"
                   else ["inspect", d])
            s.check("%s -> %s" % (member, bad), cmd, [os.path.join(d, member)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--quick", action="store_true", help="CI: config cases of one family only")
    ap.add_argument("--families", help="comma-separated fixture names for the config cases")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    families = a.families.split(",") if a.families else (["mamba2-tiny"] if a.quick else FAMILIES)
    work = tempfile.mkdtemp(prefix="quench-sweep-")
    s = Sweep(os.path.abspath(a.cli), a.timeout, work)
    t0 = time.time()
    try:
        for f in families:
            config_cases(s, f)
        nonfinite_cases(s)
        bomb_cases(s)
        thread_cases(s)
        device_cases(s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("hostile sweep: %d cases (%s) in %.0f s, peak memory %.0f MB, %d failed" % (
        s.cases, ", ".join("%d %s" % (n, k) for k, n in sorted(s.by_outcome.items())), time.time() - t0,
        s.peak_kb / 1024, s.failures))
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
