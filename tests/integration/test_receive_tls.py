"""The listener's TLS as clients see it: which certificate it presents (ECDSA or RSA, the one
certmgr lists as active), which protocol versions and ciphers it refuses, STARTTLS command
injection (CVE-2011-0411), a second STARTTLS, a live certificate switch with certmgr while
sessions are open, and the log line of an established TLS session.

Run by ctest as `integration.receive.tls`.
"""

import re
import socket
import ssl
import time
import unittest
import warnings

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from daemon_support import EVENT_TIMEOUT, HOSTNAME
from receive_support import (QUEUED_RE, Gateway, GatewayTestCase, SmtpClient, client_context,
                             der_fingerprint, message, run_s_client, s_client_server_cert,
                             s_client_session, sha256_fingerprint, unique)

ECDSA_TLS12 = "ECDHE-ECDSA-AES128-GCM-SHA256"
RSA_TLS12 = "ECDHE-RSA-AES128-GCM-SHA256"
# TLS 1.2 suites without forward secrecy (static RSA key exchange).
NON_FS_CIPHERS = ("AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA256", "AES128-SHA",
                  "AES256-SHA")


class TlsServerTest(GatewayTestCase):
    RECEIVE = {"tls_level": "attempt", "client_certificate": "do-not-request"}

    def presented(self, *args):
        """(certificate, (protocol, cipher)) that an s_client with `args` got."""
        rc, out, err = run_s_client(self.port, "-showcerts", *args)
        session = s_client_session(out + err)
        self.assertIsNotNone(session, f"s_client {args}: no TLS session (exit {rc})\n{out}{err}")
        return s_client_server_cert(out), session

    # -- 2. certificates, versions, ciphers

    def test_ecdsa_only_client_gets_the_active_ec_certificate(self):
        expected = self.gw.active_server_fingerprint("EC")
        for args in (("-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"),
                     ("-tls1_2", "-cipher", ECDSA_TLS12)):
            with self.subTest(args=args):
                cert, session = self.presented(*args)
                self.assertIsInstance(cert.public_key(), ec.EllipticCurvePublicKey)
                self.assertEqual(sha256_fingerprint(cert), expected)
                self.assertEqual(session[0], args[0].replace("-tls1_", "TLSv1."))

    def test_rsa_only_client_gets_the_active_rsa_certificate(self):
        expected = self.gw.active_server_fingerprint("RSA")
        for args in (("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"),
                     ("-tls1_2", "-cipher", RSA_TLS12)):
            with self.subTest(args=args):
                cert, session = self.presented(*args)
                self.assertIsInstance(cert.public_key(), rsa.RSAPublicKey)
                self.assertEqual(sha256_fingerprint(cert), expected)
                if args[0] == "-tls1_2":
                    self.assertEqual(session, ("TLSv1.2", RSA_TLS12))

    def test_default_client_gets_the_active_ec_certificate(self):
        # The fingerprint `certmgr list --json` shows for the active EC server certificate.
        expected = self.gw.active_server_fingerprint("EC")
        cert, _ = self.presented()
        self.assertEqual(sha256_fingerprint(cert), expected)
        self.assertEqual(cert.subject.rfc4514_string(), f"CN={HOSTNAME}")
        with SmtpClient(self.port) as c:
            c.ready_for_tls()
            sock = c.starttls()
            self.assertEqual(der_fingerprint(sock.getpeercert(binary_form=True)), expected)

    def test_tls_1_1_and_1_0_are_refused(self):
        for version in ("-tls1_1", "-tls1"):
            with self.subTest(version=version):
                mark = self.gw.mark()
                # SECLEVEL=0: the client itself would not offer these versions otherwise.
                rc, out, err = run_s_client(self.port, version, "-cipher", "DEFAULT@SECLEVEL=0")
                self.assertIsNone(s_client_session(out + err), out + err)
                self.assertNotEqual(rc, 0)
                # Refused by the server (a protocol_version alert), not by the client.
                self.assertIn("alert protocol version", err)
                self.gw.wait_for(r"TLS handshake failed from 127\.0\.0\.1: .*unsupported protocol",
                                 start=mark)
        # The same for Python's client.
        with SmtpClient(self.port) as c:
            c.ready_for_tls()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1
                ctx = client_context(max_version=ssl.TLSVersion.TLSv1_1)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                c.starttls(ctx)

    def test_no_cipher_without_forward_secrecy(self):
        for cipher in NON_FS_CIPHERS:
            with self.subTest(cipher=cipher):
                rc, out, err = run_s_client(self.port, "-tls1_2", "-cipher", cipher)
                self.assertIsNone(s_client_session(out + err),
                                  f"{cipher} was negotiated\n{out}{err}")
                self.assertIn("alert handshake failure", err)
        # What is negotiated with a default client is forward secret.
        for args in ((), ("-tls1_2",)):
            with self.subTest(args=args):
                _, (protocol, cipher) = self.presented(*args)
                if protocol == "TLSv1.2":
                    self.assertRegex(cipher, r"^ECDHE-")
                else:
                    self.assertEqual(protocol, "TLSv1.3")

    # -- 3. STARTTLS command injection, a second STARTTLS

    def test_commands_pipelined_after_starttls_are_discarded(self):
        mark = self.gw.mark()
        with SmtpClient(self.port) as c:
            self.assertEqual(c.greeting()[0], 220)
            self.assertEqual(c.ehlo()[0], 250)
            c.send(b"STARTTLS\r\nMAIL FROM:<x@y.example>\r\n")  # one write
            self.assertEqual(c.reply(), (220, "2.0.0 Ready to start TLS"))
            # Nothing else may have come in plaintext either.
            self.assertEqual(c.buffer, b"", "bytes after the 220 before the handshake")
            c.starttls()
            # The injected MAIL must not be answered inside TLS.
            self.assertEqual(c.silence(1.0), b"",
                             "the MAIL pipelined before the handshake was executed inside TLS")
            code, text = c.ehlo()
            self.assertEqual(code, 250, text)
            self.assertNotIn("STARTTLS", text.split("\n"))
            self.assertEqual(c.command("MAIL FROM:<a@x.example>"), (250, "2.1.0 Ok"))
            self.assertEqual(c.command("RCPT TO:<b@y.example>"), (250, "2.1.5 Ok"))
            self.assertEqual(c.command("QUIT"), (221, "2.0.0 Bye"))
        self.gw.wait_for(r"discarding \d+ bytes pipelined after STARTTLS from 127\.0\.0\.1",
                         start=mark)

    def test_tls_records_arriving_together_are_all_answered(self):
        # The server reads ahead: one read can take several TLS records, which then wait
        # inside OpenSSL, not in the socket. Three commands in three records, corked into one
        # TCP segment: each must be answered without the client sending anything more.
        with SmtpClient(self.port) as c:
            c.ready_for_tls()
            c.starttls()
            self.assertEqual(c.ehlo()[0], 250)
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            for line in ("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>", "RSET"):
                c.send(line + "\r\n")  # one TLS record each
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            self.assertEqual([c.reply(timeout=5) for _ in range(3)],
                             [(250, "2.1.0 Ok"), (250, "2.1.5 Ok"), (250, "2.0.0 Ok")])
            self.assertEqual(c.command("QUIT"), (221, "2.0.0 Bye"))

    def test_second_starttls_is_refused(self):
        with SmtpClient(self.port) as c:
            c.ready_for_tls()
            c.starttls()
            self.assertEqual(c.ehlo()[0], 250)
            self.assertEqual(c.command("STARTTLS"), (503, "5.5.1 Error: TLS already active"))
            # The session goes on inside TLS.
            marker = unique("after-503")
            code, text = c.send_message("a@x.example", ["b@y.example"], message(marker))
            self.assertEqual(code, 250, text)
            queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
        self.assert_queued(queue_id, marker, f"with ESMTPS id {queue_id}")

    # -- 7. the log of a TLS session

    def test_tls_session_is_logged(self):
        mark = self.gw.mark()
        marker = unique("logged")
        with SmtpClient(self.port) as c:
            c.ready_for_tls("logtest.example.test")
            sock = c.starttls()
            version, cipher = sock.version(), sock.cipher()[0]
            c.ehlo("logtest.example.test")
            code, text = c.send_message("a@x.example", ["b@y.example"], message(marker))
            self.assertEqual(code, 250, text)
            queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
            c.command("QUIT")
        _, m = self.gw.wait_for(
            r"session=([0-9a-f]+) Anonymous TLS connection established from "
            r"logtest\.example\.test\[127\.0\.0\.1\]: (TLSv1\.[0-3]) with cipher (\S+) ",
            start=mark)
        self.assertEqual((m.group(2), m.group(3)), (version, cipher), m.group(0))
        session = m.group(1)
        # The same session queued the message, and says it came over TLS.
        self.gw.wait_for(rf"session={session} queued {queue_id} from=<a@x\.example> nrcpt=1 "
                         rf"size=\d+ tls={re.escape(version)}$", start=mark)


class LiveCertificateSwitchTest(unittest.TestCase):
    """certmgr changes the active certificate while the daemon runs."""

    def setUp(self):
        self.gw = Gateway({"tls_level": "attempt", "client_certificate": "do-not-request"})
        self.addCleanup(self.gw.close)
        self.gw.start()

    def ec_handshake(self, port):
        """The fingerprint of the certificate an ECDSA-only client gets on a new connection."""
        with SmtpClient(port) as c:
            c.ready_for_tls()
            sock = c.starttls(client_context(max_version=ssl.TLSVersion.TLSv1_2,
                                             ciphers=ECDSA_TLS12))
            fp = der_fingerprint(sock.getpeercert(binary_form=True))
            c.command("QUIT")
            return fp

    def test_new_certificate_is_used_and_open_sessions_complete(self):
        gw = self.gw
        old = gw.active_server_fingerprint("EC")
        self.assertEqual(self.ec_handshake(gw.port), old)

        # A session with TLS established before the switch, in the middle of a transaction.
        before = SmtpClient(gw.port)
        self.addCleanup(before.close)
        before.greeting()
        before.ehlo()
        self.assertEqual(before.command("STARTTLS")[0], 220)
        sock = before.starttls(client_context(max_version=ssl.TLSVersion.TLSv1_2,
                                              ciphers=ECDSA_TLS12))
        self.assertEqual(der_fingerprint(sock.getpeercert(binary_form=True)), old)
        before.ehlo()
        self.assertEqual(before.command("MAIL FROM:<a@x.example>")[0], 250)

        gw.certmgr("generate", "--name", "new.example.test", "--activate")
        new = [c for c in gw.certificates() if c["subject"] == "CN=new.example.test"]
        self.assertEqual(len(new), 1, new)
        self.assertEqual(new[0]["key_type"], "EC P-256", new[0])
        self.assertIn("server", new[0]["roles"], new[0])
        new_fp = new[0]["sha256_fingerprint"]
        self.assertEqual(gw.active_server_fingerprint("EC"), new_fp)

        deadline = time.monotonic() + EVENT_TIMEOUT
        seen = old
        while time.monotonic() < deadline:
            seen = self.ec_handshake(gw.port)
            if seen == new_fp:
                break
            time.sleep(0.1)
        self.assertEqual(seen, new_fp,
                         f"new connections still get {seen} {EVENT_TIMEOUT} s after the switch\n"
                         + gw.log())
        # openssl's TLS 1.3 client sees it too.
        rc, out, err = run_s_client(gw.port, "-showcerts", "-sigalgs", "ecdsa_secp256r1_sha256")
        self.assertEqual(sha256_fingerprint(s_client_server_cert(out)), new_fp, out + err)
        self.assertEqual(s_client_server_cert(out).subject.rfc4514_string(),
                         "CN=new.example.test")

        # The session opened before the switch still delivers its message.
        self.assertEqual(before.command("RCPT TO:<b@y.example>")[0], 250)
        self.assertEqual(before.command("DATA")[0], 354)
        marker = unique("switch")
        before.send(message(marker) + ".\r\n")
        code, text = before.reply()
        self.assertEqual(code, 250, text)
        queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
        self.assertEqual(before.command("QUIT"), (221, "2.0.0 Bye"))
        self.assertIn(queue_id, gw.queue_ids())
        self.assertIn(marker.encode(), gw.spooled(queue_id))


if __name__ == "__main__":
    unittest.main()
