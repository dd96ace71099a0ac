"""Shared helpers for the fault scenarios in tests/faults/ (Python 3 stdlib + the integration
helpers daemon_support.py and smtp_sink.py, both stdlib only).

Each scenario is a script that prints ONE summary line on stdout,
    fault <name>: <figures> -> PASS|FAIL        (or -> SKIP (<why>))
and exits 0 on PASS/SKIP, 1 on FAIL. Details (the gateway's log tail on failure, progress) go to
stderr. Every scenario runs under an overall deadline (SIGALRM): a hang becomes a FAIL line, never
a stuck run. Everything lives in a temporary directory that is removed at the end (kept when
FAULT_KEEP=1); every process started is stopped.

The binaries: $TLSGATE / $CERTMGR, else <source>/build/gateway/tlsgate (daemon_support.py).
"""

import os
import re
import shutil
import signal
import smtplib
import socket
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from daemon_support import (HOSTNAME, GatewayHome,  # noqa: E402
                            free_loopback_port)
import smtp_sink  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402

NET_TIMEOUT = 10
QUEUED_RE = re.compile(r"\b2\.0\.0 Ok: queued as ([0-9a-f]{20})\b")
QUEUE_ENTRY_RE = re.compile(r"^([0-9a-f]{20})  ", re.M)

__all__ = ["Gateway", "FaultSink", "Scenario", "wait_until", "submit", "message", "unique",
           "free_loopback_port", "HOSTNAME", "SmtpSink", "smtp_sink", "rss_kb", "log"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def unique(prefix="m"):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


def message(marker, size=0, to="rcpt@dest.example"):
    """A small RFC 5322 message whose Message-ID and body carry `marker`; `size` pads the body to
    about that many bytes (lines of 76 characters)."""
    head = (f"From: <sender@origin.example>\r\nTo: <{to}>\r\nSubject: fault {marker}\r\n"
            f"Message-ID: <{marker}@origin.example>\r\n\r\n{marker}\r\n")
    body = ""
    if size > len(head):
        line = ("x" * 76) + "\r\n"
        body = line * ((size - len(head)) // len(line) + 1)
    return head + body


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls `predicate` until it returns something true (returned) or `timeout` s passed
    (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"after {timeout} s still not: {what} (last: {value!r})")
        time.sleep(interval)


def submit(port, marker, size=0, timeout=NET_TIMEOUT, to="rcpt@dest.example"):
    """One message in its own smtplib session. Returns (code, text) of the reply to the end of
    data (or of the step that failed); raises OSError/SMTPException when the connection fails
    before any reply to the end of data was read."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test",
                      timeout=timeout) as smtp:
        code, text = smtp.ehlo()
        if code != 250:
            return code, text.decode(errors="replace")
        code, text = smtp.mail("sender@origin.example")
        if code != 250:
            return code, text.decode(errors="replace")
        code, text = smtp.rcpt(to)
        if code != 250:
            return code, text.decode(errors="replace")
        code, text = smtp.data(message(marker, size, to).encode())
        text = text.decode(errors="replace")
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        return code, text


def rss_kb(pid):
    """VmRSS of `pid` in kB (None when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Gateway(GatewayHome):
    """One tlsgate daemon in its own temporary directory: [receive] on 127.0.0.1 (trusted, so it
    relays anything), [send] keys from `send`, [receive] extras from `receive`, the spool at
    `spool` (default <state>/spool). start()/kill()/stop() keep the state directory and, when it
    is free, the port. `tmp` belongs to the caller: close() leaves it."""

    def __init__(self, tmp, send=None, receive=None, spool=None, log_level="information",
                 extra=""):
        super().__init__(tmp=tmp)
        self.extra = extra  # more configuration text, appended as it is
        self.send = dict(send or {})
        self.receive = dict(receive or {})
        self.spool = spool or self.spool
        self.log_level = log_level

    def write_config(self):
        lines = ["[gateway]", f"hostname = {HOSTNAME}", f"state_directory = {self.state}",
                 f"log_level = {self.log_level}", "",
                 "[receive]", f"listen = 127.0.0.1:{self.port}",
                 "trusted_networks = 127.0.0.0/8"]
        lines += [f"{k} = {v}" for k, v in self.receive.items()]
        lines += ["", "[send]"] + [f"{k} = {v}" for k, v in self.send.items()]
        lines += ["", "[spool]", f"directory = {self.spool}", "",
                  "[certificates]", "use_system_ca = false", "", self.extra]
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    @property
    def pid(self):
        return self.daemon.proc.pid if self.daemon else None

    def alive(self):
        return self.daemon is not None and self.daemon.proc.poll() is None

    def tlsgate(self, *args):
        """tlsgate --config FILE ARGS: (exit status, stdout, stderr)."""
        return self.run("--config", self.config, *args)

    def queue(self):
        """{queue id: its block of `tlsgate queue` output}; the command must exit 0."""
        rc, out, err = self.tlsgate("queue")
        if rc != 0:
            raise AssertionError(f"tlsgate queue exited {rc}\n{out}{err}")
        starts = [m.start() for m in QUEUE_ENTRY_RE.finditer(out)]
        entries = {}
        for i, start in enumerate(starts):
            block = out[start:starts[i + 1] if i + 1 < len(starts) else len(out)]
            entries[block[:20]] = block
        return entries

    def spool_files(self, sub="queue"):
        d = os.path.join(self.spool, sub)
        try:
            return sorted(os.listdir(d))
        except OSError:
            return []

    def spooled_content(self, queue_id):
        try:
            with open(os.path.join(self.spool, "queue", queue_id), "rb") as f:
                return f.read()
        except OSError:
            return None


class _SlowSocket:
    """A socket whose sendall writes one byte per second (a tarpit); the rest is the socket's."""

    def __init__(self, sock):
        self._sock = sock

    def sendall(self, data):
        for i in range(len(data)):
            self._sock.sendall(data[i:i + 1])
            time.sleep(1.0)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class FaultSink(SmtpSink):
    """SmtpSink with misbehaviours for the next hop, read when each connection starts:
    `mode` = "normal", "close_in_data" (reads part of the data, then closes: nothing stored) or
    "close_after_data" (stores the whole message, then closes without replying: the sender
    cannot know, so it retries: a legitimate duplicate). `data_delay`: seconds to wait after the
    end of data before storing and answering (keeps deliveries in flight). Each stored message
    records the mode it was stored under in `modes` (by sink message id); `acknowledged` holds
    the ids whose "250 ... queued as N" reply was completely written to the socket (a copy that
    is stored but not acknowledged is one the sender could not know about: a legitimate
    duplicate source). Mode "tarpit" writes every reply one byte per second."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mode = "normal"
        self.data_delay = 0.0
        self.modes = {}
        self.acknowledged = set()

    def _track(self, connection, is_open):
        if is_open:
            connection.fault_mode = self.mode
            connection.opened = time.monotonic()
            original_reply = connection.reply

            def reply(code, *lines, c=connection, original=original_reply):
                original(code, *lines)
                if code == 250 and lines and lines[-1].startswith("2.0.0 Ok: queued as "):
                    with self._lock:
                        self.acknowledged.add(int(lines[-1].rsplit(" ", 1)[1]))

            connection.reply = reply
            if connection.fault_mode == "tarpit":
                connection.sock = _SlowSocket(connection.sock)
            if connection.fault_mode == "close_in_data":
                def cmd_data(args, c=connection):
                    if c.mail_from is None or not c.rcpt_to:
                        return type(c).cmd_DATA(c, args)
                    c.reply(354, "End data with <CR><LF>.<CR><LF>")
                    c.readline(smtp_sink.MAX_DATA_LINE)  # the first line of the message
                    try:
                        c.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return False
                connection.cmd_DATA = cmd_data
        super()._track(connection, is_open)

    def _save(self, connection, mail_from, rcpt_to, content):
        if self.data_delay > 0:
            time.sleep(self.data_delay)
        number = super()._save(connection, mail_from, rcpt_to, content)
        mode = getattr(connection, "fault_mode", "normal")
        with self._lock:
            self.modes[number] = mode
        if mode == "close_after_data":
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise smtp_sink._Closed()
        return number

    def open_ages(self):
        """Seconds each open connection has been open."""
        now = time.monotonic()
        with self._lock:
            return [now - getattr(c, "opened", now) for c in self._open]

    def count_markers(self, markers):
        """{marker: [sink ids holding it]}: matched by Message-ID."""
        found = {m: [] for m in markers}
        rx = re.compile(rb"^Message-ID: <([^@>]+)@origin\.example>", re.M | re.I)
        for msg in self.messages():
            m = rx.search(msg["content"])
            if m:
                key = m.group(1).decode()
                if key in found:
                    found[key].append(msg["id"])
        return found


class Scenario:
    """Runs `body(scenario)` under an overall deadline, prints the one summary line.
    body returns (figures, ok) or raises Skip / AssertionError / anything (-> FAIL)."""

    class Skip(Exception):
        pass

    def __init__(self, name, deadline):
        self.name = name
        self.deadline = deadline
        self.tmp = tempfile.mkdtemp(prefix=f"tlsgate-fault-{name}-")
        self.cleanups = []
        self.figures = {}
        self.gateways = []

    def add_cleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def gateway(self, tmp=None, **kwargs):
        """A Gateway in `tmp` (default: the scenario's directory; give each gateway whose spool
        must start empty a directory of its own), stopped at the end."""
        gw = Gateway(tmp or self.tmp, **kwargs)
        self.gateways.append(gw)
        self.add_cleanup(gw.close)
        return gw

    def figure(self, key, value):
        self.figures[key] = value

    def _line(self, verdict):
        figs = ", ".join(f"{k}={v}" for k, v in self.figures.items())
        return f"fault {self.name}: {figs or 'no figures'} -> {verdict}"

    def run(self, body):
        def on_alarm(signo, frame):
            raise TimeoutError(f"scenario deadline of {self.deadline} s passed")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.deadline)
        began = time.monotonic()
        verdict, status = "FAIL", 1
        try:
            ok = body(self)
            verdict, status = ("PASS", 0) if ok else ("FAIL", 1)
        except Scenario.Skip as e:
            verdict, status = f"SKIP ({e})", 0
        except BaseException as e:  # noqa: BLE001 - any failure is reported as FAIL
            self.figure("error", repr(str(e).splitlines()[0] if str(e) else e)[:200])
            log(f"--- {self.name}: {type(e).__name__}")
            log(traceback.format_exc())
            verdict, status = "FAIL", 1
        finally:
            signal.alarm(0)
        self.figure("seconds", f"{time.monotonic() - began:.0f}")
        if status != 0:
            for gw in self.gateways:
                tail = gw.log().splitlines()[-60:]
                log(f"--- {self.name}: gateway log tail ({gw.tmp}) ---")
                log("\n".join(tail))
        for fn, args in reversed(self.cleanups):
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - cleanup goes on
                log(f"cleanup {getattr(fn, '__name__', fn)}: {e!r}")
        if os.environ.get("FAULT_KEEP"):
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        print(self._line(verdict), flush=True)
        return status
