"""The fio side of `cargo xtask bench`: Debian's fio, whose nbd engine
links libnbd.so.0, runs one workload; this prints the bench's JSON line.

Run twice, unchanged: once as it is (Debian's libnbd) and once with
LD_LIBRARY_PATH naming our libnbd.so.0. The library the loader resolves
for fio under this environment is reported as "lib", so the bench can
check that each side ran the library it names.

Usage: fio_bench.py WORKLOAD URI AMOUNT

  fio-randread-qd1    AMOUNT random 4 KiB reads, one at a time
  fio-randread-qd64   AMOUNT random 4 KiB reads, 64 in flight
  fio-read-256k-qd64  AMOUNT bytes read from offset 0, 256 KiB x 64
  fio-randwrite-qd64  AMOUNT random 4 KiB writes, 64 in flight

AMOUNT 0 does a single request (for the syscall counting pass).
"""

import json
import re
import shutil
import subprocess
import sys

WORKLOADS = {
    # name: (rw, block size, queue depth, AMOUNT counts requests)
    "fio-randread-qd1": ("randread", 4096, 1, True),
    "fio-randread-qd64": ("randread", 4096, 64, True),
    "fio-read-256k-qd64": ("read", 256 * 1024, 64, False),
    "fio-randwrite-qd64": ("randwrite", 4096, 64, True),
}


def loaded_libnbd(fio):
    """The libnbd.so.0 the dynamic loader picks for fio here."""
    out = subprocess.run(["ldd", fio], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"libnbd\.so\.0 => (\S+)", out)
    if not m:
        sys.exit("fio_bench: fio does not link libnbd.so.0")
    return m.group(1)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: fio_bench.py WORKLOAD URI AMOUNT")
    workload, uri, amount = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if workload not in WORKLOADS:
        sys.exit("fio_bench: unknown workload %s" % workload)
    rw, bs, qd, counts_requests = WORKLOADS[workload]
    fio = shutil.which("fio")
    if fio is None:
        sys.exit("fio_bench: fio is not installed")
    io_size = amount * bs if counts_requests else amount
    io_size = max(io_size, bs)
    argv = [fio, "--name=bench", "--ioengine=nbd", "--uri=" + uri,
            "--rw=" + rw, "--bs=%d" % bs, "--iodepth=%d" % qd,
            "--io_size=%d" % io_size, "--randrepeat=1", "--norandommap",
            "--output-format=json"]
    run = subprocess.run(argv, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("fio_bench: fio failed: %s" % run.stderr.strip()[-300:])
    # fio may print notes before its JSON.
    report = json.loads(run.stdout[run.stdout.index("{"):])
    job = report["jobs"][0]
    side = job["write"] if rw.endswith("write") else job["read"]
    if job.get("error"):
        sys.exit("fio_bench: the job failed: error %s" % job["error"])
    secs = side["runtime"] / 1000.0
    version = subprocess.run([fio, "--version"], capture_output=True,
                             text=True).stdout.strip()
    print(json.dumps({
        "workload": workload,
        "side": "fio",
        "lib": loaded_libnbd(fio),
        "version": version,
        "ops": side["total_ios"],
        "bytes": side["io_bytes"],
        "secs": secs,
        # fio reports the CPU of its job as percentages of the run.
        "user": job["usr_cpu"] / 100.0 * secs,
        "sys": job["sys_cpu"] / 100.0 * secs,
        "lat_us": side["lat_ns"]["mean"] / 1000.0 if qd == 1 else 0.0,
        "multi_conn": None,
    }))


if __name__ == "__main__":
    main()
