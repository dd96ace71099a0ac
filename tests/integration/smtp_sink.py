#!/usr/bin/env python3
"""A small threaded ESMTP server that accepts mail and writes it to a directory: the downstream
peer for integration tests of the gateway's sending side. Python 3 stdlib only.

Each accepted message becomes OUT/<n>.eml (the dot-unstuffed content, CRLF lines) and OUT/<n>.json:
    {"id": n, "mail_from": "a@x", "rcpt_to": ["b@y"], "helo": "client.name", "peer": "127.0.0.1:5555",
     "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"} or null,
     "client_cert_subject": "CN=client,O=Test" or null, "size": 123}

As a module:
    sink = SmtpSink(out_dir=d, tls_cert=c, tls_key=k)   # port=0: a free port, read sink.port
    sink.start()
    ... sink.messages() -> [envelope dict + "content": bytes, "eml": path]
    sink.wait_for_messages(1, timeout=10)
    sink.fail_rcpt = 450   # modes are plain attributes, read when a connection starts
    sink.stop()            # bounded: closes open connections too
As a script:
    smtp_sink.py --port 0 --dir OUT [--tls-cert C --tls-key K] [--no-starttls] [--fail-rcpt 550]
                 [--fail-data 554] [--broken-tls] [--require-client-cert-ca CA]
prints "listening PORT" (flushed) and serves until SIGTERM/SIGINT.

Every socket operation times out after SOCKET_TIMEOUT seconds; all threads are daemons. Errors on a
connection (timeouts, TLS failures, resets) close that connection only; they are kept in `errors`.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time

SOCKET_TIMEOUT = 10.0
MAX_COMMAND_LINE = 4096
MAX_DATA_LINE = 1024 * 1024
MAX_MESSAGE_SIZE = 50 * 1024 * 1024

_FAIL_TEXT = {
    550: "5.1.1 Recipient rejected by sink",
    450: "4.2.1 Recipient temporarily rejected by sink",
    554: "5.6.0 Message rejected by sink",
    451: "4.3.0 Message temporarily rejected by sink",
}


class _LineTooLong(Exception):
    pass


class _Closed(Exception):
    pass


def _subject_text(peercert):
    """'CN=client,O=Test' from the dict form of ssl.SSLSocket.getpeercert()."""
    if not peercert or "subject" not in peercert:
        return None
    parts = []
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
    for rdn in peercert["subject"]:
        for key, value in rdn:
            parts.append("%s=%s" % (short.get(key, key), value))
    return ",".join(parts)


class _Connection:
    """One SMTP conversation. Replies are sent as soon as each command is read, so pipelined
    commands (several in one packet) are answered in order from the read buffer."""

    def __init__(self, sink, sock, peer):
        self.sink = sink
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()
        # The modes, fixed for the whole connection.
        self.tls_cert = sink.tls_cert
        self.tls_key = sink.tls_key
        self.offer_starttls = bool(sink.starttls and sink.tls_cert and sink.tls_key)
        self.fail_rcpt = sink.fail_rcpt
        self.fail_data = sink.fail_data
        self.broken_tls = sink.broken_tls
        self.client_ca = sink.require_client_cert_ca
        self.tls = None
        self.client_subject = None
        self.helo = None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt_to = []

    # -- I/O --------------------------------------------------------------------------------
    def send(self, text):
        self.sock.sendall(text.encode("utf-8") + b"\r\n")

    def reply(self, code, *lines):
        lines = lines or ("Ok",)
        out = []
        for index, line in enumerate(lines):
            sep = " " if index == len(lines) - 1 else "-"
            out.append("%d%s%s" % (code, sep, line))
        self.sock.sendall(("\r\n".join(out) + "\r\n").encode("utf-8"))

    def readline(self, limit):
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            if len(self.buffer) > limit:
                self.buffer.clear()
                raise _LineTooLong()
            chunk = self.sock.recv(65536)
            if not chunk:
                raise _Closed()
            self.buffer += chunk

    # -- the conversation -------------------------------------------------------------------
    def run(self):
        self.send("220 %s ESMTP smtp_sink" % self.sink.hostname)
        while True:
            try:
                raw = self.readline(MAX_COMMAND_LINE)
            except _LineTooLong:
                self.reply(500, "5.5.2 Line too long")
                continue
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, args = line.partition(" ")
            verb = verb.upper()
            handler = getattr(self, "cmd_" + verb, None)
            if handler is None or not verb.isalpha():
                self.reply(500, "5.5.1 Command unrecognized")
                continue
            if handler(args.strip()) is False:
                return

    def cmd_EHLO(self, args):
        if not args:
            self.reply(501, "5.5.4 EHLO needs a domain")
            return
        self.helo = args
        self.reset()
        lines = [self.sink.hostname, "PIPELINING", "SIZE %d" % MAX_MESSAGE_SIZE, "8BITMIME"]
        if self.offer_starttls and self.tls is None:
            lines.append("STARTTLS")
        lines.append("ENHANCEDSTATUSCODES")
        self.reply(250, *lines)

    def cmd_HELO(self, args):
        if not args:
            self.reply(501, "5.5.4 HELO needs a domain")
            return
        self.helo = args
        self.reset()
        self.reply(250, self.sink.hostname)

    def cmd_STARTTLS(self, args):
        if self.tls is not None:
            self.reply(503, "5.5.1 TLS already active")
            return
        if not self.offer_starttls:
            self.reply(502, "5.5.1 STARTTLS not offered")
            return
        if args:
            self.reply(501, "5.5.4 No parameters allowed")
            return
        self.send("220 2.0.0 Ready to start TLS")
        # Anything pipelined after STARTTLS was sent in clear text: discard it (RFC 3207 5).
        self.buffer.clear()
        if self.broken_tls:
            self.sock.sendall(b"this is not a TLS server hello\r\n" * 4)
            return False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls_cert, self.tls_key)
        if self.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.client_ca)
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.sock.settimeout(SOCKET_TIMEOUT)
        self.tls = {"version": self.sock.version(), "cipher": self.sock.cipher()[0]}
        self.client_subject = _subject_text(self.sock.getpeercert())
        self.helo = None
        self.reset()
        return None

    def cmd_MAIL(self, args):
        if self.helo is None:
            self.reply(503, "5.5.1 Send EHLO first")
            return
        if self.mail_from is not None:
            self.reply(503, "5.5.1 Nested MAIL command")
            return
        address = self._path(args, "FROM:")
        if address is None:
            self.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
            return
        self.mail_from = address
        self.reply(250, "2.1.0 Ok")

    def cmd_RCPT(self, args):
        if self.mail_from is None:
            self.reply(503, "5.5.1 Need MAIL command")
            return
        address = self._path(args, "TO:")
        if not address:
            self.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
            return
        if self.fail_rcpt:
            self.sink._note_rejection("rcpt", self.fail_rcpt, self.mail_from, [address])
            self.reply(self.fail_rcpt, _FAIL_TEXT.get(self.fail_rcpt, "Rejected by sink"))
            return
        self.rcpt_to.append(address)
        self.reply(250, "2.1.5 Ok")

    def cmd_DATA(self, args):
        if self.mail_from is None:
            self.reply(503, "5.5.1 Need MAIL command")
            return
        if not self.rcpt_to:
            self.reply(554, "5.5.1 No valid recipients")
            return
        self.reply(354, "End data with <CR><LF>.<CR><LF>")
        content = bytearray()
        too_big = False
        while True:
            try:
                line = self.readline(MAX_DATA_LINE)
            except _LineTooLong:
                too_big = True
                continue
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            if not line.endswith(b"\r\n"):
                line = line.rstrip(b"\n") + b"\r\n"
            content += line
            if len(content) > MAX_MESSAGE_SIZE:
                too_big = True
                content.clear()
        mail_from, rcpt_to = self.mail_from, self.rcpt_to
        self.reset()
        if too_big:
            self.reply(552, "5.3.4 Message too big")
        elif self.fail_data:
            self.sink._note_rejection("data", self.fail_data, mail_from, rcpt_to)
            self.reply(self.fail_data, _FAIL_TEXT.get(self.fail_data, "Rejected by sink"))
        else:
            number = self.sink._save(self, mail_from, rcpt_to, bytes(content))
            self.reply(250, "2.0.0 Ok: queued as %d" % number)

    def cmd_RSET(self, args):
        self.reset()
        self.reply(250, "2.0.0 Ok")

    def cmd_NOOP(self, args):
        self.reply(250, "2.0.0 Ok")

    def cmd_VRFY(self, args):
        self.reply(252, "2.5.2 Cannot VRFY user")

    def cmd_QUIT(self, args):
        self.reply(221, "2.0.0 Bye")
        return False

    @staticmethod
    def _path(args, prefix):
        """'FROM:<a@b> SIZE=10' -> 'a@b' ('' for the null path), None on bad syntax."""
        if not args.upper().startswith(prefix):
            return None
        rest = args[len(prefix):].strip()
        if not rest.startswith("<"):
            return None
        end = rest.find(">")
        if end < 0:
            return None
        return rest[1:end]


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, sink, family):
        self.address_family = family
        self.sink = sink
        super().__init__(address, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sink = self.server.sink
        sock = self.request
        sock.settimeout(SOCKET_TIMEOUT)
        peer = "%s:%d" % self.client_address[:2]
        connection = _Connection(sink, sock, peer)
        sink._track(connection, True)
        try:
            connection.run()
        except _Closed:
            pass  # the client went away without QUIT
        except Exception as error:  # noqa: BLE001 - one bad connection never stops the sink
            sink._note_error(peer, error)
        finally:
            sink._track(connection, False)
            try:
                connection.sock.close()
            except OSError:
                pass


class SmtpSink:
    """The sink; see the module docstring. The mode attributes (starttls, fail_rcpt, fail_data,
    broken_tls, require_client_cert_ca, tls_cert/tls_key) may be changed while it runs: each new
    connection reads them once at its start."""

    def __init__(self, port=0, out_dir=None, tls_cert=None, tls_key=None, starttls=True,
                 fail_rcpt=None, fail_data=None, broken_tls=False, require_client_cert_ca=None,
                 host="127.0.0.1", hostname="sink.test"):
        self.requested_port = port
        self.host = host
        self.hostname = hostname
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.starttls = starttls
        self.fail_rcpt = fail_rcpt
        self.fail_data = fail_data
        self.broken_tls = broken_tls
        self.require_client_cert_ca = require_client_cert_ca
        self._own_dir = out_dir is None
        self.out_dir = out_dir if out_dir is not None else tempfile.mkdtemp(prefix="smtp_sink.")
        self.errors = []  # (peer, repr(exception)) of connections that ended abnormally
        self.connections = 0  # connections accepted so far
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages = []
        self._rejections = []
        self._open = set()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    def start(self):
        os.makedirs(self.out_dir, exist_ok=True)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = _Server((self.host, self.requested_port), self, family)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="smtp_sink:%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stops accepting, closes open connections, waits at most about `timeout` seconds."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        with self._lock:
            still_open = list(self._open)
        for connection in still_open:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._open and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._own_dir:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self):
        """Accepted messages in order: the JSON envelope plus 'content' (bytes) and 'eml'."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def rejections(self):
        """Replies failed on purpose: {'stage': 'rcpt'|'data', 'code', 'mail_from', 'rcpt_to'}."""
        with self._lock:
            return [dict(rejection) for rejection in self._rejections]

    def wait_for_messages(self, count, timeout=10.0):
        """Waits until at least `count` messages were accepted; returns messages() (maybe fewer)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        return self.messages()

    def wait_for_rejections(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._rejections) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        return self.rejections()

    # -- called from connection threads ------------------------------------------------------
    def _track(self, connection, is_open):
        with self._lock:
            if is_open:
                self._open.add(connection)
                self.connections += 1
            else:
                self._open.discard(connection)
            self._changed.notify_all()

    def _note_error(self, peer, error):
        with self._lock:
            self.errors.append((peer, repr(error)))

    def _note_rejection(self, stage, code, mail_from, rcpt_to):
        with self._lock:
            self._rejections.append({"stage": stage, "code": code, "mail_from": mail_from,
                                     "rcpt_to": list(rcpt_to)})
            self._changed.notify_all()

    def _save(self, connection, mail_from, rcpt_to, content):
        with self._lock:
            number = len(self._messages) + 1
            envelope = {"id": number, "mail_from": mail_from, "rcpt_to": list(rcpt_to),
                        "helo": connection.helo, "peer": connection.peer, "tls": connection.tls,
                        "client_cert_subject": connection.client_subject, "size": len(content)}
            eml = os.path.join(self.out_dir, "%d.eml" % number)
            with open(eml, "wb") as out:
                out.write(content)
            with open(os.path.join(self.out_dir, "%d.json" % number), "w") as out:
                json.dump(envelope, out, indent=1)
            record = dict(envelope, content=content, eml=eml)
            self._messages.append(record)
            self._changed.notify_all()
            return number


def main(argv=None):
    parser = argparse.ArgumentParser(description="SMTP sink for tlsgate integration tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", required=True, help="where <n>.eml and <n>.json are written")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--no-starttls", action="store_true")
    parser.add_argument("--fail-rcpt", type=int, choices=(550, 450))
    parser.add_argument("--fail-data", type=int, choices=(554, 451))
    parser.add_argument("--broken-tls", action="store_true")
    parser.add_argument("--require-client-cert-ca")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    sink = SmtpSink(port=args.port, out_dir=args.dir, tls_cert=args.tls_cert,
                    tls_key=args.tls_key, starttls=not args.no_starttls,
                    fail_rcpt=args.fail_rcpt, fail_data=args.fail_data,
                    broken_tls=args.broken_tls,
                    require_client_cert_ca=args.require_client_cert_ca, host=args.host)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    sink.start()
    print("listening %d" % sink.port, flush=True)
    while not done.wait(0.5):
        pass
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
