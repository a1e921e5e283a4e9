#!/usr/bin/env python3
"""tests/e2e/dnsbl_helper.py - helpers for tests/e2e/dnsbl.sh (loopback only)

  proxy --port P --upstream U [--drop PREFIX]... [--slow PREFIX]... [--delay S]
      UDP DNS proxy on 127.0.0.1:P forwarding to 127.0.0.1:U; queries whose
      name starts with a --drop prefix are never answered (a server that
      drops the query), --slow ones are answered after --delay seconds.
  sink --port P --dir D
      minimal SMTP server on 127.0.0.1:P saving each message as D/N.eml
  send --port P --addr IP --file F
      one SMTP transaction with XFORWARD ADDR=IP; prints "CODE SECONDS"
"""
import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib_smtpload import Client  # noqa: E402


def qname(pkt):
    labels, i = [], 12
    while i < len(pkt):
        n = pkt[i]
        if n == 0 or n & 0xC0:
            break
        labels.append(pkt[i + 1:i + 1 + n].decode("latin-1").lower())
        i += 1 + n
    return ".".join(labels)


def cmd_proxy(a):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", a.port))
    lock = threading.Lock()

    def handle(pkt, peer):
        name = qname(pkt)
        if any(name.startswith(p) for p in a.drop):
            return
        if any(name.startswith(p) for p in a.slow):
            time.sleep(a.delay)
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(3)
        try:
            up.sendto(pkt, ("127.0.0.1", a.upstream))
            ans, _ = up.recvfrom(65535)
            with lock:
                srv.sendto(ans, peer)
        except OSError:
            pass
        finally:
            up.close()

    print("ready", flush=True)
    while True:
        pkt, peer = srv.recvfrom(65535)
        threading.Thread(target=handle, args=(pkt, peer), daemon=True).start()


def cmd_sink(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(64)
    seq = [0]
    lock = threading.Lock()

    def serve(c):
        f = c.makefile("rb")
        c.sendall(b"220 sink\r\n")
        while True:
            line = f.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"DATA":
                c.sendall(b"354 go\r\n")
                body = []
                while True:
                    dl = f.readline()
                    if not dl or dl.rstrip(b"\r\n") == b".":
                        break
                    body.append(dl[1:] if dl.startswith(b"..") else dl)
                with lock:
                    seq[0] += 1
                    n = seq[0]
                with open(os.path.join(a.dir, "%d.eml" % n), "wb") as out:
                    out.write(b"".join(body))
                c.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            elif verb in (b"EHLO", b"HELO"):
                c.sendall(b"250 sink\r\n")
            else:
                c.sendall(b"250 ok\r\n")
        c.close()

    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def cmd_send(a):
    body = open(a.file, "rb").read()
    t0 = time.time()
    c = Client("127.0.0.1", a.port, timeout=30)
    c.cmd("EHLO e2e.test")
    c.cmd("XFORWARD ADDR=%s NAME=[UNAVAILABLE] HELO=relay.test" % a.addr)
    c.cmd("MAIL FROM:<sender@e2e.test>")
    c.cmd("RCPT TO:<rcpt@e2e.test>")
    code, _ = c.data(body)
    c.cmd("QUIT")
    print(code, "%.3f" % (time.time() - t0))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("proxy")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--upstream", type=int, required=True)
    s.add_argument("--drop", action="append", default=[])
    s.add_argument("--slow", action="append", default=[])
    s.add_argument("--delay", type=float, default=2.5)
    s = sub.add_parser("sink")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--dir", required=True)
    s = sub.add_parser("send")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--addr", required=True)
    s.add_argument("--file", required=True)
    a = p.parse_args()
    {"proxy": cmd_proxy, "sink": cmd_sink, "send": cmd_send}[a.cmd](a)


if __name__ == "__main__":
    main()
