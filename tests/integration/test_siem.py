"""SIEM export against real receivers on loopback: rsyslog (UDP, TCP with octet counting, TLS with a
test CA) writing what it receives raw to a file, and librdkafka's mock Kafka cluster read back by
kcat. The exporter runs in siem_driver (synthetic sessions and certificate events) until the daemon
wires it in. Records must parse: RFC 5424 header and structured data, CEF, LEEF, ECS and OCSF JSON;
hostile certificate subjects survive escaping; outages lose nothing and keep each session's order."""

import json
import os
import shutil
import time
import unittest

from siem_support import (HOSTILE, SESSION_ACTIONS, Driver, KafkaMock, Rsyslog, TempDirectory,
                          make_pki, parse_cef, parse_leef, parse_rfc5424, session_order)

SD_ID = "tlsgate@32473"


def sd_spaces(text):
    """What an SD-PARAM value carries for `text`: control characters become spaces."""
    return "".join(" " if ord(c) < 0x20 else c for c in text)


@unittest.skipUnless(shutil.which("rsyslogd"), "rsyslog is not installed (scripts/setup.sh)")
class SyslogTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDirectory()
        self.receivers = []
        self.drivers = []

    def tearDown(self):
        for driver in self.drivers:
            driver.kill()
        for receiver in self.receivers:
            receiver.stop()
        self.tmp.cleanup()

    def rsyslog(self, mode, **kwargs):
        receiver = Rsyslog(self.tmp.sub("rsyslog-" + mode), mode, **kwargs).start()
        self.receivers.append(receiver)
        return receiver

    def driver(self, *destinations, **kwargs):
        driver = Driver(*destinations, **kwargs)
        self.drivers.append(driver)
        return driver

    def publish_mix(self, driver):
        """12 + 8 + 4 session events, 2 refusals, 2 certificate events: 28 records."""
        self.assertEqual(driver.command("sessions 3 CC client-cert"), "published 12")
        self.assertEqual(driver.command("sessions 2 NC"), "published 8")
        self.assertEqual(driver.command("sessions 1 HX hostile"), "published 4")
        self.assertEqual(driver.command("failed FL"), "published 2")
        self.assertEqual(driver.command("cert expired hostile"), "published 1")
        self.assertEqual(driver.command("cert created"), "published 1")
        return 28

    def check_syslog(self, lines, expected):
        self.assertEqual(len(lines), expected, "\n".join(lines[-3:]))
        records = [parse_rfc5424(line) for line in lines]
        for r in records:
            self.assertEqual(r["hostname"], "gw1.example.net")
            self.assertEqual(r["app"], "tlsgate")
            self.assertEqual(r["procid"], "4242")
            self.assertIn(SD_ID, r["sd"])
            self.assertEqual(r["sd"][SD_ID]["action"], r["msgid"])
        by_action = {}
        for r in records:
            by_action.setdefault(r["msgid"], []).append(r)
        # Severity in PRI (facility mail = 2): failures are not informational.
        self.assertEqual(by_action["connected"][0]["pri"], 2 * 8 + 6)
        self.assertEqual(by_action["handshake-failed"][0]["pri"], 2 * 8 + 4)
        self.assertEqual(by_action["policy-decision"][0]["pri"], 2 * 8 + 4)
        self.assertEqual(by_action["certificate-expired"][0]["pri"], 2 * 8 + 3)
        # One session's events in order.
        sessions = session_order(records, lambda r: (r["sd"][SD_ID].get("sessionId"), r["msgid"]))
        for sid in ("CC-000000", "CC-000002", "NC-000001", "HX-000000"):
            self.assertEqual(sessions[sid], SESSION_ACTIONS, sid)
        # Client certificates (and their absence) reach the structured data; hostile values survive.
        hs = {r["sd"][SD_ID]["sessionId"]: r["sd"][SD_ID] for r in by_action["handshake-succeeded"]}
        self.assertEqual(hs["CC-000001"]["peerCertSubject"], "CN=client.example.org,O=Example")
        self.assertNotIn("peerCertSubject", hs["NC-000000"])
        self.assertEqual(hs["HX-000000"]["peerCertSubject"], sd_spaces(HOSTILE))
        cert = by_action["certificate-expired"][0]["sd"][SD_ID]
        self.assertEqual(cert["subject"], sd_spaces(HOSTILE))
        return records, by_action

    def test_tcp_octet_counted_cef(self):
        receiver = self.rsyslog("tcp")
        driver = self.driver("t:type=syslog-tcp,format=cef,host=127.0.0.1,port=%d,buffer_dir=%s"
                             % (receiver.port, self.tmp.sub("buffer")))
        count = self.publish_mix(driver)
        self.assertEqual(driver.command("wait-sent %d 30" % count), "ok")
        records, by_action = self.check_syslog(receiver.wait_lines(count), count)
        for r in records:
            header, fields = parse_cef(r["msg"])
            self.assertEqual(header[:4], ["CEF:0", "tlsgate", "tlsgate", "0.1.0"])
            self.assertEqual(header[4], r["msgid"])
            self.assertEqual(fields["act"], r["msgid"])
        _, hostile = parse_cef([r for r in by_action["handshake-succeeded"]
                                if r["sd"][SD_ID]["sessionId"] == "HX-000000"][0]["msg"])
        labels = {hostile[k + "Label"]: hostile[k] for k in ("cs1", "cs2", "cs3", "cs4", "cs5", "cs6")
                  if k in hostile}
        # CEF escapes newlines as \n and \r: the value comes back whole (tab passes unescaped).
        self.assertEqual(labels["peerCertSubject"], HOSTILE)
        header, _ = parse_cef(by_action["certificate-expired"][0]["msg"])
        self.assertEqual(header[6], "7")  # error
        stats = driver.quit()
        self.assertEqual(stats[0]["sent"], count)
        self.assertEqual(stats[0]["dropped"], 0)

    def test_udp_leef(self):
        receiver = self.rsyslog("udp")
        driver = self.driver("u:type=syslog-udp,format=leef,host=127.0.0.1,port=%d" % receiver.port)
        count = self.publish_mix(driver)
        self.assertEqual(driver.command("wait-sent %d 30" % count), "ok")
        records, by_action = self.check_syslog(receiver.wait_lines(count), count)
        for r in records:
            header, fields = parse_leef(r["msg"])
            self.assertEqual(header[:4], ["LEEF:2.0", "tlsgate", "tlsgate", "0.1.0"])
            self.assertEqual(header[4], r["msgid"])
            self.assertIn("devTime", fields)
        _, hostile = parse_leef([r for r in by_action["handshake-succeeded"]
                                 if r["sd"][SD_ID]["sessionId"] == "HX-000000"][0]["msg"])
        # LEEF has no escapes: tab, '|' and line breaks become spaces (docs/events.md).
        self.assertEqual(hostile["peerCertSubject"],
                         HOSTILE.replace("|", " ").replace("\n", " ").replace("\r", " ").replace("\t", " "))
        driver.quit()

    def test_tls_verified_json(self):
        pki = make_pki(self.tmp.sub("pki"))
        receiver = self.rsyslog("tls", pki=pki)
        driver = self.driver(
            "s:type=syslog-tls,format=ecs,host=127.0.0.1,server_name=localhost,port=%d,ca_file=%s,buffer_dir=%s"
            % (receiver.port, pki["ca"], self.tmp.sub("buffer-tls")))
        count = self.publish_mix(driver)
        self.assertEqual(driver.command("wait-sent %d 30" % count), "ok")
        records, by_action = self.check_syslog(receiver.wait_lines(count), count)
        for r in records:
            doc = json.loads(r["msg"])
            self.assertEqual(doc["event"]["action"], r["msgid"])
            self.assertEqual(doc["observer"]["hostname"], "gw1.example.net")
        hs = [json.loads(r["msg"]) for r in by_action["handshake-succeeded"]]
        with_cert = [d for d in hs if "x509" in d["tls"].get("client", {})]
        self.assertEqual(len(with_cert), 4)  # 3 client-cert + 1 hostile
        self.assertTrue(any(d["tls"]["client"]["x509"]["subject"]["distinguished_name"] == HOSTILE
                            for d in with_cert))
        self.assertEqual(hs[0]["tls"]["version"], "1.3")
        self.assertEqual(hs[0]["tls"]["version_protocol"], "tls")
        driver.quit()

        # The same receiver with the wrong CA: nothing is sent, everything waits on disk.
        bad = self.driver(
            "b:type=syslog-tls,format=ecs,host=127.0.0.1,server_name=localhost,port=%d,ca_file=%s,buffer_dir=%s"
            % (receiver.port, pki["other-ca"], self.tmp.sub("buffer-bad")))
        self.assertEqual(bad.command("sessions 2 BAD"), "published 8")
        self.assertEqual(bad.command("wait-buffered 8 20"), "ok")
        stats = bad.quit()
        self.assertEqual(stats[0]["sent"], 0)
        self.assertEqual(stats[0]["buffered"], 8)
        self.assertIn("verif", stats[0]["last_error"])

    def test_outage_tcp_loses_nothing(self):
        receiver = self.rsyslog("tcp")
        buffer = self.tmp.sub("buffer-outage")
        driver = self.driver("o:type=syslog-tcp,format=text,host=127.0.0.1,port=%d,buffer_dir=%s,retry_max=500ms"
                             % (receiver.port, buffer))
        self.assertEqual(driver.command("sessions 20 BEFORE"), "published 80")
        self.assertEqual(driver.command("wait-sent 80 30"), "ok")
        receiver.wait_lines(80)
        receiver.stop()
        time.sleep(0.2)
        n = 50
        self.assertEqual(driver.command("sessions %d DURING" % n), "published %d" % (4 * n))
        self.assertEqual(driver.command("wait-buffered %d 30" % (4 * n)), "ok")
        self.assertEqual(driver.stats()[0]["sent"], 80)
        receiver.start()  # the same port
        self.assertEqual(driver.command("wait-sent %d 60" % (80 + 4 * n)), "ok")
        self.assertEqual(driver.command("sessions 5 AFTER"), "published 20")
        total = 80 + 4 * n + 20
        self.assertEqual(driver.command("wait-sent %d 30" % total), "ok")
        lines = receiver.wait_lines(total)
        self.assertEqual(len(lines), total)
        records = [parse_rfc5424(line) for line in lines]
        sessions = session_order(records, lambda r: (r["sd"][SD_ID].get("sessionId"), r["msgid"]))
        self.assertEqual(len(sessions), 20 + n + 5)
        for sid, actions in sessions.items():
            self.assertEqual(actions, SESSION_ACTIONS, sid)
        ids = [r["sd"][SD_ID]["sessionId"] for r in records if r["msgid"] == "connected"]
        self.assertEqual(ids, sorted(ids, key=lambda s: ({"BEFORE": 0, "DURING": 1, "AFTER": 2}[s.split("-")[0]], s)))
        stats = driver.quit()
        self.assertEqual(stats[0]["dropped"], 0)
        self.assertEqual(stats[0]["buffered"], 0)


@unittest.skipUnless(shutil.which("kcat"), "kcat is not installed (scripts/setup.sh)")
class KafkaTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDirectory()
        self.mock = KafkaMock("tls-ecs", "tls-ocsf")
        self.driver = None

    def tearDown(self):
        if self.driver:
            self.driver.kill()
        self.mock.stop()
        self.tmp.cleanup()

    def test_records_arrive_keyed_and_parse(self):
        self.driver = Driver(
            "ke:type=kafka,format=ecs,brokers=%s,topic=tls-ecs,buffer_dir=%s,kafka.linger.ms=5"
            % (self.mock.bootstrap, self.tmp.sub("ke")),
            "ko:type=kafka,format=ocsf,brokers=%s,topic=tls-ocsf,buffer_dir=%s"
            % (self.mock.bootstrap, self.tmp.sub("ko")))
        self.assertEqual(self.driver.command("sessions 3 KC client-cert"), "published 12")
        self.assertEqual(self.driver.command("sessions 2 KN"), "published 8")
        self.assertEqual(self.driver.command("cert expiring"), "published 1")
        self.assertEqual(self.driver.command("wait-sent 21 30"), "ok")

        ecs = self.mock.consume("tls-ecs", 21)
        self.assertEqual(len(ecs), 21)
        docs = [(key, json.loads(value)) for key, value in ecs]
        for key, doc in docs:
            self.assertIn("@timestamp", doc)
            self.assertEqual(doc["ecs"]["version"], "8.11.0")
            self.assertIn(doc["event"]["outcome"], ("success", "failure", "unknown"))
            if doc["event"]["dataset"] == "tlsgate.session":
                self.assertEqual(doc["tlsgate"]["session"]["id"] if "session" in doc.get("tlsgate", {}) else key, key)
        sessions = session_order(docs, lambda kd: (kd[0] if kd[0].startswith("K") else None,
                                                   kd[1]["event"]["action"]))
        self.assertEqual(set(sessions), {"KC-000000", "KC-000001", "KC-000002", "KN-000000", "KN-000001"})
        for sid, actions in sessions.items():
            self.assertEqual(actions, SESSION_ACTIONS, sid)
        hs = [d for k, d in docs if d["event"]["action"] == "handshake-succeeded"]
        self.assertEqual(sum(1 for d in hs if "x509" in d["tls"].get("client", {})), 3)
        self.assertTrue(all(d["tls"]["established"] for d in hs))
        self.assertIn(("cert-expiring", "certificate-expiring"),
                      [(k, d["event"]["action"]) for k, d in docs])

        ocsf = [json.loads(value) for _, value in self.mock.consume("tls-ocsf", 21)]
        self.assertEqual(len(ocsf), 21)
        classes = {d["class_uid"] for d in ocsf}
        self.assertTrue({4001, 4009} <= classes, classes)
        network = [d for d in ocsf if d["class_uid"] == 4001 and d["metadata"]["event_code"] == "handshake-succeeded"]
        self.assertIn("tls", network[0])
        stats = self.driver.quit()
        self.assertEqual([s["sent"] for s in stats], [21, 21])

    def test_broker_outage_loses_nothing(self):
        self.driver = Driver("k:type=kafka,format=ecs,brokers=%s,topic=tls-ecs,buffer_dir=%s,retry_max=500ms"
                             % (self.mock.bootstrap, self.tmp.sub("k")), stop_ms=10000)
        self.assertEqual(self.driver.command("sessions 5 KB"), "published 20")
        self.assertEqual(self.driver.command("wait-sent 20 30"), "ok")
        self.assertEqual(self.mock.down(), "ok down")
        n = 40
        self.assertEqual(self.driver.command("sessions %d KD" % n), "published %d" % (4 * n))
        time.sleep(2)
        self.assertLess(self.driver.stats()[0]["sent"], 20 + 4 * n)
        self.assertEqual(self.mock.up(), "ok up")
        self.assertEqual(self.driver.command("wait-sent %d 60" % (20 + 4 * n)), "ok")
        records = self.mock.consume("tls-ecs", 20 + 4 * n)
        self.assertEqual(len(records), 20 + 4 * n)
        sessions = session_order(records, lambda kv: (kv[0], json.loads(kv[1])["event"]["action"]))
        self.assertEqual(len(sessions), 5 + n)
        for sid, actions in sessions.items():
            self.assertEqual(actions, SESSION_ACTIONS, sid)
        stats = self.driver.quit()
        self.assertEqual(stats[0]["dropped"], 0)


if __name__ == "__main__":
    unittest.main()
