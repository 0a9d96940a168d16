"""Shared bits of the Python benchmarks: which build to measure, and how a result is printed."""
import json
import os


def use_build(build):
    """Point the test harness at BUILD's binaries (before `import harness`, which reads them
    from the environment). Returns BUILD as an absolute path."""
    b = os.path.abspath(build)
    os.environ.update(PICOD=f"{b}/daemon/picod", PICOCTL=f"{b}/client/picoctl",
                      PICOSIM=f"{b}/firmware/picosim")
    return b


def print_result(out, as_json):
    """One JSON object (--json), or one "key: value" line per figure."""
    if as_json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


def proc_status(pid, key, missing=0):
    """The number of a "Key: N [kB]" line of /proc/PID/status (VmRSS in KiB, ctxt switches, ...);
    missing if there is none."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return missing
