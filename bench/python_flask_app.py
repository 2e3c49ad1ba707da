"""The Flask app bench/python_flask_bench.py runs under gunicorn, in one of
three forms chosen by BENCH_MODE:

  bare        the app alone
  firebreak   the full kit: Service, firebreak.flask.instrument (RED
              metrics by route template, request id, the access-log line),
              a server span per request, 100% sampled and exported to a file
  prometheus  what a team writes by hand: prometheus_client's Histogram and
              Counter by route and status, and one JSON access-log line per
              request through logging
"""

import json
import logging
import os
import time

from flask import Flask, g, jsonify, request

app = Flask(__name__)
MODE = os.environ.get("BENCH_MODE", "bare")


@app.get("/items/<int:item_id>")
def item(item_id):
    return jsonify({"id": item_id, "name": "book", "price_cents": 1250})


if MODE == "firebreak":
    import firebreak
    import firebreak.flask

    service = firebreak.Service(name="bench-flask", admin_address="127.0.0.1:0",
                                multiprocess="off")
    firebreak.init_tracing(service)  # FIREBREAK_TRACES_FILE, OTEL_TRACES_SAMPLER from the bench
    service.start()
    service.mark_started()
    firebreak.flask.instrument(app, service)

elif MODE == "prometheus":
    import prometheus_client

    DURATION = prometheus_client.Histogram(
        "http_server_request_duration_seconds", "Request duration.",
        ["http_request_method", "http_route", "http_response_status_code"])
    log = logging.getLogger("access")
    handler = logging.FileHandler(os.environ["BENCH_LOG_FILE"])
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    @app.before_request
    def started():
        g.started = time.perf_counter()

    @app.after_request
    def observed(response):
        took = time.perf_counter() - g.started
        route = request.url_rule.rule if request.url_rule else ""
        DURATION.labels(request.method, route, str(response.status_code)).observe(took)
        log.info(json.dumps({"event": "http_request", "method": request.method,
                             "route": route, "status": response.status_code,
                             "duration_s": took}))
        return response
