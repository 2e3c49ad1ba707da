"""shop-api: a Flask app served by gunicorn (gunicorn_conf.py), one admin
port for all its workers (firebreak's multi-process mode).

    POST /orders {"item": "book", "quantity": 2}   201 {"id": N}; 400 naming the bad field
    GET  /orders/<id>                                200 the order; 404
"""

import math
import random
import time

import firebreak
import firebreak.flask
from flask import Flask, jsonify, request

from . import db
from .faults import Faults

# Under gunicorn this joins the service's shared metrics (the environment
# says where); run alone (flask run) it serves its own admin port.
service = firebreak.Service(name="shop-api", version="1.0.0", workload="api",
                            admin_address="127.0.0.1:0")
faults = Faults("api")
service.health.add_readiness("faults", lambda: (not faults.get("never_ready")
                                                and not faults.get("not_ready"),
                                                "fault switch set"), interval=0.5)
service.health.add_readiness("database", lambda: db.connect().execute("SELECT 1").fetchone()
                             is not None, interval=1.0)
orders_created = service.registry.counter("shop_orders_created_total", "Orders accepted.")
service.start()
service.mark_started()

app = Flask(__name__)
firebreak.flask.instrument(app, service)


def problem(status, detail):
    return jsonify({"status": status, "detail": detail}), status


@app.before_request
def apply_faults():
    slow_ms = faults.get("slow_ms")
    if slow_ms:
        time.sleep(slow_ms / 1000)
    if random.random() < faults.get("error_rate"):
        return problem(500, "fault switch error_rate")
    return None


@app.post("/orders")
def create_order():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, "the body must be a JSON object")
    item, quantity = body.get("item"), body.get("quantity")
    if not isinstance(item, str) or not 0 < len(item) <= 100:
        return problem(400, "item: a string of 1 to 100 characters")
    # 1e309 parses as inf: client input never becomes a 500.
    if (isinstance(quantity, bool) or not isinstance(quantity, (int, float))
            or not math.isfinite(quantity) or quantity != int(quantity)
            or not 1 <= quantity <= 1000):
        return problem(400, "quantity: a whole number from 1 to 1000")
    headers = {}
    with firebreak.span("create orders", kind="producer"):
        firebreak.inject(headers)  # the worker's consumer span joins this trace
        order_id = db.create_order(item, int(quantity), headers)
    orders_created.labels().inc()
    return jsonify({"id": order_id}), 201


@app.get("/orders/<int:order_id>")
def get_order(order_id):
    order = db.get_order(order_id)
    if order is None:
        return problem(404, f"no order {order_id}")
    return jsonify(order)
