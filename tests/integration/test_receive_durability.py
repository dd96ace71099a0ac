"""Durability: a message acknowledged with 250 survives the daemon being killed with SIGKILL
right after the reply, and is there again after a restart, with its body and a Received: header
that tells how it came (ESMTPS over TLS, ESMTP without).

Run by ctest as `integration.receive.durability`.
"""

import re
import unittest

from daemon_support import HOSTNAME
from receive_support import QUEUED_RE, Gateway, SmtpClient, message, unique


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway({"tls_level": "attempt", "client_certificate": "do-not-request"})
        self.addCleanup(self.gw.close)
        self.gw.start()

    def send(self, tls, marker):
        with SmtpClient(self.gw.port) as c:
            c.greeting()
            c.ehlo()
            if tls:
                self.assertEqual(c.command("STARTTLS")[0], 220)
                c.starttls()
                c.ehlo()
            code, text = c.send_message("a@x.example", ["b@y.example"], message(marker))
            self.assertEqual(code, 250, text)
            return QUEUED_RE.search(f"{code} {text}").group(1)

    def test_acknowledged_message_survives_sigkill(self):
        gw = self.gw
        plain_marker = unique("plain-body")
        plain_id = self.send(False, plain_marker)
        tls_marker = unique("tls-body")
        tls_id = self.send(True, tls_marker)  # the last thing before the kill
        gw.kill()
        self.assertEqual(gw.daemon.proc.returncode, -9)

        # Still there with the daemon down ...
        self.assertEqual(sorted(gw.queue_ids()), sorted([plain_id, tls_id]))
        # ... and after a restart, which finds both.
        gw.start()
        gw.wait_for(rf"Information spool={re.escape(gw.spool)} queued=2$", 0)
        rc, out, err = gw.tlsgate("--config", gw.config, "queue")
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, rf"(?m)^{tls_id}  \S+  \d+ bytes  TLSv1\.[23]  from <a@x\.example> "
                              rf"from 127\.0\.0\.1\n    to <b@y\.example>$")
        self.assertRegex(out, rf"(?m)^{plain_id}  \S+  \d+ bytes  plain  from <a@x\.example> ")
        self.assertIn("2 messages in", out)

        for queue_id, marker, proto in ((tls_id, tls_marker, "ESMTPS"),
                                        (plain_id, plain_marker, "ESMTP")):
            with self.subTest(queue_id=queue_id):
                data = gw.spooled(queue_id).decode(errors="replace")
                self.assertIn(f"\r\n\r\n{marker}\r\n", data, "body missing")
                received = re.search(r"^Received: .*?(?=\r\n\S)", data, re.M | re.S)
                self.assertIsNotNone(received, f"no Received: header\n{data}")
                self.assertIn(f"by {HOSTNAME} (tlsgate) with {proto} id {queue_id}",
                              received.group(0))
                if proto == "ESMTPS":
                    self.assertRegex(received.group(0), r"\(using TLSv1\.[23] with cipher ")

        # The restarted daemon takes mail again.
        again = self.send(True, unique("after-restart"))
        self.assertIn(again, gw.queue_ids())


if __name__ == "__main__":
    unittest.main()
