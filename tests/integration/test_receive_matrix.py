"""The receiving TLS policy matrix: every valid combination of [receive] tls_level and
client_certificate (one daemon each), against five clients:

  plaintext      no STARTTLS                                      (smtplib)
  nocert         STARTTLS, no client certificate                  (swaks --tls)
  good           STARTTLS, a client certificate from the trusted CA (swaks --tls-cert)
  untrusted      STARTTLS, a self-signed client certificate       (swaks --tls-cert)
  expired        STARTTLS, an expired certificate from the trusted CA (openssl s_client -cert)

and what the client sees: the message accepted (250 queued, listed by `tlsgate queue`, its
Received: header telling how it came), 530 5.7.0 and the connection closed, 421 4.7.1 with the
reason and the connection closed, or no STARTTLS at all. The invalid combinations are refused by
check-config (exit 78). Run by ctest as `integration.receive.matrix`.
"""

import re
import unittest

from daemon_support import EX_CONFIG, EX_OK, HOSTNAME
from receive_support import (QUEUED_RE, Gateway, GatewayTestCase, message, pki, run_s_client,
                             run_swaks, s_client_replies, s_client_server_cert,
                             s_client_session, smtp_connect, swaks_has_tls, unique)

ACCEPT = "accepted"
TLS_REQUIRED = "530 5.7.0 and closed"
NO_STARTTLS = "STARTTLS not offered"


def cert_required(reason_regex):
    return ("421 4.7.1", reason_regex)


NO_CERT = cert_required(r"no certificate presented")
UNTRUSTED = cert_required(r"certificate not accepted: .*self.signed.*")
EXPIRED = cert_required(r"certificate not accepted: .*expired.*")

# What the Received: header says about the client certificate of an accepted TLS message.
NOT_REQUESTED = "(No client certificate requested)"
NOT_PRESENTED = "(Client did not present a certificate)"
VERIFIED = re.compile(r'\(Client CN "client\.example\.test", Issuer "[^"]*tlsgate receive tests '
                      r'CA[^"]*" \(verified OK\)\)')
NOT_VERIFIED_SELF = re.compile(r'\(Client CN "self\.example\.test", .*\(not verified: '
                               r'self.signed certificate\)\)')
NOT_VERIFIED_EXPIRED = re.compile(r'\(Client CN "expired\.example\.test", .*\(not verified: '
                                  r'certificate has expired\)\)')

CLIENTS = ("plaintext", "nocert", "good", "untrusted", "expired")

# (tls_level, client_certificate) -> {client: outcome, or (ACCEPT, header note)}. Written out in
# full, not computed, so that the table is the specification and not a copy of the daemon's logic.
MATRIX = {
    ("none", "do-not-request"): {
        "plaintext": ACCEPT, "nocert": NO_STARTTLS, "good": NO_STARTTLS,
        "untrusted": NO_STARTTLS, "expired": NO_STARTTLS},
    ("attempt", "do-not-request"): {
        "plaintext": ACCEPT, "nocert": (ACCEPT, NOT_REQUESTED), "good": (ACCEPT, NOT_REQUESTED),
        "untrusted": (ACCEPT, NOT_REQUESTED), "expired": (ACCEPT, NOT_REQUESTED)},
    ("attempt", "request"): {
        "plaintext": ACCEPT, "nocert": (ACCEPT, NOT_PRESENTED), "good": (ACCEPT, VERIFIED),
        "untrusted": (ACCEPT, NOT_VERIFIED_SELF), "expired": (ACCEPT, NOT_VERIFIED_EXPIRED)},
    ("require", "do-not-request"): {
        "plaintext": TLS_REQUIRED, "nocert": (ACCEPT, NOT_REQUESTED),
        "good": (ACCEPT, NOT_REQUESTED), "untrusted": (ACCEPT, NOT_REQUESTED),
        "expired": (ACCEPT, NOT_REQUESTED)},
    ("require", "request"): {
        "plaintext": TLS_REQUIRED, "nocert": (ACCEPT, NOT_PRESENTED), "good": (ACCEPT, VERIFIED),
        "untrusted": (ACCEPT, NOT_VERIFIED_SELF), "expired": (ACCEPT, NOT_VERIFIED_EXPIRED)},
    ("require", "require"): {
        "plaintext": TLS_REQUIRED, "nocert": NO_CERT, "good": (ACCEPT, VERIFIED),
        "untrusted": UNTRUSTED, "expired": EXPIRED},
}

INVALID = {
    ("none", "request"): "requires receive.tls_level = attempt or require (it is none)",
    ("none", "require"): "requires receive.tls_level = require (it is none)",
    ("attempt", "require"): "requires receive.tls_level = require (it is attempt)",
}

SWAKS_TLS_FAILED = 29  # swaks: error negotiating TLS (also: STARTTLS not advertised)


def _client_cert(client):
    p = pki()
    return {"good": p.good, "untrusted": p.selfsigned, "expired": p.expired}.get(client)


class MatrixCase:
    """The tests of one configuration; mixed into one GatewayTestCase per MATRIX entry."""

    TLS = CC = None

    @classmethod
    def expected(cls, client):
        return MATRIX[(cls.TLS, cls.CC)][client]

    def assert_header_note(self, data, note):
        text = data.decode(errors="replace")
        if isinstance(note, re.Pattern):
            self.assertRegex(text, note)
        else:
            self.assertIn(note, text)

    def assert_tls_accepted(self, output, queue_id, marker, note):
        data = self.assert_queued(queue_id, marker, f"with ESMTPS id {queue_id}")
        self.assert_header_note(data, note)

    # -- plaintext: smtplib

    def test_plaintext(self):
        outcome = self.expected("plaintext")
        marker = unique("plain")
        with smtp_connect(self.port) as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            self.assertEqual(s.has_extn("starttls"), self.TLS != "none",
                             f"EHLO extensions: {s.esmtp_features}")
            code, text = s.mail("a@x.example")
            if outcome == TLS_REQUIRED:
                self.assertEqual((code, text.decode()),
                                 (530, "5.7.0 Must issue a STARTTLS command first"))
                s.sock.settimeout(5)
                try:
                    after = s.sock.recv(100)
                except TimeoutError:
                    self.fail("connection still open 5 s after the 530")
                except ConnectionResetError:
                    after = b""
                self.assertEqual(after, b"", "connection not closed after 530")
                return
            self.assertEqual(outcome, ACCEPT)
            self.assertEqual(code, 250, text)
            self.assertEqual(s.rcpt("b@y.example")[0], 250)
            code, text = s.data(message(marker).encode())
            m = QUEUED_RE.search(f"{code} {text.decode()}")
            self.assertIsNotNone(m, f"DATA end: {code} {text}")
            s.quit()
        self.assert_queued(m.group(1), marker, f"with ESMTP id {m.group(1)}")

    # -- STARTTLS clients through swaks

    def run_swaks_client(self, client):
        if not swaks_has_tls():
            self.fail("swaks cannot do TLS here: install Perl's Net::SSLeay "
                      "(Debian: libnet-ssleay-perl)")
        outcome = self.expected(client)
        marker = unique(client)
        args = ["--from", "a@x.example", "--to", "b@y.example", "--tls",
                "--header", f"Subject: {marker}", "--body", marker]
        cert = _client_cert(client)
        if cert is not None:
            args += ["--tls-cert", cert.cert_path, "--tls-key", cert.key_path]
        rc, out = run_swaks(self.port, *args)
        server_lines = [l for l in out.splitlines() if re.match(r"^<[-~]?\*?\s*\d{3}[ -]", l)]
        if outcome == NO_STARTTLS:
            self.assertEqual(rc, SWAKS_TLS_FAILED, out)
            self.assertIn("Host did not advertise STARTTLS", out)
            self.assertNotIn("TLS started", out)
            self.assertIsNone(QUEUED_RE.search(out), out)
            return
        self.assertIn("TLS started with cipher TLSv1.", out)
        if cert is not None:
            self.assertIn("TLS local DN=", out, "swaks did not use the client certificate")
        if isinstance(outcome, tuple) and outcome[0] == ACCEPT:
            self.assertEqual(rc, 0, out)
            m = QUEUED_RE.search(out)
            self.assertIsNotNone(m, out)
            self.assert_tls_accepted(out, m.group(1), marker, outcome[1])
            return
        code, reason = outcome
        self.assertNotEqual(rc, 0, out)
        self.assertIsNone(QUEUED_RE.search(out), out)
        self.assertRegex(server_lines[-1] if server_lines else "",
                         rf"^<~\*? {re.escape(code)} Client certificate required: {reason}$",
                         f"the 421 is not the last reply (connection not closed?)\n{out}")

    def test_starttls_without_certificate(self):
        self.run_swaks_client("nocert")

    def test_starttls_with_trusted_certificate(self):
        self.run_swaks_client("good")

    def test_starttls_with_untrusted_certificate(self):
        self.run_swaks_client("untrusted")

    # -- the expired certificate through openssl s_client

    def test_starttls_with_expired_certificate(self):
        outcome = self.expected("expired")
        marker = unique("expired")
        dialog = ("EHLO client.example.test\nMAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\n"
                  f"DATA\nSubject: {marker}\n\n{marker}\n.\nQUIT\n")
        mark = self.gw.mark()
        rc, out, err = run_s_client(self.port, "-cert", pki().expired.cert_path,
                                    "-key", pki().expired.key_path, stdin_text=dialog,
                                    quiet=True)
        replies = s_client_replies(out)
        out += err
        if outcome == NO_STARTTLS:
            self.assertNotEqual(rc, 0, out)
            self.assertIn("Didn't find STARTTLS", out)
            self.assertEqual(replies, [], out)
            return
        # The handshake: the daemon saw the certificate, and why it is not trusted.
        _, m = self.gw.wait_for(r"(\w+) TLS connection established from client\.example\.test"
                                r"\[127\.0\.0\.1\]: (TLSv1\.[23]) with cipher \S+(.*)$",
                                start=mark)
        if self.CC == "do-not-request":
            self.assertEqual(m.group(1), "Anonymous", m.group(0))
            self.assertNotIn("client_sha256=", m.group(3))
        else:
            self.assertEqual(m.group(1), "Untrusted", m.group(0))
            self.assertIn(f"client_sha256={pki().expired.fingerprint} "
                          f'verify_error="certificate has expired"', m.group(3))
        # After the handshake s_client sends its EHLO again: no STARTTLS offered inside TLS.
        self.assertIn("250 8BITMIME", replies, out)
        self.assertNotIn("250-STARTTLS", replies, out)
        if isinstance(outcome, tuple) and outcome[0] == ACCEPT:
            q = QUEUED_RE.search("\n".join(replies))
            self.assertIsNotNone(q, out)
            self.assertEqual(replies[-1], "221 2.0.0 Bye", out)
            self.assert_tls_accepted(out, q.group(1), marker, outcome[1])
            return
        code, reason = outcome
        self.assertRegex(replies[-1], rf"^{re.escape(code)} Client certificate required: {reason}$",
                         f"the 421 is not the last reply (connection not closed?)\n{out}")
        self.assertIsNone(QUEUED_RE.search(out), out)

    # -- STARTTLS refused under none; the handshake and the certificate request

    def test_starttls_command(self):
        with smtp_connect(self.port) as s:
            s.ehlo()
            code, text = s.docmd("STARTTLS")
            if self.TLS == "none":
                self.assertEqual((code, text.decode()), (502, "5.5.1 Error: command not implemented"))
                # Still a working plaintext session.
                self.assertEqual(s.mail("a@x.example")[0], 250)
            else:
                self.assertEqual((code, text.decode()), (220, "2.0.0 Ready to start TLS"))
            s.close()

    def test_openssl_handshake_and_certificate_request(self):
        rc, out, err = run_s_client(self.port, "-showcerts")
        out += err
        session = s_client_session(out)
        if self.TLS == "none":
            self.assertIsNone(session, out)
            return
        self.assertIsNotNone(session, f"no TLS session (exit {rc})\n{out}")
        self.assertIn(session[0], ("TLSv1.2", "TLSv1.3"))
        cert = s_client_server_cert(out)
        self.assertEqual(cert.subject.rfc4514_string(), f"CN={HOSTNAME}")
        if self.CC == "do-not-request":
            self.assertIn("No client certificate CA names sent", out)
        else:
            m = re.search(r"^Acceptable client certificate CA names\n((?:.+\n)+?)(?:Requested|---)",
                          out, re.M)
            self.assertIsNotNone(m, "the server did not request a certificate\n" + out)
            self.assertIn("CN = tlsgate receive tests CA", m.group(1))


def _make_case(tls, cc):
    name = f"Matrix_{tls}_{cc.replace('-', '_')}"
    cls = type(name, (MatrixCase, GatewayTestCase), {
        "RECEIVE": {"tls_level": tls, "client_certificate": cc,
                    "trusted_networks": "127.0.0.0/8"},
        "TLS": tls, "CC": cc, "__module__": __name__})
    globals()[name] = cls


for _tls, _cc in MATRIX:
    _make_case(_tls, _cc)


class CheckConfigMatrixTest(unittest.TestCase):
    def setUp(self):
        self.gw = None

    def tearDown(self):
        if self.gw:
            self.gw.close()

    def configure(self, tls, cc):
        if self.gw:
            self.gw.close()
        self.gw = Gateway({"tls_level": tls, "client_certificate": cc}, trust_ca=False)
        self.gw.port = 2525
        self.gw.write_config()
        return self.gw.config

    def test_every_combination(self):
        levels = ("none", "attempt", "require")
        modes = ("do-not-request", "request", "require")
        self.assertEqual(len(MATRIX) + len(INVALID), 9)
        for tls in levels:
            for cc in modes:
                with self.subTest(tls_level=tls, client_certificate=cc):
                    config = self.configure(tls, cc)
                    rc, out, err = self.gw.tlsgate("check-config", config)
                    if (tls, cc) in MATRIX:
                        self.assertEqual(rc, EX_OK, out + err)
                        self.assertIn(f"{config}: configuration OK", out)
                        continue
                    self.assertEqual(rc, EX_CONFIG, out + err)
                    self.assertNotIn("configuration OK", out)
                    self.assertIn(f"{config}: receive.client_certificate = {cc}: "
                                  f"{INVALID[(tls, cc)]}", err)
                    # The daemon refuses it too, before starting anything.
                    rc, out, err = self.gw.tlsgate("--config", config, "run")
                    self.assertEqual(rc, EX_CONFIG, out + err)
                    self.assertNotIn("tlsgate started", err)


if __name__ == "__main__":
    unittest.main()
