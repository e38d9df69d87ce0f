"""Hardening of `logify serve` (issue 14): what a hostile or careless client
tries. Each test starts its own server on 127.0.0.1 and checks it exits 0.
Bounded: at most a few hundred sockets, each test a few seconds, outcomes
asserted with generous bounds (a loaded 2-core machine, the ASan build).
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_hardening.py"""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import Server, metric, wait_for  # noqa: E402


def connect_from(src, port, timeout=10):
    """A socket to 127.0.0.1:port from the loopback address src (any 127/8
    address is ours on Linux), so that 'other clients' have other addresses."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s, wait):
    """True when the server closed (or reset) s within `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def healthz_from(src, port, timeout=10):
    s = connect_from(src, port, timeout)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            got = s.recv(4096)
            if not got:
                break
            data += got
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


class Slowloris(unittest.TestCase):
    """Item 6: slow request heads must not take /healthz down."""

    def test_trickled_heads_are_cut_and_healthz_answers(self):
        # 100 connections in all; the attacker tries 200 from one address
        srv = Server("--max-connections", "100", "--max-per-ip", "16", "--head-timeout", "2",
                     "--timeout", "30", "--quiet")
        attackers, stop = [], threading.Event()
        try:
            for _ in range(200):
                try:
                    s = connect_from("127.0.0.2", srv.port, timeout=5)
                    s.sendall(b"GET /healthz HTTP/1.1\r\n")
                    attackers.append(s)
                except OSError:
                    pass  # refused or reset: fine

            def trickle():  # one header line every 0.5 s on every socket still open
                i = 0
                while not stop.wait(0.5):
                    i += 1
                    for s in attackers:
                        try:
                            s.sendall(b"X-Slow-%d: 1\r\n" % i)
                        except OSError:
                            pass
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            # other clients are served while it goes on
            ok = sum(healthz_from("127.0.0.1", srv.port) for _ in range(30))
            self.assertEqual(ok, 30, "/healthz answered %d of 30 during the attack" % ok)
            # every trickling connection was cut: by the per-address limit at
            # once, or by the head deadline (2 s) long before the idle timeout
            open_after = sum(not closed_by_peer(s, 15) for s in attackers)
            stop.set()
            t.join()
            self.assertEqual(open_after, 0, "%d trickling connections still open" % open_after)
            self.assertGreaterEqual(metric(srv, "logify_http_head_timeouts_total"), 1)
            self.assertTrue(healthz_from("127.0.0.2", srv.port), "the attacker's address is served again")
        finally:
            stop.set()
            for s in attackers:
                s.close()
            self.assertEqual(srv.close(), 0, "server exit code")


if __name__ == "__main__":
    unittest.main(verbosity=2)
