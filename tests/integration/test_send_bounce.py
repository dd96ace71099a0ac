"""Bounces: a permanent refusal (550 to RCPT) and the expiry of the maximum queue lifetime each
produce exactly one delivery status notification (RFC 3464) to the sender; a message from the
null sender is never bounced.

The DSN is mail like any other: it is spooled and relayed. The sender's domain is routed to its
own sink, which must receive exactly one message from <> per bounced message, with
"Content-Type: multipart/report; report-type=delivery-status", "Action: failed" and the status
(5.1.1 from the refusal; 4.4.7 for the expiry, whose diagnostic carries the last error).

Also: a message with one recipient accepted, one refused (550) and one deferred (450) in one
transaction: the accepted one is never sent again, the deferred one is retried alone, and the
single DSN names only the refused one. A message larger than the next hop's SIZE is not sent
(5.3.4) and bounced.

Run by ctest as `integration.send.bounce`.
"""

import time
import unittest

import smtp_sink

from send_support import (DELIVERY_TIMEOUT, Downstream, SendGateway, hold, message, refused_port,
                          unique, wait_until)

LIFETIME = 10  # send.max_queue_lifetime, the smallest value allowed


class BounceTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.rejecting = Downstream("rejecting", fail_rcpt=550)
        self.dsn = Downstream("dsn")
        self.mixed = Downstream("mixed")
        for sink in (self.rejecting, self.dsn, self.mixed):
            sink.start()
            self.addCleanup(sink.close)
        self.gw = SendGateway({
            "routes": (f"rejecting.example=[127.0.0.1]:{self.rejecting.port}, "
                       f"down.example=[127.0.0.1]:{refused_port()}, "
                       f"sender.example=[127.0.0.1]:{self.dsn.port}, "
                       f"mixed.example=[127.0.0.1]:{self.mixed.port}"),
            "retry_min": "1", "retry_max": "2", "max_queue_lifetime": str(LIFETIME),
            "connect_timeout": "5"})
        self.addCleanup(self.gw.close)
        self.gw.start()

    def dsns_for(self, queue_id):
        return [m for m in self.dsn.messages()
                if f"X-Tlsgate-Queue-ID: {queue_id}\r\n".encode() in m["content"]]

    def assert_dsn(self, dsn, queue_id, sender, recipient, status_re, original_subject):
        text = dsn["content"].decode(errors="replace")
        self.assertEqual(dsn["mail_from"], "", "a DSN comes from the null sender")
        self.assertEqual(dsn["rcpt_to"], [sender])
        self.assertIn("Content-Type: multipart/report; report-type=delivery-status", text)
        self.assertIn("Content-Type: message/delivery-status", text)
        self.assertIn(f"Final-Recipient: rfc822; {recipient}\r\n", text)
        self.assertIn("Action: failed\r\n", text)
        self.assertRegex(text, rf"\r\nStatus: {status_re}\r\n")
        self.assertRegex(text, r"\r\nDiagnostic-Code: smtp; ")
        self.assertIn(f"Subject: {original_subject}", text, "the original headers are returned")
        self.assertRegex(text, r"(?m)^Auto-Submitted: auto-replied\r$")
        return text

    def test_bounces(self):
        gw = self.gw
        started = time.monotonic()
        m = {name: unique(name) for name in ("refused", "expired", "null-refused", "null-expired")}
        ids = dict(zip(m, gw.submit_many([
            ("alice@sender.example", ["x@rejecting.example"], m["refused"], None),
            ("bob@sender.example", ["y@down.example"], m["expired"], None),
            ("", ["z@rejecting.example"], m["null-refused"], None),
            ("", ["w@down.example"], m["null-expired"], None),
        ])))

        # 550 to RCPT: one DSN at once, with the 5.x.x status of the refusal.
        got = wait_until(lambda: self.dsns_for(ids["refused"]), DELIVERY_TIMEOUT,
                         "the DSN for the refused message arrives")
        text = self.assert_dsn(got[0], ids["refused"], "alice@sender.example",
                               "x@rejecting.example", r"5\.\d{1,3}\.\d{1,3}",
                               f"send test {m['refused']}")
        self.assertIn("Status: 5.1.1", text)
        self.assertIn("550 5.1.1 Recipient rejected by sink", text)
        gw.wait_for(rf"queue={ids['refused']} bounced to <alice@sender\.example> "
                    rf"dsn=[0-9a-f]{{20}}")
        # The null sender's refused message is dropped, not bounced.
        gw.wait_for(rf"queue={ids['null-refused']} bounce of a bounce dropped: ")

        # Down destination: deferred until the lifetime is over, then one DSN with 4.4.7.
        gw.wait_deferred(ids["expired"], r"4\.4\.1 connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: ",
                         relay=r"127\.0\.0\.1\[127\.0\.0\.1\]")
        got = wait_until(lambda: self.dsns_for(ids["expired"]), LIFETIME + DELIVERY_TIMEOUT,
                         "the DSN for the expired message arrives")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, LIFETIME - 1,
                                f"expired after {elapsed:.1f} s, lifetime {LIFETIME} s")
        text = self.assert_dsn(got[0], ids["expired"], "bob@sender.example", "y@down.example",
                               r"4\.4\.7", f"send test {m['expired']}")
        self.assertRegex(text, r"Diagnostic-Code: smtp; 4\.4\.7 message delayed for too long, "
                               r"last error: 4\.4\.1 connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                               r"Connection refused")
        gw.wait_for(rf"queue={ids['null-expired']} bounce of a bounce dropped: ",
                    LIFETIME + DELIVERY_TIMEOUT)

        # Nothing is left to send, so nothing more can come: exactly one DSN each, none else.
        gw.wait_queue_empty()
        hold(1)
        self.assertEqual(len(self.dsns_for(ids["refused"])), 1)
        self.assertEqual(len(self.dsns_for(ids["expired"])), 1)
        self.assertEqual(len(self.dsn.messages()), 2,
                         [msg["content"][:300] for msg in self.dsn.messages()])
        # Permanent refusals are not retried: one RCPT refusal per message.
        self.assertEqual(sorted(r["mail_from"] for r in self.rejecting.rejections()),
                         ["", "alice@sender.example"])
        self.assertEqual(self.rejecting.messages(), [])
        for qid in ids.values():
            self.assertRegex(gw.log(), rf"queue={qid} removed")
        self.assertNotRegex(gw.log(), r"bounced to <>")

    def test_partial_failure_in_one_transaction(self):
        gw, mixed = self.gw, self.mixed
        mixed.rcpt_replies = {"bad@mixed.example": 550, "tmp@mixed.example": 450}
        marker = unique("partial")
        qid = gw.submit("carol@sender.example",
                        ["ok@mixed.example", "bad@mixed.example", "tmp@mixed.example"], marker)
        first = wait_until(lambda: mixed.with_marker(marker), DELIVERY_TIMEOUT,
                           "the accepted recipient's copy arrives")
        self.assertEqual(first[0]["rcpt_to"], ["ok@mixed.example"])
        gw.wait_for(rf"queue={qid} deferred attempts=1 ")
        block = gw.queue()[qid]
        self.assertRegex(block, r"(?m)^    to <ok@mixed\.example> delivered$")
        self.assertRegex(block, r"(?m)^    to <tmp@mixed\.example>$")

        mixed.rcpt_replies = {"bad@mixed.example": 550}  # tmp@ is accepted from now on
        wait_until(lambda: len(mixed.with_marker(marker)) >= 2, DELIVERY_TIMEOUT,
                   "the deferred recipient's copy arrives")
        got = wait_until(lambda: self.dsns_for(qid), DELIVERY_TIMEOUT, "the DSN arrives")
        text = self.assert_dsn(got[0], qid, "carol@sender.example", "bad@mixed.example",
                               r"5\.1\.1", f"send test {marker}")
        self.assertNotIn("Final-Recipient: rfc822; ok@mixed.example", text)
        self.assertNotIn("Final-Recipient: rfc822; tmp@mixed.example", text)
        gw.wait_queue_empty()
        hold(1)
        self.assertEqual([m["rcpt_to"] for m in mixed.with_marker(marker)],
                         [["ok@mixed.example"], ["tmp@mixed.example"]],
                         "a recipient was sent twice or not at all")
        self.assertEqual(len(self.dsn.messages()), 1)
        # bad@ was refused once (permanent), tmp@ at least once (then retried alone).
        refused = [r["rcpt_to"] for r in mixed.rejections()]
        self.assertEqual(refused.count(["bad@mixed.example"]), 1, refused)

    def test_larger_than_next_hop_size(self):
        # The sinks of this process advertise (and enforce) SIZE 4096 from their next EHLO.
        self.addCleanup(setattr, smtp_sink, "MAX_MESSAGE_SIZE", smtp_sink.MAX_MESSAGE_SIZE)
        smtp_sink.MAX_MESSAGE_SIZE = 4096
        marker = unique("big")
        content = message(marker, "dave@sender.example", "big@mixed.example") + \
            "".join(f"filler line {i:05d} " + "x" * 60 + "\r\n" for i in range(100))
        qid = self.gw.submit("dave@sender.example", ["big@mixed.example"], marker, content)
        got = wait_until(lambda: self.dsns_for(qid), DELIVERY_TIMEOUT, "the DSN arrives")
        text = self.assert_dsn(got[0], qid, "dave@sender.example", "big@mixed.example",
                               r"5\.3\.4", f"send test {marker}")
        # Refused by us from the SIZE announcement, not by the sink after sending it.
        self.assertIn("message size exceeds the limit", text)
        self.assertEqual(self.mixed.messages(), [])
        self.gw.wait_queue_empty()


if __name__ == "__main__":
    unittest.main()
