"""The receiving limits and relay policy as SMTP clients see them: relay access denied, too many
recipients, message size (SIZE= and the real size), command and text line length, error and
command counts, the command timeout, connection limits (per client and in total), and SMTP
smuggling (a bare LF "." LF never ends DATA).

Run by ctest as `integration.receive.limits`.
"""

import os
import re
import time
import unittest

from daemon_support import EVENT_TIMEOUT, HOSTNAME
from receive_support import (QUEUED_RE, Closed, GatewayTestCase, SmtpClient, message, run_swaks,
                             unique)


class RelayTest(GatewayTestCase):
    RECEIVE = {"relay_domains": "example.test", "trusted_networks": "192.0.2.0/24"}

    def test_relay_denied_for_other_domains(self):
        marker = unique("relay")
        with SmtpClient(self.port) as c:
            c.greeting()
            c.ehlo()
            self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
            self.assertEqual(c.command("RCPT TO:<b@y.example>"),
                             (554, "5.7.1 <b@y.example>: Relay access denied"))
            # A subdomain-looking suffix is another domain.
            self.assertEqual(c.command("RCPT TO:<b@notexample.test>"),
                             (554, "5.7.1 <b@notexample.test>: Relay access denied"))
            # Refusing a recipient does not end the transaction: relay domains are accepted.
            self.assertEqual(c.command("RCPT TO:<b@example.test>"), (250, "2.1.5 Ok"))
            self.assertEqual(c.command("RCPT TO:<c@EXAMPLE.Test>"), (250, "2.1.5 Ok"))
            self.assertEqual(c.command("DATA")[0], 354)
            c.send(message(marker) + ".\r\n")
            code, text = c.reply()
            self.assertEqual(code, 250, text)
            queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
        rc, out, err = self.gw.tlsgate("--config", self.gw.config, "queue")
        self.assertEqual(rc, 0, err)
        block = re.search(rf"^{queue_id} .*\n((?:    to <.*>\n)*)", out, re.M)
        self.assertIsNotNone(block, out)
        self.assertEqual(block.group(1), "    to <b@example.test>\n    to <c@EXAMPLE.Test>\n")

    def test_swaks_relay(self):
        rc, out = run_swaks(self.port, "--from", "a@x.example", "--to", "b@y.example")
        self.assertEqual(rc, 24, out)  # swaks: error in RCPT
        self.assertRegex(out, r"(?m)^<\*\* 554 5\.7\.1 <b@y\.example>: Relay access denied$")
        self.assertIsNone(QUEUED_RE.search(out))
        marker = unique("swaks-relay")
        rc, out = run_swaks(self.port, "--from", "a@x.example", "--to", "b@example.test",
                            "--body", marker)
        self.assertEqual(rc, 0, out)
        self.assert_queued(QUEUED_RE.search(out).group(1), marker)


class RelayNoTrustedNetworksTest(GatewayTestCase):
    """trusted_networks empty: not even this host may relay."""
    RECEIVE = {"relay_domains": "example.test", "trusted_networks": ""}

    def test_relay_denied_for_localhost(self):
        with SmtpClient(self.port) as c:
            c.greeting()
            c.ehlo()
            self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
            self.assertEqual(c.command("RCPT TO:<b@y.example>"),
                             (554, "5.7.1 <b@y.example>: Relay access denied"))
            self.assertEqual(c.command("RCPT TO:<b@example.test>"), (250, "2.1.5 Ok"))


class MessageLimitsTest(GatewayTestCase):
    MAX_SIZE = 20000
    RECEIVE = {"max_recipients": "3", "max_message_size": str(MAX_SIZE),
               "command_line_limit": "512", "text_line_limit": "4096", "max_errors": "20"}

    def session(self):
        c = SmtpClient(self.port)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting()[0], 220)
        code, text = c.ehlo()
        self.assertEqual(code, 250, text)
        return c, text

    def assert_nothing_spooled(self, before):
        self.assertEqual(sorted(self.gw.spool_files()), before, "a refused message was spooled")
        self.assertEqual(sorted(self.gw.queue_ids()), before)
        tmp = os.path.join(self.gw.spool, "tmp")
        self.assertEqual(os.listdir(tmp) if os.path.isdir(tmp) else [], [],
                         "a refused message was left in the spool's tmp/")

    def test_max_recipients(self):
        c, _ = self.session()
        self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
        for i in range(3):
            self.assertEqual(c.command(f"RCPT TO:<r{i}@y.example>"), (250, "2.1.5 Ok"))
        self.assertEqual(c.command("RCPT TO:<r3@y.example>"),
                         (452, "4.5.3 Error: too many recipients"))
        self.assertEqual(c.command("DATA")[0], 354)
        marker = unique("rcpts")
        c.send(message(marker) + ".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
        rc, out, _ = self.gw.tlsgate("--config", self.gw.config, "queue")
        block = re.search(rf"^{queue_id} .*\n((?:    to <.*>\n)*)", out, re.M)
        self.assertEqual(block.group(1),
                         "".join(f"    to <r{i}@y.example>\n" for i in range(3)), out)

    def test_size_parameter_over_the_limit(self):
        c, ehlo = self.session()
        self.assertIn(f"SIZE {self.MAX_SIZE}", ehlo.split("\n"))
        self.assertEqual(c.command(f"MAIL FROM:<a@x.example> SIZE={self.MAX_SIZE + 1}"),
                         (552, "5.3.4 Message size exceeds fixed maximum message size"))
        self.assertEqual(c.command(f"MAIL FROM:<a@x.example> SIZE={self.MAX_SIZE}"),
                         (250, "2.1.0 Ok"))

    def test_oversized_message_is_refused_and_not_spooled(self):
        before = sorted(self.gw.spool_files())
        c, _ = self.session()
        self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<b@y.example>")[0], 250)
        self.assertEqual(c.command("DATA")[0], 354)
        body = message(unique("big")) + ("x" * 98 + "\r\n") * (self.MAX_SIZE // 100 + 50)
        c.send(body + ".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 552, text)
        self.assertTrue(text.startswith("5.3.4 "), text)
        self.assert_nothing_spooled(before)
        # The session goes on.
        self.assertEqual(c.command("NOOP"), (250, "2.0.0 Ok"))

    def test_command_line_limit(self):
        c, _ = self.session()
        # 512 characters with CRLF is the longest allowed...
        self.assertEqual(c.command("NOOP " + "x" * 505), (250, "2.0.0 Ok"))
        # ... and 600 is too long.
        line = "MAIL FROM:<" + "a" * (600 - len("MAIL FROM:<@x.example>")) + "@x.example>"
        self.assertEqual(len(line), 600)
        self.assertEqual(c.command(line), (500, "5.5.2 Error: line too long"))
        self.assertEqual(c.command("NOOP"), (250, "2.0.0 Ok"), "the session is out of step")

    # command_line_limit is the longest command line with its CRLF (RFC 5321 4.5.3.1.4).
    def test_command_line_limit_includes_crlf(self):
        c, _ = self.session()
        self.assertEqual(c.command("NOOP " + "x" * 505), (250, "2.0.0 Ok"))  # 512 with CRLF
        self.assertEqual(c.command("NOOP " + "x" * 506), (500, "5.5.2 Error: line too long"),
                         "a 513-octet command line (with CRLF) was accepted")

    def test_text_line_limit(self):
        before = sorted(self.gw.spool_files())
        c, _ = self.session()
        self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<b@y.example>")[0], 250)
        self.assertEqual(c.command("DATA")[0], 354)
        c.send(message(unique("longline")) + "y" * 5000 + "\r\nend\r\n.\r\n")
        self.assertEqual(c.reply(),
                         (552, "5.3.4 Error: message line longer than 4096 characters"))
        self.assert_nothing_spooled(before)
        # A 4000-character line is fine.
        self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<b@y.example>")[0], 250)
        self.assertEqual(c.command("DATA")[0], 354)
        marker = unique("okline")
        c.send(message(marker) + "z" * 4000 + "\r\n.\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        self.assert_queued(QUEUED_RE.search(f"{code} {text}").group(1), marker,
                           "z" * 4000 + "\r\n")

    def test_max_errors(self):
        c, _ = self.session()
        for i in range(20):
            self.assertEqual(c.command(f"BOGUS{i}")[0], 502)
        self.assertEqual(c.command("NOOP"), (250, "2.0.0 Ok"), "closed after 20 errors")
        self.assertEqual(c.command("BOGUS20"), (502, "5.5.2 Error: command not recognized"))
        self.assertEqual(c.reply(), (421, f"4.7.0 {HOSTNAME} Error: too many errors"))
        self.assertTrue(c.wait_closed(5), "connection still open after the 421")

    def smuggle(self, separator):
        """A message whose body has `separator` followed by a second transaction."""
        marker = unique("smuggle")
        smuggled = unique("smuggled")
        c, _ = self.session()
        self.assertEqual(c.command("MAIL FROM:<a@x.example>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<b@y.example>")[0], 250)
        self.assertEqual(c.command("DATA")[0], 354)
        c.send(message(marker) + "before" + separator +
               "MAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@y.example>\r\nDATA\r\n"
               f"Subject: {smuggled}\r\n\r\n{smuggled}\r\n.\r\nQUIT\r\n")
        replies = []
        while True:
            try:
                replies.append(c.reply(5))
            except Closed:
                break
            if replies[-1][0] == 221:
                break
        return marker, smuggled, replies

    def test_bare_lf_dot_does_not_end_data(self):
        for separator in ("\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n"):
            with self.subTest(separator=separator):
                before = set(self.gw.queue_ids())
                marker, smuggled, replies = self.smuggle(separator)
                new = sorted(set(self.gw.queue_ids()) - before)
                queued = [QUEUED_RE.search(f"{code} {text}") for code, text in replies]
                queued = [m.group(1) for m in queued if m]
                self.assertEqual(len(replies), 2, f"expected the message's reply and 221: {replies}")
                self.assertEqual(replies[-1], (221, "2.0.0 Bye"), replies)
                self.assertLessEqual(len(new), 1, f"smuggled a second message: {replies}")
                self.assertEqual(new, queued, replies)
                for queue_id in new:
                    data = self.gw.spooled(queue_id)
                    self.assertIn(marker.encode(), data)
                    # The "second message" is part of the first one's content.
                    self.assertIn(b"MAIL FROM:<evil@x.example>", data)
                    self.assertIn(smuggled.encode(), data)


class SessionLimitsTest(GatewayTestCase):
    RECEIVE = {"max_commands": "10", "command_timeout": "2"}

    def test_max_commands(self):
        with SmtpClient(self.port) as c:
            c.greeting()
            for i in range(10):
                self.assertEqual(c.command("NOOP"), (250, "2.0.0 Ok"), f"command {i + 1}")
            self.assertEqual(c.command("NOOP"), (421, f"4.7.0 {HOSTNAME} Error: too many commands"))
            self.assertTrue(c.wait_closed(5), "connection still open after the 421")

    def test_command_timeout(self):
        for steps in ((), ("EHLO client.example.test", "MAIL FROM:<a@x.example>")):
            with self.subTest(after=steps), SmtpClient(self.port) as c:
                c.greeting()
                for step in steps:
                    self.assertEqual(c.command(step)[0], 250)
                began = time.monotonic()
                code, text = c.reply(timeout=10)
                waited = time.monotonic() - began
                self.assertEqual((code, text), (421, f"4.4.2 {HOSTNAME} Error: timeout exceeded"))
                self.assertGreater(waited, 1.5, "timed out before command_timeout = 2")
                self.assertTrue(c.wait_closed(5), "connection still open after the 421")


class ConnectionLimitsTest(GatewayTestCase):
    RECEIVE = {"max_connections": "3", "max_connections_per_client": "2"}

    def setUp(self):
        self.open = []

    def tearDown(self):
        for c in self.open:
            c.close()
        self.wait_all_closed()

    def wait_all_closed(self):
        """Waits until every session the daemon started has ended (its slots are free)."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            log = self.gw.log()
            started = len(re.findall(r"session=\w+ connect from", log))
            ended = len(re.findall(r"session=\w+ disconnect from", log))
            if started == ended or time.monotonic() > deadline:
                self.assertEqual(started, ended, "sessions still open\n" + log)
                return
            time.sleep(0.05)

    def connect(self, source):
        c = SmtpClient(self.port, source=source)
        self.open.append(c)
        return c

    def assert_admitted(self, source):
        c = self.connect(source)
        self.assertEqual(c.greeting(), (220, f"{HOSTNAME} ESMTP tlsgate"))
        return c

    def assert_refused(self, source, why):
        c = self.connect(source)
        self.assertEqual(c.reply(), (421, f"4.7.0 {HOSTNAME} Error: {why}"))
        self.assertTrue(c.wait_closed(5), "connection still open after the 421")

    def test_max_connections_per_client(self):
        self.wait_all_closed()
        first = self.assert_admitted("127.0.0.1")
        self.assert_admitted("127.0.0.1")
        self.assert_refused("127.0.0.1", "too many connections from 127.0.0.1")
        # Another client address is not affected.
        self.assert_admitted("127.0.0.2")
        # A slot freed is a slot free again.
        self.assertEqual(first.command("QUIT"), (221, "2.0.0 Bye"))
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            c = self.connect("127.0.0.1")
            code, _ = c.reply()
            if code == 220 or time.monotonic() > deadline:
                break
            c.close()
            time.sleep(0.05)
        self.assertEqual(code, 220, "the freed slot was not given back")

    def test_max_connections(self):
        self.wait_all_closed()
        self.assert_admitted("127.0.0.1")
        self.assert_admitted("127.0.0.2")
        self.assert_admitted("127.0.0.3")
        self.assert_refused("127.0.0.4", "too many connections")
        # A session in progress still works.
        c = self.open[0]
        self.assertEqual(c.ehlo()[0], 250)
        self.assertEqual(c.command("QUIT"), (221, "2.0.0 Bye"))


if __name__ == "__main__":
    unittest.main()
