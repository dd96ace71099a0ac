#!/usr/bin/env python3
"""Fault: slow and idle clients, oversize lines and messages; limits hold, memory stays bounded,
other clients are served.

The gateway listens with max_connections = 2100, max_connections_per_client = 2100,
command_timeout = 20 (data_timeout too), max_message_size = 200000 (command_line_limit 512, text_line_limit 4096 as
by default); it relays to a FaultSink. While these run at once:
  - 2000 idle connections (greeting read, then nothing),
  - a client writing one byte per second ("EHLO ...", then "MAIL FROM:..."),
  - 2 clients writing a 16 MB command line without a line end (then CRLF): 500 expected,
  - a client sending a 20 MB message (max_message_size 200000): 552 expected,
  - a client sending a 1 MB line inside DATA: 552 expected,
a normal client submits a message and must get 250 within the command timeout (its latency is
measured and printed, not judged); a second one after the others are done. The idle
connections, by then older than command_timeout, must have been closed with 421 4.4.2. Then
connections are opened until one is refused: that one must get 421 4.7.0. The gateway's VmRSS is printed before, at the peak and after
everything closed. The slow client's fate is printed (how long it stayed connected while still
writing one byte per second; command_timeout bounds the wait for each read).
"""

import resource
import socket
import sys
import threading
import time

from fault_support import FaultSink, Scenario, log, rss_kb, submit, unique, wait_until

IDLE = 2000
MAX_CONNECTIONS = 2100
COMMAND_TIMEOUT = 20
MAX_MESSAGE = 200000
BIG_LINE = 16 * 1024 * 1024
BIG_MESSAGE = 20 * 1024 * 1024
SLOW_SECONDS = 30


class Raw:
    """A raw SMTP connection (bounded waits)."""

    def __init__(self, port, timeout=COMMAND_TIMEOUT + 10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the gateway")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode(errors="replace")

    def reply(self):
        while True:
            line = self.line()
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), line[4:]

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def envelope(c):
    assert c.reply()[0] == 220
    assert c.cmd("EHLO big.example")[0] == 250
    assert c.cmd("MAIL FROM:<big@origin.example>")[0] == 250
    assert c.cmd("RCPT TO:<rcpt@dest.example>")[0] == 250
    code, text = c.cmd("DATA")
    assert code == 354, (code, text)


def body(sc):
    sink = FaultSink()
    sink.start()
    sc.add_cleanup(sink.stop)
    gw = sc.gateway(
        receive={"max_connections": str(MAX_CONNECTIONS),
                 "max_connections_per_client": str(MAX_CONNECTIONS),
                 "command_timeout": str(COMMAND_TIMEOUT), "data_timeout": str(COMMAND_TIMEOUT),
                 "max_message_size": str(MAX_MESSAGE), "max_errors": "100"},
        send={"default_route": f"[127.0.0.1]:{sink.port}", "retry_min": "1", "retry_max": "2"})
    gw.start()
    pid = gw.pid
    # One message first, so that lazily made things (TLS contexts, threads) are counted before.
    code, _ = submit(gw.port, unique("warm"))
    assert code == 250
    rss_before = rss_kb(pid)
    peak = [rss_before]
    results = {}
    conns = []
    sc.add_cleanup(lambda: [c.close() for c in conns])

    # 2000 idle connections: this process needs a descriptor for each (and the gateway too; it
    # raises its own soft limit at start).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < MAX_CONNECTIONS + 512:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, MAX_CONNECTIONS + 512), hard))
    idle_ok = 0
    for _ in range(IDLE):
        c = Raw(gw.port)
        conns.append(c)
        code, _ = c.reply()
        idle_ok += code == 220
    peak.append(rss_kb(pid))

    def slow():
        c = Raw(gw.port)
        conns.append(c)
        began = time.monotonic()
        data = b"EHLO slow.example\r\nMAIL FROM:<slow@origin.example>\r\n"
        try:
            assert c.reply()[0] == 220
            c.sock.settimeout(2)
            for i in range(SLOW_SECONDS):
                c.sock.sendall(data[i % len(data):i % len(data) + 1])
                time.sleep(1)
            results["slow"] = f"alive_after_{time.monotonic() - began:.0f}s"
        except OSError as e:
            results["slow"] = f"cut_after_{time.monotonic() - began:.0f}s({type(e).__name__})"

    def long_line(i):
        c = Raw(gw.port)
        conns.append(c)
        try:
            assert c.reply()[0] == 220
            chunk = b"x" * 65536
            for _ in range(BIG_LINE // len(chunk)):
                c.sock.sendall(chunk)
            code, _ = c.cmd("")
            noop = c.cmd("NOOP")[0]
            results[f"long_line{i}"] = f"{code}" + ("" if noop == 250 else f"/noop{noop}")
        except (OSError, AssertionError, ValueError) as e:
            results[f"long_line{i}"] = f"error:{type(e).__name__}"

    def big_message():
        c = Raw(gw.port)
        conns.append(c)
        try:
            envelope(c)
            line = b"y" * 998 + b"\r\n"
            block = line * 64
            for _ in range(BIG_MESSAGE // len(block)):
                c.sock.sendall(block)
            c.sock.sendall(b".\r\n")
            code, text = c.reply()
            results["big_message"] = f"{code}"
        except (OSError, AssertionError, ValueError) as e:
            results["big_message"] = f"error:{type(e).__name__}"

    def long_data_line():
        c = Raw(gw.port)
        conns.append(c)
        try:
            envelope(c)
            c.sock.sendall(b"Subject: long\r\n\r\n" + b"z" * (1024 * 1024) + b"\r\n.\r\n")
            code, text = c.reply()
            results["long_data_line"] = f"{code}"
        except (OSError, AssertionError, ValueError) as e:
            results["long_data_line"] = f"error:{type(e).__name__}"

    threads = [threading.Thread(target=slow, daemon=True),
               threading.Thread(target=long_line, args=(1,), daemon=True),
               threading.Thread(target=long_line, args=(2,), daemon=True),
               threading.Thread(target=big_message, daemon=True),
               threading.Thread(target=long_data_line, daemon=True)]
    for t in threads:
        t.start()

    # Meanwhile a normal client.
    time.sleep(1.0)
    began = time.monotonic()
    normal_code, normal_text = submit(gw.port, unique("normal"), timeout=COMMAND_TIMEOUT)
    latency = time.monotonic() - began
    normal_ok = normal_code == 250
    peak.append(rss_kb(pid))

    deadline = time.monotonic() + SLOW_SECONDS + 20
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        peak.append(rss_kb(pid))
        time.sleep(0.5)
    for t in threads:
        t.join(timeout=1)

    # A second normal message with everything still open.
    code2, _ = submit(gw.port, unique("normal2"), timeout=COMMAND_TIMEOUT)
    normal_ok = normal_ok and code2 == 250

    # The idle connections are older than command_timeout by now: each must have been closed
    # with 421 4.4.2.
    idle_cut = 0
    for c in conns[:IDLE]:
        try:
            c.sock.settimeout(1)
            data = c.buf + c.sock.recv(4096)
            idle_cut += data.startswith(b"421 4.4.2")
        except OSError:
            pass

    # max_connections: open until one is refused; that one must be 421 4.7.0.
    extra = []
    sc.add_cleanup(lambda: [c.close() for c in extra])
    over = None
    try:
        for _ in range(MAX_CONNECTIONS + 10):
            c = Raw(gw.port, timeout=10)
            extra.append(c)
            code, text = c.reply()
            if code != 220:
                over = f"{code} {text.split()[0] if text else ''} after {len(extra) - 1}"
                break
    except OSError as e:
        over = f"error:{type(e).__name__} after {len(extra)}"
    peak.append(rss_kb(pid))

    for c in conns + extra:
        c.close()
    # After everything closed: the gateway notices and frees the sessions.
    time.sleep(2)
    code3, _ = submit(gw.port, unique("after"), timeout=COMMAND_TIMEOUT)
    rss_after = rss_kb(pid)
    wait_until(lambda: not gw.queue(), 30, "the queue is empty", interval=0.5)

    sc.figure("idle_open", f"{idle_ok}/{IDLE}")
    sc.figure("idle_cut_421_after_timeout", f"{idle_cut}/{IDLE}")
    sc.figure("normal_latency", f"{latency:.2f}s")
    sc.figure("normal_ok", normal_ok and code3 == 250)
    sc.figure("slow_client", results.get("slow"))
    sc.figure("long_line", "/".join(results.get(f"long_line{i}", "none") for i in (1, 2)))
    sc.figure("big_message", results.get("big_message"))
    sc.figure("long_data_line", results.get("long_data_line"))
    sc.figure("over_max_connections", repr(over))
    sc.figure("rss_kb", f"{rss_before}/{max(p for p in peak if p)}/{rss_after}")
    sc.figure("gateway_alive", gw.alive())
    ok = (normal_ok and code3 == 250 and idle_ok == IDLE and
          results.get("long_line1") == "500" and results.get("long_line2") == "500" and
          results.get("big_message") == "552" and results.get("long_data_line") == "552" and
          over is not None and over.startswith("421 4.7.0") and gw.alive())
    log(f"slow_clients: results {results}, over={over}, normal reply {normal_code} {normal_text}")
    gw.stop()
    return ok


if __name__ == "__main__":
    sys.exit(Scenario("slow_clients", deadline=240).run(body))
