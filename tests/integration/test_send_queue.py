"""Delivery details and the queue commands:
- several recipients of one domain go in one SMTP transaction (one connection, one message with
  every recipient), the other domain's recipient separately; the content passes through with only
  the gateway's Received: header added;
- a route to an IPv6 next hop ([::1]:PORT) is delivered over IPv6 (skipped without ::1);
- consecutive messages to one next hop travel over one connection (the connection cache), and
  over one connection each with connection_cache_time = 0;
- `tlsgate queue` shows a deferred message's state, `tlsgate queue delete ID` removes one, and
  `tlsgate queue flush` retries the rest at once (retry_min is an hour, so nothing else would).

Run by ctest as `integration.send.queue`.
"""

import unittest

from daemon_support import HOSTNAME
from send_support import (DELIVERY_TIMEOUT, Downstream, SendGateway, hold, message, unique,
                          wait_until)


class MultipleRecipientsTest(unittest.TestCase):
    def test_one_transaction_per_domain(self):
        multi, other = Downstream("multi"), Downstream("other")
        for sink in (multi, other):
            sink.start()
            self.addCleanup(sink.close)
        gw = SendGateway({"routes": f"multi.example=[127.0.0.1]:{multi.port}, "
                                    f"other.example=[127.0.0.1]:{other.port}",
                          "retry_min": "1", "retry_max": "2"})
        self.addCleanup(gw.close)
        gw.start()

        marker = unique("multi")
        recipients = ["a@multi.example", "c@other.example", "b@multi.example"]
        original = message(marker, "sender@origin.example", recipients[0])
        qid = gw.submit("sender@origin.example", recipients, marker, original)

        got = wait_until(lambda: multi.with_marker(marker), DELIVERY_TIMEOUT,
                         "multi.example's copy arrives")
        wait_until(lambda: other.with_marker(marker), DELIVERY_TIMEOUT,
                   "other.example's copy arrives")
        gw.wait_queue_empty()
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["rcpt_to"], ["a@multi.example", "b@multi.example"])
        self.assertEqual(got[0]["mail_from"], "sender@origin.example")
        self.assertEqual(multi.connections, 1, "both recipients in one connection")
        self.assertEqual(len(multi.messages()), 1)
        self.assertEqual([m["rcpt_to"] for m in other.messages()], [["c@other.example"]])

        # The content arrives unchanged after the Received: header the gateway added.
        content = got[0]["content"]
        self.assertTrue(content.endswith(original.encode()),
                        f"content changed on the way:\n{content.decode(errors='replace')}")
        prefix = content[:-len(original)].decode()
        self.assertRegex(prefix, rf"^Received: from client\.example\.test \(.*\)\r\n"
                                 rf"(?:\s.*\r\n)*")
        self.assertIn(f"by {HOSTNAME} (tlsgate) with ESMTP id {qid}", prefix)
        self.assertEqual(other.with_marker(marker)[0]["content"], content)


class ConnectionReuseTest(unittest.TestCase):
    def deliver_two(self, settings):
        sink = Downstream("reuse")
        sink.start()
        self.addCleanup(sink.close)
        gw = SendGateway(dict(settings, routes=f"reuse.example=[127.0.0.1]:{sink.port}",
                              retry_min="1", retry_max="2"))
        self.addCleanup(gw.close)
        gw.start()
        ids = []
        for n in range(2):
            marker = unique(f"reuse{n}")
            ids.append(gw.submit("sender@origin.example", ["rcpt@reuse.example"], marker))
            wait_until(lambda marker=marker: sink.with_marker(marker), DELIVERY_TIMEOUT,
                       f"message {n} arrives")
        gw.wait_queue_empty()
        return sink, gw, ids

    def test_second_message_reuses_the_connection(self):
        sink, gw, ids = self.deliver_two({"connection_cache_time": "30"})
        self.assertEqual(sink.connections, 1)
        gw.wait_for(rf"queue={ids[1]} to=reuse\.example relay=.* delivered tls=\S+.* "
                    rf"connection=reused: 250")

    def test_no_reuse_when_the_cache_is_off(self):
        sink, gw, ids = self.deliver_two({"connection_cache_time": "0"})
        self.assertEqual(sink.connections, 2)


class Ipv6NextHopTest(unittest.TestCase):
    def test_ipv6_route(self):
        sink = Downstream("v6", host="::1")
        try:
            sink.start()
        except OSError as e:
            self.skipTest(f"no IPv6 loopback here: {e}")
        self.addCleanup(sink.close)
        gw = SendGateway({"routes": f"v6.example=[::1]:{sink.port}",
                          "retry_min": "1", "retry_max": "2"})
        self.addCleanup(gw.close)
        gw.start()
        marker = unique("v6")
        qid = gw.submit("sender@origin.example", ["rcpt@v6.example"], marker)
        got = wait_until(lambda: sink.with_marker(marker), DELIVERY_TIMEOUT,
                         "delivered over IPv6")
        self.assertTrue(got[0]["peer"].startswith("::1:"), got[0]["peer"])
        gw.wait_for(rf"queue={qid} to=v6\.example relay=::1\[::1\]:\d+ delivered ")
        gw.wait_queue_empty()


class QueueCommandsTest(unittest.TestCase):
    def test_delete_and_flush(self):
        sink = Downstream("tempfail", fail_rcpt=450)
        sink.start()
        self.addCleanup(sink.close)
        gw = SendGateway({"routes": f"dest.example=[127.0.0.1]:{sink.port}",
                          "retry_min": "3600", "retry_max": "3600"})
        self.addCleanup(gw.close)
        gw.start()

        keep, drop = unique("keep"), unique("drop")
        keep_id, drop_id = gw.submit_many([
            ("sender@origin.example", ["k@dest.example"], keep, None),
            ("sender@origin.example", ["d@dest.example"], drop, None)])
        reason = (r"host 127\.0\.0\.1\[127\.0\.0\.1\] said: 450 4\.2\.1 Recipient temporarily "
                  r"rejected by sink \(in reply to RCPT TO command\)")
        for qid in (keep_id, drop_id):
            block = gw.wait_deferred(qid, reason, relay=r"127\.0\.0\.1\[127\.0\.0\.1\]")
            self.assertRegex(block, r"attempts 1, next \S+, last error: " + reason)
        self.assertRegex(gw.queue()[keep_id], r"(?m)^    to <k@dest\.example>$")

        # delete: the message leaves the queue and is never sent.
        rc, out, err = gw.tlsgate("queue", "delete", drop_id)
        self.assertEqual((rc, out.strip()), (0, f"deleted {drop_id}"), err)
        self.assertEqual(sorted(gw.queue()), [keep_id])
        rc, out, err = gw.tlsgate("queue", "delete", drop_id)
        self.assertNotEqual(rc, 0, "deleting a message that is not there must fail")
        self.assertIn(f"no message {drop_id}", err)

        # The downstream is fixed; the next attempt is an hour away, so nothing happens ...
        sink.fail_rcpt = None
        hold(3)
        self.assertEqual(sink.messages(), [])
        self.assertEqual(sorted(gw.queue()), [keep_id])

        # ... until flush.
        rc, out, err = gw.tlsgate("queue", "flush")
        self.assertEqual(rc, 0, out + err)
        got = wait_until(lambda: sink.with_marker(keep), 10, "the flushed message arrives")
        gw.wait_for(r"flush requested: every queued message is due now")
        gw.wait_queue_empty()
        hold(1)
        self.assertEqual(len(sink.with_marker(keep)), 1)
        self.assertEqual(got[0]["rcpt_to"], ["k@dest.example"])
        self.assertEqual(sink.with_marker(drop), [], "a deleted message was sent")
        self.assertEqual(len(sink.messages()), 1)


if __name__ == "__main__":
    unittest.main()
