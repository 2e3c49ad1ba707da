"""What the single-process services (worker, daily loop) do to start."""

import signal

import firebreak


def start(service):
    """SIGTERM and SIGINT drain the service (not ready at once, then exit);
    starts its admin server, opens the start-up gate, and logs `listening`."""
    signal.signal(signal.SIGTERM, lambda *_: service.drain())
    signal.signal(signal.SIGINT, lambda *_: service.drain())
    service.start()
    service.mark_started()
    firebreak.log.info("listening", "", server="admin", address=service.admin_address)
