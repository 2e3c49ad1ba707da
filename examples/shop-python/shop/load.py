"""shop-load: open-loop load on shop-api: orders and reads at --rate a second.
Prints one JSON line at the end: {"sent": N, "created": N, "errors": N}.

    python -m shop.load --target http://127.0.0.1:8080 --rate 20 --duration 10
"""

import argparse
import concurrent.futures
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request


def request(target, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(target + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def main(argv):
    parser = argparse.ArgumentParser(prog="shop-load")
    parser.add_argument("--target", default="http://127.0.0.1:8080")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=10, help="seconds; 0: until killed")
    args = parser.parse_args(argv)
    counts = {"sent": 0, "created": 0, "errors": 0}
    lock = threading.Lock()
    ids = []

    def one():
        if ids and random.random() < 0.3:
            status, _ = request(args.target, "GET", f"/orders/{random.choice(ids)}")
            ok = status == 200
        else:
            status, body = request(args.target, "POST", "/orders",
                                   {"item": random.choice(["book", "pen", "mug"]),
                                    "quantity": random.randint(1, 5)})
            ok = status == 201
            if ok:
                ids.append(json.loads(body)["id"])
        with lock:
            counts["sent"] += 1
            counts["created"] += status == 201
            counts["errors"] += not ok

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        n = 0
        while not args.duration or time.monotonic() - start < args.duration:
            pool.submit(one)
            n += 1
            delay = start + n / args.rate - time.monotonic()  # open loop: a fixed schedule
            if delay > 0:
                time.sleep(delay)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
