"""Fault switches, to break the shop on purpose (README.md, "Fault switches").

Kept in the database, so that every process of a service sees them: the
gunicorn workers of the API read what its admin process wrote. Set at start
(SHOP_FAULTS='{"slow_ms": 300}') or at run time on the admin port:

    curl -d '{"stall": true}' http://127.0.0.1:9465/fault     # false or 0 clears
"""

import json
import os
import threading
import time

import firebreak

from . import db

KNOWN = {
    "api": {"never_ready": False, "not_ready": False, "slow_ms": 0, "error_rate": 0.0},
    "worker": {"stall": False, "slow_ms": 0, "fail_rate": 0.0},
    "daily": {"fail": False, "slow_ms": 0},
}


class Faults:
    """One service's switches, read through a short cache (a request or a
    loop turn never waits on more than one read every 200 ms)."""

    def __init__(self, service):
        self.service = service
        self._lock = threading.Lock()
        self._cached = dict(KNOWN[service])
        self._read_at = 0.0

    def get(self, name):
        with self._lock:
            if time.monotonic() - self._read_at > 0.2:
                row = db.connect().execute("SELECT switches FROM faults WHERE service = ?",
                                           (self.service,)).fetchone()
                self._cached = {**KNOWN[self.service], **(json.loads(row[0]) if row else {})}
                self._read_at = time.monotonic()
            return self._cached[name]

    def set(self, changes):
        """Applies every switch in `changes` or none (ValueError naming the bad one)."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of switches")
        known = KNOWN[self.service]
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(known))})")
            if isinstance(known[name], bool) and not isinstance(value, bool):
                raise ValueError(f"fault {name!r} takes true or false")
            if not isinstance(known[name], bool) and (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"fault {name!r} takes a number >= 0")
        conn = db.connect()
        with db.write(conn):
            row = conn.execute("SELECT switches FROM faults WHERE service = ?",
                               (self.service,)).fetchone()
            current = {**KNOWN[self.service], **(json.loads(row[0]) if row else {}), **changes}
            conn.execute("INSERT OR REPLACE INTO faults (service, switches) VALUES (?, ?)",
                         (self.service, json.dumps(current)))
        with self._lock:
            self._read_at = 0.0
        return current

    def admin_handler(self, method, path, query, headers, body):
        """POST /fault {"name": value, ...}; GET /fault shows the switches."""
        try:
            if method == "POST":
                current = self.set(json.loads(body or b"{}"))
                firebreak.log.warn("fault_set", "Fault switches changed", faults=current)
            else:
                self.get("slow_ms")
                current = dict(self._cached)
        except ValueError as error:  # json.JSONDecodeError too
            return 400, json.dumps({"error": str(error)}) + "\n", "application/json"
        return 200, json.dumps(current) + "\n", "application/json"

    def install(self, service):
        """Serves /fault on the service's admin port; applies SHOP_FAULTS."""
        if os.environ.get("SHOP_FAULTS"):
            self.set(json.loads(os.environ["SHOP_FAULTS"]))
        service.add_admin_handler("POST", "/fault", self.admin_handler)
        service.add_admin_handler("GET", "/fault", self.admin_handler)


def api_admin_setup(service):
    """firebreak.multiprocess.serve(setup=...) for the API's admin process."""
    Faults("api").install(service)
