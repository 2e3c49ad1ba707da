#!/usr/bin/python3
"""Real TLS peers for the receiver and HTTP client tests.

  tls_peer.py certs DIR
      makes a test PKI with the openssl CLI: ca.pem/ca.key (the trusted CA),
      server.pem/server.key (signed by it, for localhost and 127.0.0.1),
      client.pem/client.key (a client certificate signed by it), and
      other-ca.pem/other-server.pem/other-server.key (a CA nobody trusts and
      a localhost certificate it signed).
  tls_peer.py https --cert C --key K [--client-ca CA] [--statuses 500,200] [--metrics]
      an HTTPS server on 127.0.0.1 (a free port); with --client-ca it
      requires a client certificate signed by CA. Answers each request with
      the next status of --statuses (then 200) and a small JSON body; with
      --metrics, a GET gets a small Prometheus text exposition instead (a
      scrape target).
  tls_peer.py smtp [--cert C --key K] [--user U --password P [--mechanisms LOGIN]]
                   [--data-reply "451 ..."]
      an SMTP server (aiosmtpd) on 127.0.0.1; with --cert it offers and
      requires STARTTLS; with --user it requires AUTH (PLAIN or LOGIN, or
      those of --mechanisms) after TLS; --data-reply answers DATA.

Each server prints "port N" on its first line of stdout, then one JSON object
a line for each request or message it receives, and runs until killed.
"""
import argparse
import asyncio
import http.server
import json
import os
import ssl
import subprocess
import sys


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    days = "2"

    def ca(name, cn):
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", p(name + ".key"), "-out", p(name + ".pem"), "-days", days,
            "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, cn, issuer, ext):
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + cn)
        with open(p(name + ".ext"), "w") as f:
            f.write(ext)
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"),
            "-CAkey", p(issuer + ".key"), "-CAcreateserial", "-out", p(name + ".pem"),
            "-days", days, "-extfile", p(name + ".ext"))

    server_ext = ("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                  "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    ca("ca", "Firebreak Test CA")
    leaf("server", "localhost", "ca", server_ext)
    leaf("client", "firebreak-test-client", "ca",
         "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    ca("other-ca", "Untrusted Test CA")
    leaf("other-server", "localhost", "other-ca", server_ext)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve_https(args):
    statuses = [int(s) for s in args.statuses.split(",") if s] if args.statuses else []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
            client_cn = None
            if peer:
                for rdn in peer.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            client_cn = v
            emit({"method": self.command, "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()},
                  "body": body, "client_cn": client_cn,
                  "sni": getattr(self.connection, "server_hostname_seen", None)})
            status = statuses.pop(0) if statuses else 200
            if args.metrics and self.command == "GET":
                content_type = "text/plain; version=0.0.4"
                out = (b"# HELP tls_peer_requests_total Requests served.\n"
                       b"# TYPE tls_peer_requests_total counter\n"
                       b"tls_peer_requests_total 1\n")
            else:
                content_type = "application/json"
                out = json.dumps({"status": "success" if status < 300 else "error",
                                  "message": "test peer"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = handle_any

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    sni_seen = {}

    def on_sni(sock, name, _ctx):
        sni_seen["last"] = name

    ctx.sni_callback = on_sni
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)

    orig = Handler.setup

    def setup(self):
        orig(self)
        self.connection.server_hostname_seen = sni_seen.get("last")

    Handler.setup = setup
    emit_port(server.server_address[1])
    server.serve_forever()


def emit_port(port):
    sys.stdout.write("port %d\n" % port)
    sys.stdout.flush()


def serve_smtp(args):
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            emit({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "data": envelope.content.decode("utf-8", "replace"),
                  "tls": session.ssl is not None,
                  "auth_user": (session.auth_data.login.decode()
                                if isinstance(session.auth_data, LoginPassword) else None),
                  "helo": session.host_name})
            return args.data_reply or "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        kw = {}
        if args.user:
            kw = dict(auth_required=True, auth_require_tls=ctx is not None,
                      authenticator=authenticator)
            if args.mechanisms:
                offered = set(args.mechanisms.split(","))
                kw["auth_exclude_mechanism"] = [m for m in ("LOGIN", "PLAIN") if m not in offered]
        return SMTP(Handler(), hostname="smtp.test", tls_context=ctx,
                    require_starttls=ctx is not None, loop=loop, **kw)

    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    emit_port(server.sockets[0].getsockname()[1])
    loop.run_forever()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("certs")
    c.add_argument("dir")
    h = sub.add_parser("https")
    h.add_argument("--cert", required=True)
    h.add_argument("--key", required=True)
    h.add_argument("--client-ca")
    h.add_argument("--statuses", default="")
    h.add_argument("--metrics", action="store_true")
    s = sub.add_parser("smtp")
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("--data-reply")
    s.add_argument("--mechanisms", help="comma-separated AUTH mechanisms to offer")
    args = ap.parse_args()
    if args.cmd == "certs":
        make_certs(args.dir)
    elif args.cmd == "https":
        serve_https(args)
    else:
        serve_smtp(args)


if __name__ == "__main__":
    main()
