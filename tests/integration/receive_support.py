"""Shared helpers for the receiving-side integration tests (test_receive_*.py).

A `Gateway` is one `tlsgate --config FILE run` child on 127.0.0.1 with its own temporary
directory (configuration, state, store, spool), hostname mx.example.test, a free port (chosen by
binding port 0; a new one is tried when the daemon cannot listen on it) and the test CA already
added to its store as a trust anchor for client certificates. Clients are real ones: swaks,
`openssl s_client -starttls smtp`, Python's smtplib, and `SmtpClient` below (a raw socket that can
be wrapped in TLS in place, for what the others cannot do, such as pipelining into STARTTLS).

The test PKI (made with `cryptography` once per process, in a temporary directory):
- `ca`: the client CA that every Gateway trusts (`certmgr ca add`);
- `good`: a client certificate issued by that CA, valid now;
- `expired`: issued by the same CA, notAfter in the past;
- `selfsigned`: a self-signed client certificate (untrusted).

Every network operation and every child process has a timeout; nothing sleeps a fixed time to
wait for the daemon (bounded polls only).
"""

import functools
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from daemon_support import HOSTNAME, RUN_TIMEOUT, GatewayHome, refused_port, tlsgate_binary
from pki_support import TestCA, sha256_fingerprint, temporary_directory

NET_TIMEOUT = 10        # one socket operation (connect, one read, one write)
CLIENT_TIMEOUT = 30     # one swaks / openssl s_client run

FP_RE = r"[0-9A-F]{2}(?::[0-9A-F]{2}){31}"
QUEUED_RE = re.compile(r"\b250 2\.0\.0 Ok: queued as ([0-9a-f]{20})\b")
REPLY_LINE_RE = re.compile(r"^(\d{3})([ -])(.*)$")


# --------------------------------------------------------------------------------------------
# Test PKI


def der_fingerprint(der):
    return sha256_fingerprint(x509.load_der_x509_certificate(der))


class TestPKI(TestCA):
    """The receive tests' CA and client certificates: `good` (issued by the CA), `expired` and
    `selfsigned`."""

    def __init__(self, directory):
        super().__init__(directory, "tlsgate receive tests")
        client = ExtendedKeyUsageOID.CLIENT_AUTH
        self.good = self.leaf("good", "client.example.test", client, *self.valid_period())
        self.expired = self.leaf("expired", "expired.example.test", client, *self.expired_period())
        self.selfsigned = self.leaf("selfsigned", "self.example.test", client, *self.valid_period(),
                                    self_signed=True)


@functools.lru_cache(maxsize=None)
def pki():
    """The process's test PKI, made on first use."""
    return TestPKI(temporary_directory("tlsgate-pki-"))


# --------------------------------------------------------------------------------------------
# The daemon

@functools.lru_cache(maxsize=None)
def send_section():
    """The [send] lines of every test configuration. These tests are about receiving: what was
    accepted must stay in the spool, so when the daemon has a sending side all mail is routed to
    the black hole above (every attempt deferred, the message kept under its queue id) instead
    of MX lookups, whose failures would bounce it. Empty for a daemon without [send] routing."""
    lines = ["[send]", f"default_route = [127.0.0.1]:{refused_port()}"]
    directory = tempfile.mkdtemp(prefix="tlsgate-probe-")
    try:
        path = os.path.join(directory, "probe.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(["[gateway]", f"hostname = {HOSTNAME}",
                               f"state_directory = {directory}/state", *lines, ""]))
        p = subprocess.run([tlsgate_binary(), "check-config", path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if p.returncode == 0:
        return lines
    if "send.default_route: unknown key" in p.stderr:
        return []
    raise AssertionError(f"tlsgate check-config refused [send] default_route:\n{p.stderr}")


class Gateway(GatewayHome):
    """A configured daemon in a temporary directory; `start()` runs it, `close()` removes all.
    `receive` holds the [receive] keys; the test CA is trusted unless `trust_ca` is false."""

    def __init__(self, receive=None, trust_ca=True, prefix="tlsgate-rx-"):
        super().__init__(prefix=prefix)
        self.receive = dict(receive or {})
        self.receive.setdefault("trusted_networks", "127.0.0.0/8")
        if trust_ca:
            self.trusted_ca = lambda: pki().ca_path

    # -- configuration and store

    def write_config(self):
        lines = ["[gateway]", f"hostname = {HOSTNAME}", f"state_directory = {self.state}", "",
                 "[receive]", f"listen = 127.0.0.1:{self.port}"]
        lines += [f"{k} = {v}" for k, v in self.receive.items()]
        lines += ["", *send_section()]
        lines += ["", "[spool]", f"directory = {self.spool}", "",
                  "[certificates]", f"store_directory = {self.store}", "use_system_ca = false",
                  "change_poll_ms = 100", ""]
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def certificates(self):
        import json
        return json.loads(self.certmgr("list", "--json"))

    def active_server_fingerprint(self, key_prefix):
        """The SHA-256 fingerprint certmgr lists for the certificate active in the server role
        whose key type starts with `key_prefix` ("EC", "RSA")."""
        found = [c for c in self.certificates()
                 if "server" in c["roles"] and c["key_type"].startswith(key_prefix)]
        if len(found) != 1:
            raise AssertionError(f"expected one active {key_prefix} server certificate: {found}")
        return found[0]["sha256_fingerprint"]

    def tlsgate(self, *args):
        """tlsgate ARGS as given (no --config): (exit status, stdout, stderr)."""
        return self.run(*args)

    # -- running

    def log(self):
        """The running (or last) daemon's log."""
        return self.daemon.log() if self.daemon else ""

    def mark(self):
        """The current end of the log, for wait_for(start=...)."""
        return len(self.daemon.snapshot())

    # -- spool

    def queue_ids(self):
        """Queue ids that `tlsgate --config FILE queue` lists (it must exit 0)."""
        rc, out, err = self.tlsgate("--config", self.config, "queue")
        if rc != 0:
            raise AssertionError(f"tlsgate queue exited {rc}\n{out}{err}")
        return re.findall(r"^([0-9a-f]{20})\s", out, re.M)

    def spool_files(self):
        """{queue id: bytes} of the files in the spool's queue/."""
        queue = os.path.join(self.spool, "queue")
        if not os.path.isdir(queue):
            return {}
        out = {}
        for name in sorted(os.listdir(queue)):
            with open(os.path.join(queue, name), "rb") as f:
                out[name] = f.read()
        return out

    def spooled(self, queue_id):
        data = self.spool_files().get(queue_id)
        if data is None:
            raise AssertionError(f"{queue_id} not in {self.spool}/queue: "
                                 f"{sorted(self.spool_files())}")
        return data


class GatewayTestCase(unittest.TestCase):
    """One daemon for the whole class (RECEIVE: the [receive] keys), stopped afterwards."""

    RECEIVE = {}
    TRUST_CA = True
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(cls.RECEIVE, cls.TRUST_CA)
        cls.addClassCleanup(cls.gw.close)
        cls.gw.start()

    @property
    def port(self):
        return self.gw.port

    def assert_queued(self, queue_id, *contents):
        """The message is listed by `tlsgate queue` and its spool file holds `contents`."""
        self.assertIn(queue_id, self.gw.queue_ids(), "tlsgate queue does not list it")
        data = self.gw.spooled(queue_id)
        for c in contents:
            self.assertIn(c.encode() if isinstance(c, str) else c, data,
                          f"spool file {queue_id} lacks {c!r}:\n{data.decode(errors='replace')}")
        return data


# --------------------------------------------------------------------------------------------
# Clients


def client_context(cert=None, max_version=None, ciphers=None):
    """A TLS client context that does not verify the server (self-signed by default), with an
    optional client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert.cert_path, cert.key_path)
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


class Closed(Exception):
    """The server closed the connection."""


class SmtpClient:
    """A raw SMTP client on one socket: exact bytes out, replies parsed, TLS in place."""

    def __init__(self, port, source=None, timeout=NET_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buffer = b""
        self.tls = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise Closed("connection closed by the server")
        self.buffer += chunk

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no complete line")
            self._fill(remaining)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, timeout=None):
        """(code, text): a whole (multi-line) reply; text is the lines' texts joined by \\n."""
        texts = []
        while True:
            line = self.read_line(timeout)
            m = REPLY_LINE_RE.match(line)
            if not m:
                raise AssertionError(f"not an SMTP reply line: {line!r}")
            texts.append(m.group(3))
            if m.group(2) == " ":
                return int(m.group(1)), "\n".join(texts)

    def command(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def greeting(self):
        return self.reply()

    def ehlo(self, name="client.example.test"):
        return self.command(f"EHLO {name}")

    def ready_for_tls(self, name="client.example.test"):
        """Greeting, EHLO and STARTTLS answered 220: next, starttls()."""
        self.greeting()
        self.ehlo(name)
        code, text = self.command("STARTTLS")
        if code != 220:
            raise AssertionError(f"STARTTLS answered {code} {text}")

    def starttls(self, context=None):
        """Handshake on the same socket (after the 220 was read)."""
        if self.buffer:
            raise AssertionError(f"bytes received before the handshake: {self.buffer!r}")
        self.sock.settimeout(self.timeout)
        self.sock = (context or client_context()).wrap_socket(self.sock,
                                                              server_hostname=HOSTNAME)
        self.tls = True
        return self.sock

    def silence(self, seconds):
        """Whatever arrives within `seconds` (b"" when nothing does; raises Closed on close)."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.buffer
            try:
                self._fill(remaining)
            except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                return self.buffer

    def wait_closed(self, timeout=None):
        """True when the server closes within `timeout` s (anything it sends first is kept in
        `buffer`), False when the connection is still open then."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                self._fill(remaining)
            except Closed:
                return True
            except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                return False
            except OSError:
                return True

    def send_message(self, sender, recipients, body):
        """MAIL, RCPT(s), DATA, the (already dot-stuffed) body and the final dot; returns the
        reply to the final dot. Raises AssertionError when an earlier step fails."""
        code, text = self.command(f"MAIL FROM:<{sender}>")
        if code != 250:
            raise AssertionError(f"MAIL: {code} {text}")
        for r in recipients:
            code, text = self.command(f"RCPT TO:<{r}>")
            if code != 250:
                raise AssertionError(f"RCPT {r}: {code} {text}")
        code, text = self.command("DATA")
        if code != 354:
            raise AssertionError(f"DATA: {code} {text}")
        self.send(body + b".\r\n" if isinstance(body, bytes) else body + ".\r\n")
        return self.reply()


def smtp_connect(port, timeout=NET_TIMEOUT):
    """A Python smtplib client connected to the gateway (the caller quits/closes it)."""
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test",
                        timeout=timeout)


def run_swaks(port, *args, timeout=CLIENT_TIMEOUT):
    """swaks against the gateway; returns (exit status, combined output)."""
    argv = ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.example.test",
            "--timeout", "10", *args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@functools.lru_cache(maxsize=None)
def swaks_has_tls():
    """Whether swaks can do STARTTLS here (it needs Perl's Net::SSLeay)."""
    p = subprocess.run(["swaks", "--support"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=CLIENT_TIMEOUT)
    return re.search(r"TLS\s+supported", p.stdout + p.stderr) is not None


def run_s_client(port, *args, stdin_text="QUIT\n", quiet=False, timeout=CLIENT_TIMEOUT):
    """openssl s_client -starttls smtp against the gateway, feeding `stdin_text` (lines end with
    CRLF on the wire: -crlf), not acting on command letters, reading until the server closes.
    Returns (exit status, stdout, stderr). With `quiet`, only what the server sent is printed
    (s_client's session report is buffered apart from the data and would interleave with it)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", "smtp",
            "-name", "client.example.test", "-servername", HOSTNAME, "-crlf", "-ign_eof",
            "-nocommands", *(["-quiet"] if quiet else []), *args]
    p = subprocess.run(argv, input=stdin_text, capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def s_client_session(output):
    """(protocol, cipher) that s_client established, or None when no TLS session was made."""
    m = re.search(r"^New, (\S+), Cipher is (\S+)", output, re.M)
    if not m or m.group(2) == "(NONE)":
        return None
    return m.group(1), m.group(2)


def s_client_server_cert(output):
    """The first certificate s_client printed (the server's), as a cryptography object."""
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", output, re.S)
    if not m:
        raise AssertionError("s_client printed no server certificate\n" + output)
    return x509.load_pem_x509_certificate(m.group(0).encode())


def s_client_replies(output):
    """The SMTP reply lines in s_client's standard output (what the server sent after the
    handshake; s_client reports its own EHLO/STARTTLS exchange on stderr)."""
    return [line for line in output.splitlines() if REPLY_LINE_RE.match(line)]


def message(marker, subject="receive test"):
    """A small RFC 5322 message (CRLF line ends) whose body carries `marker`."""
    return (f"From: <a@x.example>\r\nTo: <b@y.example>\r\nSubject: {subject}\r\n"
            f"Message-Id: <{marker}@x.example>\r\n\r\n{marker}\r\n")


def unique(prefix="m"):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"
