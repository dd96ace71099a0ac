"""SIEM export through the daemon: `tlsgate run` with two [siem] destinations, rsyslog over TCP
(octet counting, CEF body) and librdkafka's mock Kafka cluster (ECS JSON, read back by kcat).
Real SMTP sessions with STARTTLS (smtplib; one with a client certificate) must reach both, each
session's records in order; an rsyslog outage must not slow mail (every session answered 250) and
lose nothing; a certificate made with `certmgr generate --activate` reaches both as well.

Sessions are told apart by the client's source port: it is in the `connected` record (ECS
`source.port`, CEF `spt`), which gives the session id that every later record carries."""

import json
import shutil
import smtplib
import unittest

from receive_support import NET_TIMEOUT, QUEUED_RE, Gateway, client_context, pki
from siem_support import (KAFKA_MOCK, KafkaMock, Rsyslog, TempDirectory, parse_cef,
                          parse_rfc5424, wait_for)

SD_ID = "tlsgate@32473"
TOPIC = "tlsgate-events"
INBOUND = ["connected", "handshake-succeeded", "message-accepted", "closed"]
ARRIVAL_TIMEOUT = 60


class SiemGateway(Gateway):
    """A Gateway whose configuration also has the [siem] sections given."""

    def __init__(self, siem_lines, **kwargs):
        super().__init__(**kwargs)
        self.siem_lines = siem_lines

    def write_config(self):
        super().write_config()
        with open(self.config, "a", encoding="utf-8") as f:
            f.write("\n" + "\n".join(self.siem_lines) + "\n")


def syslog_records(receiver):
    """(session id or None, action, CEF fields, RFC 5424 record) per line rsyslog wrote; the
    session id only for inbound records (outbound ones carry the receiving session's id)."""
    out = []
    for line in receiver.lines():
        record = parse_rfc5424(line)
        _, fields = parse_cef(record["msg"])
        sd = record["sd"][SD_ID]
        sid = sd.get("sessionId") if sd.get("direction") == "inbound" else None
        out.append((sid, record["msgid"], fields, record))
    return out


def kafka_records(mock, expected=0, timeout=ARRIVAL_TIMEOUT):
    """(session id or None, action, ECS document, key) per Kafka record, in partition order; the
    session id only for inbound records."""
    out = []
    for key, value in mock.consume(TOPIC, expected, timeout):
        doc = json.loads(value)
        tlsgate = doc.get("tlsgate", {})
        sid = tlsgate.get("session_id") if tlsgate.get("direction") == "inbound" else None
        out.append((sid, doc["event"]["action"], doc, key))
    return out


def session_ids(records, ports, port_of):
    """{source port: session id} from the `connected` records of the given ports."""
    ids = {}
    for sid, action, fields, _ in records:
        if action == "connected" and port_of(fields) in ports:
            ids[port_of(fields)] = sid
    return ids


def actions_by_session(records, sids):
    """{session id: [inbound session actions in arrival order]}."""
    out = {sid: [] for sid in sids}
    for sid, action, _, _ in records:
        if sid in out and action in INBOUND:
            out[sid].append(action)
    return out


@unittest.skipUnless(shutil.which("rsyslogd"), "rsyslog is not installed (scripts/setup.sh)")
@unittest.skipUnless(shutil.which("kcat"), "kcat is not installed (scripts/setup.sh)")
@unittest.skipUnless(KAFKA_MOCK, "KAFKA_MOCK is not set (ctest sets it)")
class SiemDaemonTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.rsyslog = Rsyslog(cls.tmp.sub("rsyslog"), "tcp").start()
        cls.addClassCleanup(cls.rsyslog.stop)
        cls.kafka = KafkaMock(TOPIC)
        cls.addClassCleanup(cls.kafka.stop)
        siem = [
            "[siem]", "destinations = soc, lake", "host_name = gw1.example.net",
            "stop_timeout = 2s", "",
            "[siem.soc]", "type = syslog-tcp", "format = cef", "host = 127.0.0.1",
            f"port = {cls.rsyslog.port}", "retry_min = 100ms", "retry_max = 500ms", "",
            "[siem.lake]", "type = kafka", "format = ecs", f"brokers = {cls.kafka.bootstrap}",
            f"topic = {TOPIC}", "retry_min = 100ms", "retry_max = 1s", "",
        ]
        cls.gw = SiemGateway(siem, receive={"client_certificate": "request"})
        cls.addClassCleanup(cls.gw.close)
        cls.gw.start()

    # -- helpers

    def smtp_session(self, cert=None, marker="siem"):
        """One session with STARTTLS and one message; returns (source port, queue id)."""
        with smtplib.SMTP("127.0.0.1", self.gw.port, local_hostname="client.example.test",
                          timeout=NET_TIMEOUT) as client:
            client.ehlo()
            code, _ = client.starttls(context=client_context(cert))
            self.assertEqual(code, 220)
            client.ehlo()
            port = client.sock.getsockname()[1]
            self.assertEqual(client.mail(f"{marker}@client.example.test")[0], 250)
            self.assertEqual(client.rcpt("soc@example.net")[0], 250)
            code, reply = client.data(f"Subject: {marker}\r\n\r\nSIEM export test\r\n".encode())
            self.assertEqual(code, 250, reply)
            queued = QUEUED_RE.search("250 " + reply.decode())
            self.assertIsNotNone(queued, reply)
            client.quit()
        return port, queued.group(1)

    def sessions(self, n, marker):
        """n sessions, the first one with the test PKI's client certificate."""
        return [self.smtp_session(pki().good if i == 0 else None, f"{marker}{i}")
                for i in range(n)]

    def wait_syslog(self, ports, timeout=ARRIVAL_TIMEOUT):
        """The syslog records once every port's session has its four inbound records."""
        def complete():
            records = syslog_records(self.rsyslog)
            ids = session_ids(records, ports, lambda f: int(f.get("spt", 0)))
            if len(ids) < len(ports):
                return None
            by = actions_by_session(records, ids.values())
            return (records, ids) if all(len(a) >= len(INBOUND) for a in by.values()) else None
        got = wait_for(complete, timeout, 0.2)
        if not got:
            self.fail(f"rsyslog has not every session's records; it has {len(self.rsyslog.lines())} "
                      f"lines\n--- daemon log ---\n{self.gw.log()}")
        return got

    def wait_kafka(self, ports, timeout=ARRIVAL_TIMEOUT):
        def complete():
            records = kafka_records(self.kafka, 0, 2)
            ids = session_ids(records, ports, lambda d: d.get("source", {}).get("port"))
            if len(ids) < len(ports):
                return None
            by = actions_by_session(records, ids.values())
            return (records, ids) if all(len(a) >= len(INBOUND) for a in by.values()) else None
        got = wait_for(complete, timeout, 0.5)
        if not got:
            self.fail(f"kcat does not read every session's records\n--- daemon log ---\n"
                      f"{self.gw.log()}")
        return got

    def check_both(self, done):
        """Every session of `done` [(port, queue id)] arrived at both destinations, in order,
        with the ECS and CEF fields of its TLS session and message."""
        ports = {port for port, _ in done}
        queue_ids = {port: qid for port, qid in done}
        records, ids = self.wait_syslog(ports)
        for sid, actions in actions_by_session(records, ids.values()).items():
            self.assertEqual(actions, INBOUND, sid)
        for port, sid in ids.items():
            mine = {action: fields for s, action, fields, _ in records if s == sid}
            handshake = mine["handshake-succeeded"]
            self.assertEqual(handshake["src"], "127.0.0.1")
            self.assertEqual(int(handshake["spt"]), port)
            self.assertEqual(handshake["dvchost"], "gw1.example.net")
            labels = {handshake[k + "Label"]: handshake[k] for k in
                      ("cs1", "cs2", "cs3", "cs4", "cs5", "cs6") if k + "Label" in handshake}
            self.assertEqual(labels["sessionId"], sid)
            self.assertIn(labels["tlsVersion"], ("TLSv1.2", "TLSv1.3", "1.2", "1.3"))
            self.assertTrue(labels["cipher"])
            accepted = mine["message-accepted"]
            self.assertEqual(accepted["externalId"], queue_ids[port])
        for _, _, _, record in records:
            self.assertEqual(record["hostname"], "gw1.example.net")
            self.assertEqual(record["app"], "tlsgate")

        records, kids = self.wait_kafka(ports)
        self.assertEqual(kids, ids, "Kafka and syslog disagree about the session ids")
        for sid, actions in actions_by_session(records, kids.values()).items():
            self.assertEqual(actions, INBOUND, sid)
        for port, sid in kids.items():
            mine = {action: (doc, key) for s, action, doc, key in records if s == sid}
            doc, key = mine["handshake-succeeded"]
            self.assertEqual(key, sid)  # one session, one partition
            self.assertEqual(doc["source"]["ip"], "127.0.0.1")
            self.assertEqual(doc["source"]["port"], port)
            self.assertEqual(doc["observer"]["hostname"], "gw1.example.net")
            self.assertTrue(doc["tls"]["established"])
            self.assertIn(doc["tls"]["version"], ("1.2", "1.3"))
            self.assertEqual(doc["tls"]["version_protocol"], "tls")
            self.assertTrue(doc["tls"]["cipher"])
            doc, _ = mine["message-accepted"]
            self.assertEqual(doc["email"]["local_id"], queue_ids[port])
            self.assertEqual(doc["email"]["direction"], "inbound")
            self.assertIn("@client.example.test", json.dumps(doc["email"]["from"]))
        return ids, records

    # -- tests

    def test_1_sessions_reach_both_in_order(self):
        self.gw.wait_for(r"siem destination=soc type=syslog-tcp format=cef target=", 0)
        self.gw.wait_for(r"siem destination=lake type=kafka format=ecs target=", 0)
        done = self.sessions(10, "first")
        ids, records = self.check_both(done)
        # The client certificate of the first session is in both.
        first = ids[done[0][0]]
        handshake = [doc for sid, action, doc, _ in records
                     if sid == first and action == "handshake-succeeded"][0]
        self.assertIn("x509", handshake["tls"].get("client", {}), handshake)
        self.assertIn("CN=", handshake["tls"]["client"]["x509"]["subject"]["distinguished_name"])
        cef = [fields for sid, action, fields, _ in syslog_records(self.rsyslog)
               if sid == first and action == "handshake-succeeded"][0]
        labels = {cef[k + "Label"]: cef[k] for k in ("cs1", "cs2", "cs3", "cs4", "cs5", "cs6")
                  if k + "Label" in cef}
        self.assertIn("CN=", labels.get("peerCertSubject", ""), cef)

    def test_2_rsyslog_outage_loses_nothing(self):
        warm = self.sessions(1, "warm")
        self.check_both(warm)
        self.rsyslog.stop()
        done = self.sessions(10, "outage")  # each answered 250 (asserted in smtp_session)
        # Kafka is unaffected meanwhile; the syslog records wait on disk.
        self.wait_kafka({port for port, _ in done})
        self.gw.wait_for(r"siem destination=soc down", 30)
        self.rsyslog.start()  # the same port
        self.gw.wait_for(r"siem destination=soc up", 30)
        self.check_both(done)

    def test_3_certificate_event_reaches_both(self):
        mark = len(self.rsyslog.lines())
        out = self.gw.certmgr("generate", "--name", "other.example.test", "--activate")
        self.assertTrue(out)

        def syslog_generated():
            for line in self.rsyslog.lines()[mark:]:
                record = parse_rfc5424(line)
                if record["msgid"] == "certificate-generated":
                    return record
            return None
        record = wait_for(syslog_generated, ARRIVAL_TIMEOUT, 0.2)
        self.assertIsNotNone(record, "no certificate record at rsyslog\n" + self.gw.log())
        self.assertEqual(record["sd"][SD_ID]["subject"], "CN=other.example.test")
        header, fields = parse_cef(record["msg"])
        self.assertEqual(header[4], "certificate-generated")
        labels = {fields[k + "Label"]: fields[k] for k in ("cs3", "cs4", "cs5", "cs6")
                  if k + "Label" in fields}
        self.assertEqual(labels["certificateSubject"], "CN=other.example.test")
        cert_id = labels["certId"]

        def kafka_generated():
            for _, action, doc, key in kafka_records(self.kafka, 0, 2):
                if action == "certificate-generated" and key == cert_id:
                    return doc
            return None
        doc = wait_for(kafka_generated, ARRIVAL_TIMEOUT, 0.5)
        self.assertIsNotNone(doc, "no certificate record in Kafka\n" + self.gw.log())
        self.assertIn("other.example.test", json.dumps(doc))

    def test_4_stop_reports_and_flushes(self):
        rc = self.gw.daemon.stop()
        self.assertEqual(rc, 0, self.gw.log())
        log = self.gw.log()
        self.assertRegex(log, r"siem stopped destination=soc sent=\d+ buffered=0 dropped=0")
        self.assertRegex(log, r"siem stopped destination=lake sent=\d+ buffered=0 dropped=0")


if __name__ == "__main__":
    unittest.main()
