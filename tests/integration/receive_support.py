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

import atexit
import datetime
import functools
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from daemon_support import (EVENT_TIMEOUT, HOSTNAME, RUN_TIMEOUT, Daemon,
                            certmgr_binary, free_loopback_port, tlsgate_binary)

NET_TIMEOUT = 10        # one socket operation (connect, one read, one write)
CLIENT_TIMEOUT = 30     # one swaks / openssl s_client run
PORT_TRIES = 5          # new ports tried when the daemon cannot listen on the chosen one
UTC = datetime.timezone.utc

FP_RE = r"[0-9A-F]{2}(?::[0-9A-F]{2}){31}"
QUEUED_RE = re.compile(r"\b250 2\.0\.0 Ok: queued as ([0-9a-f]{20})\b")
REPLY_LINE_RE = re.compile(r"^(\d{3})([ -])(.*)$")


# --------------------------------------------------------------------------------------------
# Test PKI


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsgate receive tests")])


def _serial():
    return int.from_bytes(os.urandom(16), "big") >> 1 | 1


def sha256_fingerprint(cert):
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def der_fingerprint(der):
    return sha256_fingerprint(x509.load_der_x509_certificate(der))


class ClientCert:
    """A certificate file, its key file, and the certificate's SHA-256 fingerprint."""

    def __init__(self, cert, cert_path, key_path):
        self.cert = cert
        self.cert_path = cert_path
        self.key_path = key_path
        self.fingerprint = sha256_fingerprint(cert)


class TestPKI:
    def __init__(self, directory):
        self.directory = directory
        t = datetime.datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("tlsgate receive tests CA")
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(_serial())
            .not_valid_before(t - datetime.timedelta(days=60))
            .not_valid_after(t + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
        self.ca_cert = ca_cert
        self.ca_path = self._write("ca.pem", self._pem(ca_cert))
        self.good = self._leaf("good", "client.example.test", ca_cert, ca_key,
                               t - datetime.timedelta(hours=1), t + datetime.timedelta(days=365))
        self.expired = self._leaf("expired", "expired.example.test", ca_cert, ca_key,
                                  t - datetime.timedelta(days=30), t - datetime.timedelta(days=2))
        self.selfsigned = self._leaf("selfsigned", "self.example.test", None, None,
                                     t - datetime.timedelta(hours=1),
                                     t + datetime.timedelta(days=365))

    @staticmethod
    def _pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def _write(self, name, text, mode=0o644):
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _leaf(self, stem, cn, issuer_cert, issuer_key, not_before, not_after):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(cn)
        builder = (
            x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer_cert.subject if issuer_cert else subject)
            .public_key(key.public_key()).serial_number(_serial())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False))
        if issuer_cert is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return ClientCert(cert, self._write(f"{stem}.pem", self._pem(cert)),
                          self._write(f"{stem}.key", key_pem, 0o600))


_pki = None


def pki():
    """The process's test PKI, made on first use."""
    global _pki
    if _pki is None:
        directory = tempfile.mkdtemp(prefix="tlsgate-pki-")
        atexit.register(shutil.rmtree, directory, True)
        _pki = TestPKI(directory)
    return _pki


# --------------------------------------------------------------------------------------------
# The daemon

_blackhole = None


def blackhole_port():
    """A loopback port bound (so nobody else gets it) but never listening: connecting to it is
    refused, which the sending side takes as a temporary failure."""
    global _blackhole
    if _blackhole is None:
        _blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _blackhole.bind(("127.0.0.1", 0))
        atexit.register(_blackhole.close)
    return _blackhole.getsockname()[1]


@functools.lru_cache(maxsize=None)
def send_section():
    """The [send] lines of every test configuration. These tests are about receiving: what was
    accepted must stay in the spool, so when the daemon has a sending side all mail is routed to
    the black hole above (every attempt deferred, the message kept under its queue id) instead
    of MX lookups, whose failures would bounce it. Empty for a daemon without [send] routing."""
    lines = ["[send]", f"default_route = [127.0.0.1]:{blackhole_port()}"]
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


class Gateway:
    """A configured daemon in a temporary directory; `start()` runs it, `close()` removes all."""

    def __init__(self, receive=None, trust_ca=True, prefix="tlsgate-rx-"):
        self.receive = dict(receive or {})
        self.receive.setdefault("trusted_networks", "127.0.0.0/8")
        self.trust_ca = trust_ca
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.state = os.path.join(self.tmp, "state")
        self.store = os.path.join(self.state, "certs")
        self.spool = os.path.join(self.state, "spool")
        self.config = os.path.join(self.tmp, "tlsgate.conf")
        self.port = None
        self.daemon = None
        self.daemons = []
        self.ca_added = False

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

    def certmgr(self, *args):
        """certmgr --store STORE ARGS; raises AssertionError unless it exits 0; returns stdout."""
        argv = [certmgr_binary(), "--store", self.store, *args]
        p = subprocess.run(argv, cwd=self.tmp, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout

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
        p = subprocess.run([tlsgate_binary(), *args], cwd=self.tmp, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    # -- running

    def start(self):
        """Starts the daemon and waits for "tlsgate started"; keeps the port of an earlier start
        when it can, takes a new free one when the daemon cannot listen on it."""
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        if self.trust_ca and not self.ca_added:
            self.certmgr("ca", "add", pki().ca_path)
            self.ca_added = True
        last = None
        for attempt in range(PORT_TRIES):
            if self.port is None or attempt > 0:
                self.port = free_loopback_port()
            self.write_config()
            daemon = Daemon(self.config, self.tmp)
            self.daemons.append(daemon)
            try:
                daemon.wait_started()
            except AssertionError as e:
                daemon.stop()
                last = e
                if "cannot listen" in daemon.log():
                    continue  # the port was taken between choosing and binding it
                raise
            self.daemon = daemon
            return daemon
        raise last

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()

    def kill(self):
        """SIGKILL, as a crash: no shutdown code runs."""
        proc = self.daemon.proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.daemon.stop()  # collects the log reader

    def close(self):
        for daemon in self.daemons:
            try:
                daemon.stop()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        return self.daemon.log() if self.daemon else ""

    def mark(self):
        """The current end of the log, for wait_for(start=...)."""
        return len(self.daemon.snapshot())

    def wait_for(self, pattern, timeout=EVENT_TIMEOUT, start=0):
        return self.daemon.wait_for(pattern, timeout, start)

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
