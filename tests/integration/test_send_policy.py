"""The sending TLS policy against real downstream servers (issue 5's table).

Six downstream sinks on 127.0.0.1, one routed domain each (`KIND.example=localhost:PORT`):
  plain       no STARTTLS offered
  good        STARTTLS, certificate for "localhost" from the test CA that certmgr trusts
  selfsigned  STARTTLS, self-signed certificate for "localhost"
  wrongname   STARTTLS, certificate from the test CA for "wrong-name.example.test"
  expired     STARTTLS, certificate from the test CA for "localhost", expired
  broken      STARTTLS offered, then garbage instead of a TLS handshake
One daemon per sending level (`[send] tls_level`), one message per domain. Each message is either
delivered (it arrives at its sink; TLS used or not, as the sink recorded it) or deferred (it does
not arrive, and `tlsgate queue` and the log give the reason), exactly as the table below says. The
downstreams are then fixed (good certificate, STARTTLS offered, handshake working) and every
deferred message must arrive exactly once.

Also: a per-destination override (`tls_policy`) by recipient domain and by route target, and the
client certificate (certmgr's client role) presented to a next hop that asks for one.

Run by ctest as `integration.send.policy`.
"""

import json
import os
import re
import unittest

from send_support import (DELIVERY_TIMEOUT, LOOPBACK, Downstream, SendGateway, hold, pki,
                          unique, wait_until)

KINDS = ("plain", "good", "selfsigned", "wrongname", "expired", "broken")

NOT_OFFERED = rf"4\.7\.4 TLS is required, but was not offered by host {LOOPBACK}"
HANDSHAKE = rf"4\.7\.5 TLS handshake with {LOOPBACK} failed: "
SELF_SIGNED = (rf"4\.7\.5 Server certificate not verified: self[- ]signed certificate "
               rf"\({LOOPBACK}\)")
MISMATCH = rf"4\.7\.5 Server certificate not verified: hostname mismatch \({LOOPBACK}\)"
EXPIRED = rf"4\.7\.5 Server certificate not verified: certificate has expired \({LOOPBACK}\)"

PLAIN, TLS, RETRY_PLAIN = "delivered without TLS", "delivered over TLS", "retried without TLS"

EXPECTED = {
    "none": {k: PLAIN for k in KINDS},
    "attempt": {"plain": PLAIN, "good": TLS, "selfsigned": TLS, "wrongname": TLS,
                "expired": TLS, "broken": RETRY_PLAIN},
    "require-no-verify": {"plain": NOT_OFFERED, "good": TLS, "selfsigned": TLS,
                          "wrongname": TLS, "expired": TLS, "broken": HANDSHAKE},
    "require-verify": {"plain": NOT_OFFERED, "good": TLS, "selfsigned": SELF_SIGNED,
                       "wrongname": MISMATCH, "expired": EXPIRED, "broken": HANDSHAKE},
}

HOLD_SECONDS = 3  # deferred messages must not arrive meanwhile (retry_min 1 s, retry_max 2 s)


def make_sink(test, kind):
    p = pki()
    certs = {"plain": None, "good": p.good, "selfsigned": p.selfsigned,
             "wrongname": p.wrongname, "expired": p.expired, "broken": p.good}
    sink = Downstream(kind, certs[kind], broken_tls=(kind == "broken"))
    sink.start()
    test.addCleanup(sink.close)
    return sink


def fix(sink):
    """Makes any downstream one that every level delivers to."""
    sink.broken_tls = False
    sink.use_cert(pki().good)


class PolicyTableTest(unittest.TestCase):
    maxDiff = None

    def run_level(self, level):
        sinks = {kind: make_sink(self, kind) for kind in KINDS}
        routes = ", ".join(f"{kind}.example=localhost:{sinks[kind].port}" for kind in KINDS)
        gw = SendGateway({"tls_level": level, "routes": routes, "retry_min": "1",
                          "retry_max": "2", "connect_timeout": "5", "command_timeout": "10"})
        self.addCleanup(gw.close)
        gw.start()

        markers = {kind: unique(f"{level}-{kind}") for kind in KINDS}
        ids = dict(zip(KINDS, gw.submit_many(
            [("sender@origin.example", [f"rcpt@{kind}.example"], markers[kind], None)
             for kind in KINDS])))
        expected = EXPECTED[level]
        deferred = [k for k in KINDS if expected[k] not in (PLAIN, TLS, RETRY_PLAIN)]

        for kind in KINDS:
            outcome, qid, marker, sink = expected[kind], ids[kind], markers[kind], sinks[kind]
            with self.subTest(level=level, downstream=kind, expected=outcome):
                if kind in deferred:
                    block = gw.wait_deferred(qid, outcome)
                    self.assertIn(f"to <rcpt@{kind}.example>", block)
                    self.assertEqual(sink.with_marker(marker), [], "sent although deferred")
                    continue
                got = wait_until(lambda: sink.with_marker(marker), DELIVERY_TIMEOUT,
                                 f"{kind}: message {qid} arrives")
                self.assertEqual(got[0]["rcpt_to"], [f"rcpt@{kind}.example"])
                self.assertEqual(got[0]["mail_from"], "sender@origin.example")
                note = gw.wait_for(rf"queue={qid} to={kind}\.example relay={LOOPBACK}:\d+ "
                                   rf"delivered tls=([^\s:]+)")[1]
                if outcome == TLS:
                    self.assertIsNotNone(got[0]["tls"], f"{kind}: sink saw no TLS")
                    self.assertIn(got[0]["tls"]["version"], ("TLSv1.2", "TLSv1.3"))
                    self.assertEqual(note.group(1), got[0]["tls"]["version"])
                else:
                    self.assertIsNone(got[0]["tls"], f"{kind}: sink saw TLS under {level}")
                    self.assertEqual(note.group(1), "none")
                if outcome == RETRY_PLAIN:
                    gw.wait_for(rf"queue={qid} {HANDSHAKE}.*; retrying without TLS$")
                    self.assertGreaterEqual(sink.starttls_commands, 1)

        if level == "none":
            # No TLS Encryption never issues STARTTLS, even to servers that offer it.
            self.assertEqual({k: s.starttls_commands for k, s in sinks.items()},
                             {k: 0 for k in KINDS})

        # The deferred ones stay deferred, retried (never sent in a weaker way) ...
        hold(HOLD_SECONDS)
        queue = gw.queue()
        for kind in deferred:
            with self.subTest(level=level, downstream=kind, phase="held"):
                self.assertEqual(sinks[kind].with_marker(markers[kind]), [],
                                 "sent although the policy does not allow it")
                block = queue.get(ids[kind], "")
                m = re.search(r"attempts (\d+), next ", block)
                self.assertTrue(m and int(m.group(1)) >= 2,
                                f"not retried within {HOLD_SECONDS} s:\n{block}")
        self.assertEqual(sorted(queue), sorted(ids[k] for k in deferred))

        # ... until the downstream is fixed: then each arrives exactly once, over TLS.
        for kind in deferred:
            fix(sinks[kind])
        for kind in deferred:
            with self.subTest(level=level, downstream=kind, phase="fixed"):
                got = wait_until(lambda: sinks[kind].with_marker(markers[kind]),
                                 DELIVERY_TIMEOUT, f"{kind}: deferred message arrives when fixed")
                self.assertIsNotNone(got[0]["tls"])
                gw.wait_for(rf"queue={ids[kind]} to={kind}\.example relay={LOOPBACK}:\d+ "
                            rf"delivered tls=TLSv1\.[23] ")
        gw.wait_queue_empty()
        for kind in KINDS:
            with self.subTest(level=level, downstream=kind, phase="exactly once"):
                self.assertEqual(len(sinks[kind].with_marker(markers[kind])), 1)

    def test_none(self):
        self.run_level("none")

    def test_attempt(self):
        self.run_level("attempt")

    def test_require_no_verify(self):
        self.run_level("require-no-verify")

    def test_require_verify(self):
        self.run_level("require-verify")


class PerDestinationTest(unittest.TestCase):
    """Global attempt; `strict.example` (by domain) needs a verified certificate, and the route
    target `[127.0.0.1]:PORT` (by next hop) needs TLS. All three domains go to one sink that
    does not offer STARTTLS."""

    def test_override(self):
        sink = make_sink(self, "plain")
        gw = SendGateway({
            "tls_level": "attempt",
            "tls_policy": (f"strict.example=require-verify, "
                           f"[127.0.0.1]:{sink.port}=require-no-verify"),
            "routes": (f"strict.example=localhost:{sink.port}, "
                       f"relaxed.example=localhost:{sink.port}, "
                       f"byhop.example=[127.0.0.1]:{sink.port}"),
            "retry_min": "1", "retry_max": "2"})
        self.addCleanup(gw.close)
        gw.start()
        domains = ("strict", "relaxed", "byhop")
        markers = {d: unique(d) for d in domains}
        ids = dict(zip(domains, gw.submit_many(
            [("sender@origin.example", [f"rcpt@{d}.example"], markers[d], None)
             for d in domains])))

        got = wait_until(lambda: sink.with_marker(markers["relaxed"]), DELIVERY_TIMEOUT,
                         "relaxed.example (global attempt) delivered")
        self.assertIsNone(got[0]["tls"])
        gw.wait_deferred(ids["strict"], NOT_OFFERED)
        gw.wait_deferred(ids["byhop"],
                         r"4\.7\.4 TLS is required, but was not offered by host "
                         r"127\.0\.0\.1\[127\.0\.0\.1\]",
                         relay=r"127\.0\.0\.1\[127\.0\.0\.1\]")
        hold(2)
        self.assertEqual(sink.with_marker(markers["strict"]), [])
        self.assertEqual(sink.with_marker(markers["byhop"]), [])

        fix(sink)
        for d in ("strict", "byhop"):
            got = wait_until(lambda: sink.with_marker(markers[d]), DELIVERY_TIMEOUT,
                             f"{d}.example delivered after the fix")
            self.assertIsNotNone(got[0]["tls"])
        gw.wait_queue_empty()
        for d in domains:
            self.assertEqual(len(sink.with_marker(markers[d])), 1, d)


class ClientCertificateTest(unittest.TestCase):
    """A next hop that requires a client certificate gets the one active in certmgr's client
    role (here the default self-signed one, which the sink is told to trust)."""

    def test_client_certificate_presented(self):
        sink = make_sink(self, "good")
        gw = SendGateway({"tls_level": "require-verify",
                          "routes": f"dest.example=localhost:{sink.port}",
                          "retry_min": "1", "retry_max": "2"})
        self.addCleanup(gw.close)
        gw.start()
        client = [c for c in json.loads(gw.certmgr("list", "--json")) if "client" in c["roles"]]
        self.assertEqual(len(client), 1, client)
        exported = os.path.join(gw.tmp, "client.pem")
        gw.certmgr("export", client[0]["id"], "--out", exported)
        sink.require_client_cert_ca = exported

        marker = unique("client-cert")
        qid = gw.submit("sender@origin.example", ["rcpt@dest.example"], marker)
        got = wait_until(lambda: sink.with_marker(marker), DELIVERY_TIMEOUT,
                         "delivered to the sink that requires a client certificate")
        self.assertIsNotNone(got[0]["tls"])
        self.assertEqual(got[0]["client_cert_subject"],
                         ",".join(part.strip() for part in client[0]["subject"].split(",")))
        gw.wait_for(rf"queue={qid} to=dest\.example relay={LOOPBACK}:\d+ delivered tls=TLSv1\.[23] ")


if __name__ == "__main__":
    unittest.main()
