"""Shared helpers for the sending-side integration tests (test_send_*.py).

A `SendGateway` is one `tlsgate --config FILE run` child in its own temporary directory
(configuration, state, store, spool) listening on 127.0.0.1, with a [send] section given by the
test (routes to downstream sinks on loopback, TLS levels, short retry times). Mail is submitted
with smtplib from 127.0.0.1, which the default `trusted_networks` lets relay to any domain.

The downstream peers are `Downstream` servers: smtp_sink.SmtpSink plus a count of the STARTTLS
commands it was sent (to show that "No TLS Encryption" never issues one) and an optional delay
before the reply to the end of data (to hold deliveries in flight for the restart test).

The test PKI (made with `cryptography` once per process, in a temporary directory), all server
certificates with extendedKeyUsage serverAuth:
- `ca`: the test CA, added to every SendGateway's store with `certmgr ca add` (the trust anchor
  used to verify next hops; the system bundle is off: use_system_ca = false);
- `good`: issued by the CA for "localhost" (subjectAltName DNS:localhost), valid now;
- `wrongname`: issued by the CA for "wrong-name.example.test" only;
- `expired`: issued by the CA for "localhost", notAfter two days ago;
- `selfsigned`: a self-signed certificate for "localhost".

How the name check is met on loopback: routes name the next hop `localhost:PORT` (a host name,
not an address literal), so the gateway resolves "localhost" itself (getaddrinfo) and checks the
certificate against the name "localhost" (RFC 6125 DNS-ID, SNI "localhost"). The sinks listen on
127.0.0.1. Where "localhost" also resolves to ::1, the gateway tries that address too and finds it
refused (a 4.4.1 deferral for that address only, then the next address); the assertions look at
the attempt on 127.0.0.1 in the log, and at `tlsgate queue`'s last error only when "localhost" is
127.0.0.1 alone (`LOCALHOST_IS_IPV4_ONLY`).

Every wait is a bounded poll; nothing sleeps a fixed time to wait for the daemon, except where a
test asserts that something does NOT happen for a while (`hold`).
"""

import functools
import os
import re
import shutil
import smtplib
import socket
import tempfile
import time

from cryptography.x509.oid import ExtendedKeyUsageOID

# refused_port is imported for the tests (test_send_bounce.py).
from daemon_support import HOSTNAME, GatewayHome, refused_port  # noqa: F401
from pki_support import TestCA, temporary_directory
from smtp_sink import _FAIL_TEXT, SmtpSink

NET_TIMEOUT = 10        # one smtplib operation
DELIVERY_TIMEOUT = 20   # a deliverable message reaching its sink (retry_max is 2 s in these tests)

QUEUED_RE = re.compile(r"\b2\.0\.0 Ok: queued as ([0-9a-f]{20})\b")
QUEUE_ENTRY_RE = re.compile(r"^([0-9a-f]{20})  ", re.M)
# How the gateway names the loopback next hop reached through "localhost".
LOOPBACK = r"localhost\[127\.0\.0\.1\]"


def _localhost_addresses():
    try:
        infos = socket.getaddrinfo("localhost", 25, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {info[4][0] for info in infos}


LOCALHOST_IS_IPV4_ONLY = _localhost_addresses() == {"127.0.0.1"}


# --------------------------------------------------------------------------------------------
# Test PKI


class SendPKI(TestCA):
    """The send tests' CA and server certificates for "localhost": `good`, `wrongname` (another
    name), `expired` and `selfsigned`."""

    def __init__(self, directory):
        super().__init__(directory, "tlsgate send tests")
        server = ExtendedKeyUsageOID.SERVER_AUTH
        self.good = self.leaf("good", "localhost", server, *self.valid_period())
        self.wrongname = self.leaf("wrongname", "wrong-name.example.test", server,
                                   *self.valid_period())
        self.expired = self.leaf("expired", "localhost", server, *self.expired_period())
        self.selfsigned = self.leaf("selfsigned", "localhost", server, *self.valid_period(),
                                    self_signed=True)


@functools.lru_cache(maxsize=None)
def pki():
    """The process's test PKI, made on first use."""
    return SendPKI(temporary_directory("tlsgate-send-pki-"))


# --------------------------------------------------------------------------------------------
# Downstream


class Downstream(SmtpSink):
    """SmtpSink on 127.0.0.1 that also counts STARTTLS commands (`starttls_commands`) and, with
    `data_delay` > 0, waits that many seconds after the end of data before it stores the message
    and answers 250 (so deliveries stay in flight; `held()` counts them). `rcpt_replies` refuses
    single recipients ({address: 550 or 450}, read at each RCPT). Other mode changes take effect
    for new connections, as in SmtpSink."""

    def __init__(self, name, cert=None, **kwargs):
        out_dir = tempfile.mkdtemp(prefix=f"tlsgate-sink-{name}-")
        super().__init__(out_dir=out_dir, tls_cert=cert.cert_path if cert else None,
                         tls_key=cert.key_path if cert else None, **kwargs)
        self._out = out_dir
        self.name = name
        self.data_delay = 0.0
        self.holding = 0
        self.starttls_commands = 0
        self.rcpt_replies = {}  # recipient address -> refusal code (550, 450), read at each RCPT

    def use_cert(self, cert):
        """Serve `cert` from the next connection on (and offer STARTTLS)."""
        with self._lock:
            self.tls_cert, self.tls_key = cert.cert_path, cert.key_path
            self.starttls = True

    def close(self):
        self.stop()
        shutil.rmtree(self._out, ignore_errors=True)

    def _track(self, connection, is_open):
        if is_open:
            original = connection.cmd_STARTTLS

            def counted(args):
                with self._lock:
                    self.starttls_commands += 1
                return original(args)

            connection.cmd_STARTTLS = counted  # the connection looks its handlers up by name
            original_rcpt = connection.cmd_RCPT

            def rcpt(args):
                address = connection._path(args, "TO:")
                code = self.rcpt_replies.get(address)
                if code and connection.mail_from is not None:
                    self._note_rejection("rcpt", code, connection.mail_from, [address])
                    connection.reply(code, _FAIL_TEXT.get(code, "Rejected by sink"))
                    return None
                return original_rcpt(args)

            connection.cmd_RCPT = rcpt
        super()._track(connection, is_open)

    def _save(self, connection, mail_from, rcpt_to, content):
        delay = self.data_delay
        if delay > 0:
            with self._lock:
                self.holding += 1
            try:
                time.sleep(delay)
            finally:
                with self._lock:
                    self.holding -= 1
        return super()._save(connection, mail_from, rcpt_to, content)

    def held(self):
        """How many messages are received but not yet answered (waiting out data_delay)."""
        with self._lock:
            return self.holding

    def with_marker(self, marker):
        """The messages stored so far whose content holds `marker`."""
        needle = marker.encode()
        return [m for m in self.messages() if needle in m["content"]]


# --------------------------------------------------------------------------------------------
# Messages


def unique(prefix="m"):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


def message(marker, sender="sender@origin.example", to="rcpt@dest.example", subject=None):
    """A small RFC 5322 message (CRLF line ends) whose body carries `marker`."""
    return (f"From: <{sender or 'nobody@origin.example'}>\r\nTo: <{to}>\r\n"
            f"Subject: {subject or 'send test ' + marker}\r\n"
            f"Message-Id: <{marker}@origin.example>\r\n\r\n"
            f"{marker}\r\n.a line that needs dot-stuffing\r\nend\r\n")


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls `predicate` until it returns something true (which is returned) or `timeout`
    seconds passed (AssertionError naming `what`, with the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"after {timeout} s still not: {what} (last: {value!r})")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# The gateway


class SendGateway(GatewayHome):
    """A configured daemon in a temporary directory; `start()` runs it, `close()` removes all.
    `send` holds the [send] keys (strings)."""

    def __init__(self, send, trust_ca=True, prefix="tlsgate-tx-"):
        super().__init__(prefix=prefix)
        self.send = dict(send)
        if trust_ca:
            self.trusted_ca = lambda: pki().ca_path

    def write_config(self):
        lines = ["[gateway]", f"hostname = {HOSTNAME}", f"state_directory = {self.state}", "",
                 "[receive]", f"listen = 127.0.0.1:{self.port}", "trusted_networks = 127.0.0.0/8",
                 "", "[send]"]
        lines += [f"{k} = {v}" for k, v in self.send.items()]
        lines += ["", "[spool]", f"directory = {self.spool}", "",
                  "[certificates]", f"store_directory = {self.store}", "use_system_ca = false",
                  "change_poll_ms = 100", ""]
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def tlsgate(self, *args):
        """tlsgate --config FILE ARGS: (exit status, stdout, stderr)."""
        return self.run("--config", self.config, *args)

    def wait_for(self, pattern, timeout=DELIVERY_TIMEOUT, start=0):
        return super().wait_for(pattern, timeout, start)

    # -- submission

    def submit(self, sender, recipients, marker, content=None):
        """One message through smtplib from 127.0.0.1; returns its queue id (250 required)."""
        return self.submit_many([(sender, recipients, marker, content)])[0]

    def submit_many(self, items):
        """[(sender, recipients, marker, content or None)] in one SMTP session; queue ids."""
        ids = []
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.test",
                          timeout=NET_TIMEOUT) as smtp:
            smtp.ehlo()
            for sender, recipients, marker, content in items:
                code, text = smtp.mail(sender)
                if code != 250:
                    raise AssertionError(f"MAIL FROM:<{sender}>: {code} {text!r}")
                for r in recipients:
                    code, text = smtp.rcpt(r)
                    if code != 250:
                        raise AssertionError(f"RCPT TO:<{r}>: {code} {text!r}")
                body = content if content is not None else message(marker, sender, recipients[0])
                code, text = smtp.data(body.encode() if isinstance(body, str) else body)
                text = text.decode(errors="replace")
                m = QUEUED_RE.search(text)
                if code != 250 or not m:
                    raise AssertionError(f"end of data: {code} {text!r}")
                ids.append(m.group(1))
        return ids

    # -- the queue

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

    def wait_queue_empty(self, timeout=DELIVERY_TIMEOUT):
        wait_until(lambda: not self.queue() or None, timeout, "the queue is empty",
                   interval=0.25)

    def wait_deferred(self, queue_id, reason_re, timeout=DELIVERY_TIMEOUT, relay=LOOPBACK):
        """Waits until the daemon logged a deferral of `queue_id` by the next hop `relay` (a
        pattern; localhost on 127.0.0.1 by default) whose reason matches `reason_re`, and
        `tlsgate queue` lists the message with an attempt counted (and, where localhost is
        127.0.0.1 only, that reason as its last error). Returns the message's block."""
        self.wait_for(rf"queue={queue_id} to=\S+ relay={relay}:\d+ deferred: {reason_re}",
                      timeout)
        self.wait_for(rf"queue={queue_id} deferred attempts=\d+ ", timeout)

        def listed():
            block = self.queue().get(queue_id)
            if block is None:
                raise AssertionError(f"{queue_id} is no longer queued\n{self.log()}")
            m = re.search(r"attempts (\d+), next \S+, last error: (.*)", block)
            if not m:
                return None
            if LOCALHOST_IS_IPV4_ONLY and not re.search(reason_re, m.group(2)):
                return None
            return block

        return wait_until(listed, timeout, f"{queue_id} listed with last error /{reason_re}/",
                          interval=0.25)


def hold(seconds):
    """Lets time pass on purpose: for asserting that something does not happen meanwhile."""
    time.sleep(seconds)

