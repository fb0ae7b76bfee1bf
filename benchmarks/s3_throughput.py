"""Write and read throughput through s3fs against a local S3 API server (moto's server mode).

Starts ``ThreadedMotoServer`` on 127.0.0.1, then writes ``--objects`` objects of ``--size-mib`` each the
way pairsift writes an output (one ``put_file`` of a finished local file per object), reads them back
with ``cat_file``, and prints MiB/s for both, plus the per-object latency of small objects (a score
table's completion marker is one such object). The figures are the local server's (moto keeps objects
in memory, in Python): a floor for what pairsift's own side costs, not a cloud store's speed.

    python benchmarks/s3_throughput.py
    python benchmarks/s3_throughput.py --objects 16 --size-mib 64
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

KEY, SECRET = "bench-key", "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--small", type=int, default=200, help="small (1 KiB) objects for the latency figure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ |= {"AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}

    import s3fs
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=f"http://127.0.0.1:{port}")
        fs.mkdir("bench")
        with tempfile.TemporaryDirectory(prefix="pairsift-s3-") as tmp:
            local = Path(tmp) / "object.bin"
            local.write_bytes(os.urandom(args.size_mib << 20))
            total = args.objects * args.size_mib
            start = time.perf_counter()
            for i in range(args.objects):
                fs.put_file(str(local), f"bench/big/{i:05d}.bin")
            write_s = time.perf_counter() - start
            start = time.perf_counter()
            for i in range(args.objects):
                fs.cat_file(f"bench/big/{i:05d}.bin")
            read_s = time.perf_counter() - start
            small = Path(tmp) / "small.bin"
            small.write_bytes(os.urandom(1024))
            start = time.perf_counter()
            for i in range(args.small):
                fs.put_file(str(small), f"bench/small/{i:05d}.json")
            small_s = time.perf_counter() - start
        print(f"local S3 server (moto server mode), s3fs {s3fs.__version__}")
        print(f"write: {args.objects} x {args.size_mib} MiB in {write_s:.2f} s = {total / write_s:.0f} MiB/s")
        print(f"read:  {args.objects} x {args.size_mib} MiB in {read_s:.2f} s = {total / read_s:.0f} MiB/s")
        print(
            f"small: {args.small} x 1 KiB puts in {small_s:.2f} s = {1000 * small_s / args.small:.1f} ms each"
        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
