"""Multi-process mode for pre-fork servers (gunicorn, uwsgi, multiprocessing).

Every process of the service records into its own slot of one shared file;
one small admin process, started by the pre-fork master, serves the
service's single admin port: /metrics merges every process (exited ones'
counts included), /readyz passes when every live process is ready.

In a gunicorn config file (it runs in the master, before any worker):

    import firebreak.multiprocess
    firebreak.multiprocess.serve(name="shop-api", admin_address="0.0.0.0:9464")

and in the application, as without multi-process mode:

    service = firebreak.Service(name="shop-api")   # joins: the file is in the environment
    service.start()
    service.mark_started()

No gunicorn hook is needed. With `preload_app`, create the Service in a
`post_fork` hook instead of at import (the Service runs threads, which a
fork does not copy).

Run as `python -m firebreak.multiprocess --file F --address A --master PID
--name N` it is that admin process.
"""

import argparse
import importlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

ENV_FILE = "FIREBREAK_MULTIPROCESS_FILE"

__all__ = ["ENV_FILE", "AdminProcess", "serve"]


class AdminProcess:
    """The running admin process: `process` (a Popen), the bound `address`
    and the shared `file`."""

    def __init__(self, process: "subprocess.Popen[bytes]", address: str, file: str) -> None:
        self.process = process
        self.address = address
        self.file = file


def serve(*, name: str = "", version: str = "", environment: str = "", workload: str = "api",
          admin_address: str = "127.0.0.1:9464", file: Optional[str] = None,
          ready_when_all: bool = True, max_processes: int = 64,
          setup: Optional[str] = None, timeout: float = 10.0) -> AdminProcess:
    """Starts the admin process for the processes this one will fork, waits
    until it has created the shared file and bound the admin address, and
    sets FIREBREAK_MULTIPROCESS_FILE so that every Service created in a child
    joins it. The admin process exits when this process does, and removes
    the file; its output is this process's. Raises MultiprocessError when it
    does not come up within `timeout` seconds (e.g. the address is taken).

    `setup`, "module:function", is called in the admin process with its
    Service before the port opens: to add admin handlers (a fault switch,
    say: Service.add_admin_handler) or service-level readiness checks."""
    from ._core import MultiprocessError

    if file is None:
        file = os.path.join(tempfile.gettempdir(),
                            f"firebreak-{name or 'service'}-{os.getpid()}.fbm")
    read_end, write_end = os.pipe()
    args = [sys.executable, "-m", "firebreak.multiprocess", "--file", file,
            "--address", admin_address, "--master", str(os.getpid()), "--name", name,
            "--version", version, "--environment", environment, "--workload", workload,
            "--max-processes", str(max_processes), "--ready-fd", str(write_end)]
    if not ready_when_all:
        args.append("--ready-when-any")
    if setup:
        args += ["--setup", setup]
    try:
        admin = subprocess.Popen(args, stdin=subprocess.DEVNULL, pass_fds=[write_end])
    finally:
        os.close(write_end)
    try:
        # One line, the bound address, once the file exists and the port is bound.
        ready, _, _ = select.select([read_end], [], [], timeout)
        line = os.read(read_end, 256).decode() if ready else ""
    finally:
        os.close(read_end)
    if not line.endswith("\n"):
        if admin.poll() is None:
            admin.kill()
        admin.wait()
        raise MultiprocessError(
            f"the admin process did not come up (status {admin.returncode}); see its output")
    os.environ[ENV_FILE] = file
    return AdminProcess(admin, line.strip(), file)


def _main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m firebreak.multiprocess")
    parser.add_argument("--file", required=True)
    parser.add_argument("--address", default="127.0.0.1:9464")
    parser.add_argument("--master", type=int, required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--version", default="")
    parser.add_argument("--environment", default="")
    parser.add_argument("--workload", default="api")
    parser.add_argument("--max-processes", type=int, default=64)
    parser.add_argument("--ready-when-any", action="store_true")
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("--setup", default="")
    args = parser.parse_args(argv)

    from . import Service, log

    # The master owns the terminal's signals: a Ctrl-C there stops it, and we
    # follow it out when it is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    service = Service(name=args.name, version=args.version, environment=args.environment,
                      workload=args.workload, admin_address=args.address, drain_time=0,
                      multiprocess="serve", multiprocess_file=args.file,
                      ready_when_all=not args.ready_when_any,
                      max_processes=args.max_processes, multiprocess_master=args.master)
    try:  # from here on the file is ours to remove
        if args.setup:
            module, _, function = args.setup.partition(":")
            getattr(importlib.import_module(module), function)(service)
        service.start()
        service.mark_started()
        log.info("listening", "", server="admin", address=service.admin_address)
        if args.ready_fd >= 0:
            os.write(args.ready_fd, (service.admin_address + "\n").encode())
            os.close(args.ready_fd)
        while not stopping and os.getppid() == args.master:
            time.sleep(0.1)
    finally:
        try:
            os.unlink(args.file)
        except FileNotFoundError:
            pass
        service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
