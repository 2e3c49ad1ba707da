"""gunicorn config for shop-api: 4 workers recycled every SHOP_MAX_REQUESTS
requests, one admin port for all of them (SHOP_API_ADMIN, default
127.0.0.1:9464) served by firebreak's admin process with the /fault switch.

    SHOP_DB=/tmp/shop.db gunicorn -c shop/gunicorn_conf.py shop.api:app
"""

import os

import firebreak.multiprocess

bind = os.environ.get("SHOP_API_LISTEN", "127.0.0.1:8080")
workers = int(os.environ.get("SHOP_API_WORKERS", "4"))
max_requests = int(os.environ.get("SHOP_MAX_REQUESTS", "1000"))
max_requests_jitter = max_requests // 4
graceful_timeout = 5
accesslog = None  # the kit writes one access-log line per request

firebreak.multiprocess.serve(
    name="shop-api", version="1.0.0", workload="api",
    admin_address=os.environ.get("SHOP_API_ADMIN", "127.0.0.1:9464"),
    file=os.environ.get("SHOP_METRICS_FILE"),  # default: the temporary directory
    setup="shop.faults:api_admin_setup")
