"""Self-test of smtp_sink.py, the downstream SMTP server of the sending-side integration tests:
plain, STARTTLS (with and without a required client certificate), pipelining, failure modes,
mode changes while running, script mode and bounded stop(). Clients are smtplib and raw sockets.

Run by ctest as `integration.smtp_sink`. Certificates are made with `cryptography` per run.
"""

import datetime
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smtp_sink import SmtpSink

TIMEOUT = 10
HERE = os.path.dirname(os.path.abspath(__file__))


def _write_pem(directory, name, cert, key):
    cert_path = os.path.join(directory, name + ".crt")
    key_path = os.path.join(directory, name + ".key")
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_path, key_path


def _issue(subject_cn, issuer_name, issuer_key, ca=False, server=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sink Test")])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_name or name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


class Pki:
    """A CA, a server certificate for "localhost" and a client certificate, all from the CA."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtp_sink_pki.")
        ca_cert, ca_key = _issue("Sink Test CA", None, None, ca=True)
        self.ca, _ = _write_pem(self.dir, "ca", ca_cert, ca_key)
        cert, key = _issue("localhost", ca_cert.subject, ca_key, server=True)
        self.server_cert, self.server_key = _write_pem(self.dir, "server", cert, key)
        cert, key = _issue("sink-client", ca_cert.subject, ca_key)
        self.client_cert, self.client_key = _write_pem(self.dir, "client", cert, key)

    def client_context(self, with_cert=False):
        context = ssl.create_default_context(cafile=self.ca)
        if with_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


PKI = None


def setUpModule():
    global PKI
    PKI = Pki()


def tearDownModule():
    PKI.cleanup()


class SinkTestCase(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="smtp_sink_out.")
        self.addCleanup(shutil.rmtree, self.out, True)

    def sink(self, **kwargs):
        kwargs.setdefault("tls_cert", PKI.server_cert)
        kwargs.setdefault("tls_key", PKI.server_key)
        sink = SmtpSink(out_dir=self.out, **kwargs).start()
        self.addCleanup(sink.stop)
        return sink

    def client(self, sink):
        client = smtplib.SMTP("localhost", sink.port, local_hostname="client.test",
                              timeout=TIMEOUT)
        self.addCleanup(client.close)
        return client


class PlainTest(SinkTestCase):
    def test_plain_message_saved_with_envelope(self):
        sink = self.sink()
        body = b"Subject: hi\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast\r\n"
        with self.client(sink) as client:
            client.ehlo()
            self.assertTrue(client.has_extn("pipelining"))
            self.assertTrue(client.has_extn("size"))
            self.assertTrue(client.has_extn("8bitmime"))
            self.assertTrue(client.has_extn("starttls"))
            refused = client.sendmail("from@example.test", ["a@example.test", "b@example.test"],
                                      body)
            self.assertEqual(refused, {})
        messages = sink.wait_for_messages(1)
        self.assertEqual(len(messages), 1)
        message = messages[0]
        self.assertEqual(message["mail_from"], "from@example.test")
        self.assertEqual(message["rcpt_to"], ["a@example.test", "b@example.test"])
        self.assertEqual(message["helo"], "client.test")
        self.assertIsNone(message["tls"])
        self.assertIsNone(message["client_cert_subject"])
        self.assertEqual(message["content"], body)  # smtplib stuffed the dots, the sink unstuffed
        with open(os.path.join(self.out, "1.eml"), "rb") as saved:
            self.assertEqual(saved.read(), body)
        with open(os.path.join(self.out, "1.json")) as saved:
            envelope = json.load(saved)
        self.assertEqual(envelope["rcpt_to"], ["a@example.test", "b@example.test"])
        self.assertIsNone(envelope["tls"])

    def test_null_sender_rset_noop_and_sequence(self):
        sink = self.sink(tls_cert=None, tls_key=None)
        with self.client(sink) as client:
            client.ehlo()
            self.assertFalse(client.has_extn("starttls"))
            self.assertEqual(client.noop()[0], 250)
            client.mail("someone@example.test")
            self.assertEqual(client.rset()[0], 250)
            client.sendmail("", ["x@example.test"], b"first\r\n")
            client.sendmail("", ["y@example.test"], b"second\r\n")
        messages = sink.wait_for_messages(2)
        self.assertEqual([m["id"] for m in messages], [1, 2])
        self.assertEqual(messages[0]["mail_from"], "")
        self.assertEqual(messages[1]["rcpt_to"], ["y@example.test"])
        self.assertTrue(os.path.exists(os.path.join(self.out, "2.eml")))

    def test_commands_out_of_order(self):
        sink = self.sink()
        with self.client(sink) as client:
            self.assertEqual(client.docmd("MAIL", "FROM:<a@b>")[0], 503)  # before EHLO
            client.ehlo()
            self.assertEqual(client.docmd("RCPT", "TO:<a@b>")[0], 503)
            self.assertEqual(client.docmd("DATA")[0], 503)
            self.assertEqual(client.docmd("FOO")[0], 500)
            self.assertEqual(client.docmd("MAIL", "FROM:<a@b>")[0], 250)
            self.assertEqual(client.docmd("MAIL", "FROM:<a@b>")[0], 503)


class PipeliningTest(SinkTestCase):
    def read_replies(self, sock, count):
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while data.count(b"\r\n") < count or not self.complete(data, count):
            self.assertLess(time.monotonic(), deadline, data)
            chunk = sock.recv(65536)
            self.assertTrue(chunk, data)
            data += chunk
        return [line for line in data.decode().split("\r\n") if line]

    @staticmethod
    def complete(data, count):
        finals = [line for line in data.decode().split("\r\n") if len(line) > 3 and line[3] == " "]
        return len(finals) >= count

    def test_whole_transaction_in_one_packet(self):
        sink = self.sink()
        with socket.create_connection(("127.0.0.1", sink.port), timeout=TIMEOUT) as sock:
            self.read_replies(sock, 1)
            sock.sendall(b"EHLO pipe.test\r\nMAIL FROM:<p@example.test>\r\n"
                         b"RCPT TO:<q@example.test>\r\nRCPT TO:<r@example.test>\r\nDATA\r\n")
            replies = self.read_replies(sock, 5)
            finals = [line[:3] for line in replies if line[3] == " "]
            self.assertEqual(finals, ["250", "250", "250", "250", "354"])
            sock.sendall(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nRSET\r\nQUIT\r\n")
            finals = [line[:3] for line in self.read_replies(sock, 3) if line[3] == " "]
            self.assertEqual(finals, ["250", "250", "221"])
        message = sink.wait_for_messages(1)[0]
        self.assertEqual(message["rcpt_to"], ["q@example.test", "r@example.test"])
        self.assertEqual(message["content"], b"Subject: pipelined\r\n\r\nbody\r\n")

    def test_text_pipelined_after_starttls_is_discarded(self):
        sink = self.sink()
        with socket.create_connection(("127.0.0.1", sink.port), timeout=TIMEOUT) as sock:
            self.read_replies(sock, 1)
            sock.sendall(b"EHLO pipe.test\r\n")
            self.read_replies(sock, 1)
            sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.test>\r\n")
            self.assertEqual(self.read_replies(sock, 1)[0][:3], "220")
            context = PKI.client_context()
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"EHLO pipe.test\r\n")
                self.read_replies(tls, 1)
                tls.sendall(b"RCPT TO:<x@example.test>\r\n")
                self.assertEqual(self.read_replies(tls, 1)[0][:3], "503")  # no MAIL survived


class TlsTest(SinkTestCase):
    def test_starttls_records_version_and_cipher(self):
        sink = self.sink()
        with self.client(sink) as client:
            client.starttls(context=PKI.client_context())
            client.ehlo()
            self.assertFalse(client.has_extn("starttls"))  # not offered twice
            client.sendmail("tls@example.test", ["t@example.test"], b"secret\r\n")
        message = sink.wait_for_messages(1)[0]
        self.assertIsNotNone(message["tls"])
        self.assertTrue(message["tls"]["version"].startswith("TLSv1."), message["tls"])
        self.assertTrue(message["tls"]["cipher"])
        self.assertIsNone(message["client_cert_subject"])

    def test_no_starttls_mode(self):
        sink = self.sink(starttls=False)
        with self.client(sink) as client:
            client.ehlo()
            self.assertFalse(client.has_extn("starttls"))
            with self.assertRaises(smtplib.SMTPNotSupportedError):
                client.starttls(context=PKI.client_context())
            self.assertEqual(client.docmd("STARTTLS")[0], 502)

    def test_broken_tls_fails_the_handshake(self):
        sink = self.sink(broken_tls=True)
        with self.client(sink) as client:
            client.ehlo()
            self.assertTrue(client.has_extn("starttls"))
            with self.assertRaises((ssl.SSLError, ConnectionError, smtplib.SMTPException)):
                client.starttls(context=PKI.client_context())
        self.assertEqual(sink.messages(), [])

    def test_required_client_certificate(self):
        sink = self.sink(require_client_cert_ca=PKI.ca)
        with self.client(sink) as client:
            client.starttls(context=PKI.client_context(with_cert=True))
            client.sendmail("c@example.test", ["d@example.test"], b"with cert\r\n")
        message = sink.wait_for_messages(1)[0]
        self.assertEqual(message["client_cert_subject"], "CN=sink-client,O=Sink Test")

        # Without a certificate the handshake fails (TLS 1.3 may only notice on the first read).
        with self.assertRaises((ssl.SSLError, ConnectionError, smtplib.SMTPException)):
            with self.client(sink) as client:
                client.starttls(context=PKI.client_context())
                client.sendmail("c@example.test", ["d@example.test"], b"without cert\r\n")
        self.assertEqual(len(sink.messages()), 1)


class FailureModeTest(SinkTestCase):
    def test_fail_rcpt_permanent_and_temporary(self):
        for code in (550, 450):
            with self.subTest(code=code):
                sink = self.sink(fail_rcpt=code)
                with self.client(sink) as client:
                    with self.assertRaises(smtplib.SMTPRecipientsRefused) as caught:
                        client.sendmail("f@example.test", ["r@example.test"], b"x\r\n")
                self.assertEqual(caught.exception.recipients["r@example.test"][0], code)
                self.assertEqual(sink.messages(), [])
                rejection = sink.wait_for_rejections(1)[0]
                self.assertEqual(rejection["stage"], "rcpt")
                self.assertEqual(rejection["code"], code)

    def test_fail_data_permanent_and_temporary(self):
        for code in (554, 451):
            with self.subTest(code=code):
                sink = self.sink(fail_data=code)
                with self.client(sink) as client:
                    with self.assertRaises(smtplib.SMTPDataError) as caught:
                        client.sendmail("f@example.test", ["r@example.test"], b"x\r\n")
                self.assertEqual(caught.exception.smtp_code, code)
                self.assertEqual(sink.messages(), [])
                self.assertEqual(sink.wait_for_rejections(1)[0]["stage"], "data")

    def test_fixing_the_downstream_while_running(self):
        sink = self.sink(fail_rcpt=450)
        with self.client(sink) as client:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                client.sendmail("f@example.test", ["later@example.test"], b"deferred\r\n")
        sink.fail_rcpt = None  # the next connection sees the fixed mode
        with self.client(sink) as client:
            client.sendmail("f@example.test", ["later@example.test"], b"deferred\r\n")
        messages = sink.wait_for_messages(1)
        self.assertEqual(messages[0]["rcpt_to"], ["later@example.test"])


class LifecycleTest(SinkTestCase):
    def test_stop_is_bounded_with_an_idle_client(self):
        sink = SmtpSink(out_dir=self.out).start()
        sock = socket.create_connection(("127.0.0.1", sink.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        self.assertTrue(sock.recv(100).startswith(b"220 "))
        started = time.monotonic()
        sink.stop()
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(sock.recv(100), b"")  # the sink closed its side
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", sink.port), timeout=1).close()

    def test_own_temporary_directory(self):
        with SmtpSink() as sink:
            directory = sink.out_dir
            with self.client(sink) as client:
                client.sendmail("a@example.test", ["b@example.test"], b"x\r\n")
            self.assertTrue(os.path.exists(os.path.join(directory, "1.json")))
        self.assertFalse(os.path.exists(directory))

    def test_script_mode(self):
        command = [sys.executable, os.path.join(HERE, "smtp_sink.py"), "--port", "0", "--dir",
                   self.out, "--tls-cert", PKI.server_cert, "--tls-key", PKI.server_key,
                   "--fail-data", "451"]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)

        def finish():
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=TIMEOUT)
        self.addCleanup(finish)
        line = child.stdout.readline()
        self.assertRegex(line, r"^listening \d+\n$")
        port = int(line.split()[1])
        with smtplib.SMTP("localhost", port, timeout=TIMEOUT) as client:
            client.starttls(context=PKI.client_context())
            with self.assertRaises(smtplib.SMTPDataError) as caught:
                client.sendmail("a@example.test", ["b@example.test"], b"x\r\n")
            self.assertEqual(caught.exception.smtp_code, 451)
        child.terminate()
        self.assertEqual(child.wait(timeout=TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main()
