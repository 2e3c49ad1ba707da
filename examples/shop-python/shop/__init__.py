"""The Python shop: an HTTP API, a worker and a daily job on one SQLite
database, observed with the firebreak package only (see README.md)."""
