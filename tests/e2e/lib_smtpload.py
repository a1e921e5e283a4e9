#!/usr/bin/env python3
"""tests/e2e/lib_smtpload.py - a small SMTP client and load generator.

Used by the e2e tests, tests/bench/passthrough.sh and tests/soak/run.sh.
Talks only to the host given (127.0.0.1 in every test).

  send --port P [--count N] [--conc C] [--per-conn K] [--prefix ID]
       [--rcpt ADDR]... [--from ADDR] [--size BYTES] [--helo NAME]
       [--timeout S] [--out FILE] [--files LIST] [--pipelining]
      N messages over C parallel connections (K messages per connection).
      Message i carries "Message-Id: <ID-i@e2e.test>" and "X-E2E-Seq: i";
      with --files, message i is instead the file on line (i-1) mod n of
      LIST, as it is (its own headers, read once before the clock starts).
      --pipelining sends MAIL, the RCPTs and DATA in one write (RFC 2920,
      as Postfix's smtp client does where PIPELINING is offered) and
      reads their replies after.
      --out writes "ID-i CODE LATENCY_MS" per message (CODE = the reply to
      the end of DATA, or the first non-2xx/3xx reply, or 0 when the
      connection failed). Prints one summary line:
        sent=N ok=N fail=N secs=S rate=R/s p50=Xms p99=Xms max=Xms
      and exits 0 only if every message got a 250.

As a module: Client(host, port, timeout) with cmd(line) -> (code, text),
data(body_bytes) -> (code, text), raw(bytes), reply() -> (code, text).
"""
import argparse
import socket
import sys
import threading
import time


class SmtpError(Exception):
    pass


class Client:
    def __init__(self, host="127.0.0.1", port=25, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.banner = self.reply()

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SmtpError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self):
        """One (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            line = self._line()
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        try:
            code = int(lines[-1][:3])
        except ValueError:
            raise SmtpError("bad reply %r" % lines[-1])
        return code, "\n".join(lines)

    def raw(self, data):
        self.sock.sendall(data)

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def data(self, body):
        """DATA + dot-stuffed body + ".": the final reply."""
        return self.data_wire(stuffed(body))

    def data_wire(self, wire):
        """DATA + wire (stuffed already, "." included): the final reply."""
        code, text = self.cmd("DATA")
        if code != 354:
            return code, text
        self.sock.sendall(wire)
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def make_body(mid, seq, size, sender, rcpts):
    head = ("From: <%s>\r\nTo: %s\r\nSubject: e2e message %d\r\n"
            "Message-Id: <%s@e2e.test>\r\nX-E2E-Seq: %d\r\n"
            "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n"
            % (sender, ", ".join("<%s>" % r for r in rcpts), seq, mid, seq))
    body = head.encode()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    while len(body) < size:
        body += line
    return body


def stuffed(body):
    """body with CRLF lines, dot-stuffed (RFC 5321 4.5.2), and the "."."""
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    if body.startswith(b"."):
        body = b"." + body
    return body.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def transaction_pipelined(c, sender, rcpts, wire):
    """MAIL, RCPTs, DATA in one write (RFC 2920 3.1), then the replies in
    order; wire is the stuffed body: the deciding reply code."""
    c.raw(("MAIL FROM:<%s>\r\n" % sender +
           "".join("RCPT TO:<%s>\r\n" % r for r in rcpts) +
           "DATA\r\n").encode())
    codes = [c.reply()[0] for _ in range(len(rcpts) + 2)]
    if codes[-1] != 354:
        # a refused MAIL or every RCPT refused: the DATA was refused too
        bad = [x for x in codes[:-1] if x != 250]
        return bad[0] if bad else codes[-1]
    c.raw(wire)
    return c.reply()[0]


def transaction(c, sender, rcpts, wire):
    """MAIL/RCPT/DATA on an open connection, one command at a time; wire
    is the stuffed body: the deciding reply code."""
    code, _ = c.cmd("MAIL FROM:<%s>" % sender)
    if code != 250:
        return code
    nok = 0
    last = 0
    for r in rcpts:
        last, _ = c.cmd("RCPT TO:<%s>" % r)
        if last == 250:
            nok += 1
    if nok == 0:
        c.cmd("RSET")
        return last
    code, _ = c.data_wire(wire)
    return code


def cmd_send(a):
    rcpts = a.rcpt or ["user@example.test"]
    files = []
    if a.files:
        with open(a.files) as lst:
            for name in lst.read().split("\n"):
                if name:
                    with open(name, "rb") as f:
                        files.append(stuffed(f.read()))
        if not files:
            print("send: no files in %s" % a.files, file=sys.stderr)
            return 2
    results = {}
    lock = threading.Lock()
    todo = list(range(1, a.count + 1))

    def worker():
        while True:
            with lock:
                batch = todo[:a.per_conn]
                del todo[:a.per_conn]
            if not batch:
                return
            c = None
            try:
                t0 = time.monotonic()
                c = Client(a.host, a.port, a.timeout)
                code, _ = c.cmd("EHLO " + a.helo)
                if code != 250:
                    raise SmtpError("EHLO %d" % code)
                for i in batch:
                    mid = "%s-%d" % (a.prefix, i)
                    if files:
                        wire = files[(i - 1) % len(files)]
                    else:
                        wire = stuffed(make_body(mid, i, a.size, a.sender,
                                                 rcpts))
                    step = (transaction_pipelined if a.pipelining
                            else transaction)
                    code = step(c, a.sender, rcpts, wire)
                    t1 = time.monotonic()
                    with lock:
                        results[i] = (code, (t1 - t0) * 1000.0)
                    t0 = t1
                c.cmd("QUIT")
            except (OSError, SmtpError):
                with lock:
                    for i in batch:
                        results.setdefault(i, (0, 0.0))
            finally:
                if c:
                    c.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - start
    if a.out:
        with open(a.out, "w") as f:
            for i in sorted(results):
                f.write("%s-%d %d %.1f\n" % (a.prefix, i, results[i][0],
                                             results[i][1]))
    lat = sorted(v[1] for v in results.values() if v[0] == 250)
    nok = len(lat)

    def pct(p):
        if not lat:
            return 0.0
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    print("sent=%d ok=%d fail=%d secs=%.2f rate=%.1f/s p50=%.1fms "
          "p99=%.1fms max=%.1fms" % (a.count, nok, a.count - nok, secs,
                                     nok / secs if secs else 0.0, pct(0.50),
                                     pct(0.99), lat[-1] if lat else 0.0))
    return 0 if nok == a.count else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--conc", type=int, default=1)
    s.add_argument("--per-conn", type=int, default=1)
    s.add_argument("--prefix", default="e2e")
    s.add_argument("--rcpt", action="append")
    s.add_argument("--from", dest="sender", default="sender@client.test")
    s.add_argument("--size", type=int, default=2000)
    s.add_argument("--helo", default="loadgen.client.test")
    s.add_argument("--timeout", type=float, default=60.0)
    s.add_argument("--out")
    s.add_argument("--files")
    s.add_argument("--pipelining", action="store_true")
    a = p.parse_args()
    sys.exit(cmd_send(a))


if __name__ == "__main__":
    main()
