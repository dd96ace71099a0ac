"""The SNMP AgentX subagent against a real snmpd and snmptrapd (Net-SNMP): counters move after
SMTP sessions, the settings and the certificate table match the configuration and
`certmgr list --json`, notifications reach snmptrapd with the gateway's host name first and then
exactly the objects TLSGATE-MIB lists for them (certificate changed, TLS required, inbound
handshake failed; and, from a second gateway with its own snmpd and snmptrapd that requires client
certificates and verified TLS towards a plaintext next hop: client certificate rejected, outbound
deferred by the TLS policy, certificate expiring), SNMPv3 authPriv reads work and a wrong key
fails, and the subagent answers again within 10 s after snmpd is killed and restarted. The
standard MTA objects (NETWORK-SERVICES-MIB applTable, MAIL-MONITOR-MIB mtaTable and
mtaGroupTable, applIndex 1) show the same messages and queue; snmpd runs with -I -mta_sendmail
so that the subagent can serve them.

Numeric OIDs throughout (TLSGATE-MIB root 1.3.6.1.4.1.8072.9999.9999.1): Debian ships no IETF
base MIBs, nor NETWORK-SERVICES-MIB and MTA-MIB. Run by ctest as `integration.snmp`.
"""

import datetime
import os
import re
import shutil
import signal
import smtplib
import tempfile
import time
import unittest

from daemon_support import EVENT_TIMEOUT, HOSTNAME
from receive_support import (QUEUED_RE, Gateway, SmtpClient, client_context, message,
                             pki, send_section, smtp_connect, unique)
from smtp_sink import SmtpSink
from snmp_support import SnmpLab, V3_PRIV, trap_varbinds, wait_for

ROOT = "1.3.6.1.4.1.8072.9999.9999.1"
HOST_NAME = f"{ROOT}.1.1.2.0"
IN_CONNECTIONS = f"{ROOT}.1.3.1.0"
IN_STARTTLS_STARTED = f"{ROOT}.1.3.3.0"
IN_HANDSHAKES_FAILED = f"{ROOT}.1.3.4.0"
IN_TLS_REQUIRED = f"{ROOT}.1.3.6.0"
IN_CLIENT_CERTS_FAILED = f"{ROOT}.1.3.9.0"
IN_MESSAGES_ACCEPTED = f"{ROOT}.1.3.11.0"
CERT_TABLE = f"{ROOT}.1.6.2"
OUT_DEFERRED_TLS = f"{ROOT}.1.4.7.0"
TRAPS_SENT = f"{ROOT}.1.8.1.0"
NOTIFY = f"{ROOT}.1.9"
TRAP_HANDSHAKE_FAILED = f".{ROOT}.0.1"
TRAP_TLS_REQUIRED = f".{ROOT}.0.2"
TRAP_CLIENT_CERT_REJECTED = f".{ROOT}.0.3"
TRAP_OUTBOUND_TLS_DEFERRED = f".{ROOT}.0.5"
TRAP_CERT_EXPIRING = f".{ROOT}.0.6"
TRAP_CERT_CHANGED = f".{ROOT}.0.8"
# tlsgateNotifyObjects (.1.9.N.0), as the notifications carry them.
PEER_ADDRESS, PEER_PORT, PEER_NAME, REASON, POLICY_RULE, QUEUE_ID = (
    f".{NOTIFY}.{n}.0" for n in (1, 2, 3, 4, 5, 6))
CERT_ID, CERT_SUBJECT, CERT_SHA256, CERT_NOT_AFTER, CERT_DAYS_LEFT, THRESHOLD_DAYS = (
    f".{NOTIFY}.{n}.0" for n in (7, 8, 9, 10, 11, 12))
QUEUE_LENGTH = f"{ROOT}.1.5.1.0"
# NETWORK-SERVICES-MIB (RFC 2788) applEntry and MAIL-MONITOR-MIB (RFC 2789) mtaEntry /
# mtaGroupEntry; tlsgate's applIndex is 1, its groups 1 (receiving) and 2 (sending).
APPL_ENTRY = "1.3.6.1.2.1.27.1.1"
MTA_ENTRY = "1.3.6.1.2.1.28.1.1"
MTA_GROUP_ENTRY = "1.3.6.1.2.1.28.2.1"
APPL_NAME = f"{APPL_ENTRY}.2.1"
APPL_OPER_STATUS = f"{APPL_ENTRY}.6.1"
APPL_ACCUMULATED_INBOUND = f"{APPL_ENTRY}.10.1"
MTA_RECEIVED_MESSAGES = f"{MTA_ENTRY}.1.1"
MTA_STORED_MESSAGES = f"{MTA_ENTRY}.2.1"
MTA_RECEIVED_VOLUME = f"{MTA_ENTRY}.4.1"
GROUP_RECEIVED_MESSAGES = f"{MTA_GROUP_ENTRY}.2.1.1"   # receiving
GROUP_STORED_MESSAGES = f"{MTA_GROUP_ENTRY}.4.1.2"     # sending
GROUP_NAME = f"{MTA_GROUP_ENTRY}.25.1"
GROUP_MAIL_PROTOCOL = f"{MTA_GROUP_ENTRY}.24.1"
RESTART_LIMIT = 10  # seconds for the subagent to answer again after snmpd restarts
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ietf_mib_dir():
    """A directory with SNMPv2-SMI and friends (see mibs/README.md), or None."""
    candidates = [os.environ.get("TLSGATE_IETF_MIB_DIR"),
                  os.path.join(SOURCE, "build", "npm", "node_modules", "net-snmp", "lib", "mibs"),
                  os.path.expanduser("~/.cache/tlsgate/npm/node_modules/net-snmp/lib/mibs")]
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "SNMPv2-SMI.mib")):
            return d
    return None


class SnmpGateway(Gateway):
    """A receive_support Gateway whose configuration also has an [snmp] section, and, with
    `send_lines`, that [send] section instead of receive_support's black hole."""

    def __init__(self, snmp_lines, send_lines=None, **kwargs):
        super().__init__(**kwargs)
        self.snmp_lines = snmp_lines
        self.send_lines = send_lines

    def write_config(self):
        super().write_config()
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        if self.send_lines is not None:
            ours = "\n".join(["[send]", *self.send_lines])
            theirs = "\n".join(send_section())
            text = text.replace(theirs, ours) if theirs else text + "\n" + ours + "\n"
        text += "\n[snmp]\n" + "\n".join(self.snmp_lines) + "\n"
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)


def wait_trap(lab, trap_oid, *needles, start=0, gateway=None):
    """The first snmptrapd record in `lab` after offset `start` of type `trap_oid` holding every
    needle. A failure shows snmptrapd's log (and `gateway`'s, when given)."""
    def find():
        log = lab.traps()[start:]
        for record in log.split("\n"):
            if f"= OID: {trap_oid}" in record and all(n in record for n in needles):
                return record
        return None
    try:
        return wait_for(find, EVENT_TIMEOUT, f"trap {trap_oid} with {needles}")
    except AssertionError as e:
        gateway_log = f"\n--- gateway log ---\n{gateway.log()}" if gateway is not None else ""
        raise AssertionError(f"{e}\n--- snmptrapd log ---\n{lab.traps()}{gateway_log}") from None


def assert_varbinds(test, record, expected):
    """The notification's objects (after sysUpTime.0 and snmpTrapOID.0) are tlsgateHostName and
    then exactly `expected`, in order: [(oid, type, value or a compiled regex)]; returns
    {oid: (type, value)}."""
    varbinds = trap_varbinds(record)
    test.assertGreaterEqual(len(varbinds), 2, record)
    test.assertEqual([v[0] for v in varbinds[:2]],
                     [".1.3.6.1.2.1.1.3.0", ".1.3.6.1.6.3.1.1.4.1.0"], record)
    objects = varbinds[2:]
    test.assertEqual([v[0] for v in objects], ["." + HOST_NAME] + [e[0] for e in expected],
                     record)
    test.assertEqual(objects[0][1:], ("STRING", HOSTNAME), record)
    for (oid, kind, value), (want_oid, want_kind, want_value) in zip(objects[1:], expected):
        test.assertEqual(kind, want_kind, f"{oid} in {record}")
        if isinstance(want_value, re.Pattern):
            test.assertRegex(value, want_value, f"{oid} in {record}")
        else:
            test.assertEqual(value, want_value, f"{oid} in {record}")
    return {oid: (kind, value) for oid, kind, value in objects}


def date_and_time(hex_string):
    """A DateAndTime Hex-STRING ("07 EA 0C 05 10 22 30 00 2B 00 00") as a UTC datetime (to the
    second)."""
    b = bytes.fromhex(hex_string.replace(" ", ""))
    if len(b) != 11 or b[8:9] != b"+" or b[9:] != b"\0\0":
        raise AssertionError(f"not a UTC DateAndTime: {hex_string}")
    return datetime.datetime(b[0] << 8 | b[1], b[2], b[3], b[4], b[5], b[6],
                             tzinfo=datetime.timezone.utc)


class SnmpAgentTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for tool in ("snmpd", "snmptrapd", "snmpget", "snmpwalk"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(f"{tool} is not installed (scripts/setup.sh)")
        cls.tmp = tempfile.mkdtemp(prefix="tlsgate-snmp-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.lab = SnmpLab(cls.tmp)
        cls.addClassCleanup(cls.lab.stop)
        cls.lab.start()
        cls.gw = SnmpGateway(
            ["enabled = true", f"agentx_socket = unix:{cls.lab.socket}", "ping_interval = 1"],
            receive={"tls_level": "require"}, trust_ca=False, prefix="tlsgate-snmp-gw-")
        cls.addClassCleanup(cls.gw.close)
        cls.gw.start()
        wait_for(lambda: cls.lab.get(HOST_NAME), EVENT_TIMEOUT, "the subagent registering")

    def counter(self, oid):
        value = self.lab.get(oid)
        self.assertIsNotNone(value, f"no answer for {oid}")
        self.assertEqual(value[0], "Counter64", oid)
        return int(value[1])

    def wait_trap(self, trap_oid, *needles, start=0):
        return wait_trap(self.lab, trap_oid, *needles, start=start, gateway=self.gw)

    def assert_host_name_first(self, record):
        """snmptrapd prints sysUpTime, snmpTrapOID, then the notification's objects: the first
        of them must be tlsgateHostName."""
        varbinds = record.split("\t")
        names = [v.split(" = ", 1)[0].strip() for v in varbinds if " = " in v]
        self.assertGreaterEqual(len(names), 3, record)
        self.assertEqual(names[2], "." + HOST_NAME, record)
        self.assertIn(f'.{HOST_NAME} = STRING: "{HOSTNAME}"', record)

    # -- reads

    def test_gateway_and_settings(self):
        self.assertEqual(self.lab.get(HOST_NAME), ("STRING", HOSTNAME))
        rows = self.lab.walk(f"{ROOT}.1.2")
        # receive.tls_level = require -> requireTlsEncryption(3); client_certificate default
        # do-not-request -> doNotRequest(1); send.tls_level default attempt ->
        # attemptTlsEncryption(2).
        self.assertEqual({k: v for k, v in rows.items()},
                         {f".{ROOT}.1.2.1.0": ("INTEGER", "3"),
                          f".{ROOT}.1.2.2.0": ("INTEGER", "1"),
                          f".{ROOT}.1.2.3.0": ("INTEGER", "2")})
        start = self.lab.get(f"{ROOT}.1.1.3.0")
        self.assertEqual(start[0], "Hex-STRING")
        self.assertEqual(len(start[1].split()), 11)  # DateAndTime with a UTC offset

    def test_counters_move_after_a_starttls_session(self):
        before = {oid: self.counter(oid) for oid in
                  (IN_CONNECTIONS, IN_STARTTLS_STARTED, IN_MESSAGES_ACCEPTED)}
        marker = unique("snmp")
        with smtp_connect(self.gw.port) as smtp:
            smtp.starttls(context=client_context())
            smtp.ehlo("client.example.test")
            smtp.sendmail("a@x.example", ["b@y.example"], message(marker))
        for oid, value in before.items():
            wait_for(lambda oid=oid, value=value: self.counter(oid) >= value + 1, EVENT_TIMEOUT,
                     f"{oid} moving from {value}")

    def test_certificate_table_matches_certmgr(self):
        def rows():
            walk = self.lab.walk(CERT_TABLE)
            table = {}
            for oid, (_, value) in walk.items():
                # .CERT_TABLE.1.<column>.<index>
                column, index = oid[len(CERT_TABLE) + 2:].split(".")[1:3]
                table.setdefault(index, {})[int(column)] = value
            # A walk is not atomic: a row added while it runs shows in the later columns only.
            # Such a walk is not an answer; the next one is.
            if any(not {2, 3, 5, 10, 13} <= r.keys() for r in table.values()):
                return None
            # Trust anchors (role trustAnchor(5)) are rows too; certmgr list shows the others.
            return sorted((r[2], r[5], r[13], int(r[10])) for r in table.values()
                          if r[3] != "5")

        def expected():
            return sorted((c["id"], c["subject"], c["sha256_fingerprint"], c["days_left"])
                          for c in self.gw.certificates())

        wait_for(lambda: rows() == expected(), EVENT_TIMEOUT,
                 f"the certificate table matching certmgr list: {rows()} != {expected()}")
        count = self.lab.get(f"{ROOT}.1.6.1.0")
        self.assertEqual(count[0], "Gauge32")
        self.assertGreaterEqual(int(count[1]), len(expected()))

    def test_snmptable_with_the_mib(self):
        """snmptable needs the MIB for the column names: only where the IETF base modules are
        (the mibs check installs them)."""
        mib_dir = ietf_mib_dir()
        if mib_dir is None:
            self.skipTest("no IETF base MIB modules (run ctest -R mibs, or set "
                          "TLSGATE_IETF_MIB_DIR)")
        path = ":".join([mib_dir, os.path.join(SOURCE, "mibs"), "/usr/share/snmp/mibs"])
        rc, out, err = self.lab.run("snmptable", ["-v2c", "-c", "public", "-M", path, "-m",
                                                  "TLSGATE-MIB", "-Cf", "|", "-CH"],
                                    ["TLSGATE-MIB::tlsgateCertTable"], numeric=False)
        self.assertEqual(rc, 0, err)
        rows = [line.split("|") for line in out.splitlines() if "|" in line]
        listed = {c["id"]: c for c in self.gw.certificates()}
        shown = {r[0]: r for r in rows if r[1] != "trustAnchor"}
        self.assertEqual(sorted(shown), sorted(listed), out)
        for cert_id, row in shown.items():
            self.assertEqual(row[3], listed[cert_id]["subject"])
            self.assertEqual(row[-1], listed[cert_id]["sha256_fingerprint"])

    # -- the standard MTA objects (RFC 2788 / RFC 2789), by numeric OID

    def number(self, oid, kind):
        value = self.lab.get(oid)
        self.assertIsNotNone(value, f"no answer for {oid}")
        self.assertEqual(value[0], kind, oid)
        return int(value[1].split()[0])

    def test_mta_objects_after_a_message(self):
        self.assertEqual(self.lab.get(APPL_NAME), ("STRING", "tlsgate"))
        self.assertEqual(self.lab.get(APPL_OPER_STATUS), ("INTEGER", "1"))  # up(1)
        before = self.number(MTA_RECEIVED_MESSAGES, "Counter32")
        marker = unique("snmp-mta")
        with smtp_connect(self.gw.port) as smtp:
            smtp.starttls(context=client_context())
            smtp.ehlo("client.example.test")
            smtp.sendmail("a@x.example", ["b@y.example"], message(marker))
        # mtaReceivedMessages is tlsgateInMessagesAccepted (a Counter32 of it), and the
        # receiving group's mtaGroupReceivedMessages is the same.
        wait_for(lambda: self.number(MTA_RECEIVED_MESSAGES, "Counter32") >= before + 1,
                 EVENT_TIMEOUT, f"mtaReceivedMessages.1 moving from {before}")
        wait_for(lambda: self.number(MTA_RECEIVED_MESSAGES, "Counter32") ==
                 self.counter(IN_MESSAGES_ACCEPTED) % 2**32 ==
                 self.number(GROUP_RECEIVED_MESSAGES, "Counter32"), EVENT_TIMEOUT,
                 "mtaReceivedMessages.1 = tlsgateInMessagesAccepted = mtaGroupReceivedMessages.1.1")
        self.assertGreaterEqual(self.number(MTA_RECEIVED_VOLUME, "Counter32"), 1)  # K-octets
        self.assertGreaterEqual(self.number(APPL_ACCUMULATED_INBOUND, "Counter32"), 1)
        # Every attempt is deferred (send_section's black hole): the message stays queued, and
        # mtaStoredMessages.1 (and the sending group's mtaGroupStoredMessages.1.2) count it
        # (the agent caches the spool listing for 3 s).
        wait_for(lambda: len(self.gw.queue_ids()) ==
                 self.number(MTA_STORED_MESSAGES, "Gauge32") ==
                 self.number(GROUP_STORED_MESSAGES, "Gauge32") ==
                 self.number(QUEUE_LENGTH, "Gauge32") >= 1, EVENT_TIMEOUT,
                 "mtaStoredMessages.1 = mtaGroupStoredMessages.1.2 = the queue's length")

    def test_mta_tables_shape(self):
        """snmpwalk (GETNEXT through the tables): one applTable row, one mtaTable row, two
        groups, with their names and SMTP as the mail protocol."""
        appl = self.lab.walk("1.3.6.1.2.1.27")
        self.assertEqual(sorted(int(oid.split(".")[-2]) for oid in appl if
                                oid.startswith("." + APPL_ENTRY + ".")), list(range(2, 18)))
        self.assertTrue(all(oid.endswith(".1") for oid in appl), appl)
        mta = self.lab.walk("1.3.6.1.2.1.28")
        rows = [oid for oid in mta if oid.startswith("." + MTA_ENTRY + ".")]
        self.assertEqual(len(rows), 12, rows)
        groups = [oid for oid in mta if oid.startswith("." + MTA_GROUP_ENTRY + ".")]
        self.assertEqual(len(groups), 33 * 2, groups)
        self.assertEqual(mta[f".{GROUP_NAME}.1"], ("STRING", "receiving"))
        self.assertEqual(mta[f".{GROUP_NAME}.2"], ("STRING", "sending"))
        for group in (1, 2):
            self.assertEqual(mta[f".{GROUP_MAIL_PROTOCOL}.{group}"],
                             ("OID", ".1.3.6.1.2.1.27.4.25"))  # {applTCPProtoID 25}: SMTP

    # -- notifications

    def test_certificate_change_sends_a_trap_with_the_host_name(self):
        start = len(self.lab.traps())
        out = self.gw.certmgr("generate", "--activate")
        fingerprint = next(c["sha256_fingerprint"] for c in self.gw.certificates()
                           if c["id"] in out.split()[1].rstrip(":"))
        record = self.wait_trap(TRAP_CERT_CHANGED, fingerprint, start=start)
        self.assert_host_name_first(record)
        self.assertIn(f".{NOTIFY}.13.0 = INTEGER:", record)  # tlsgateNotifyCertChange

    def test_plaintext_mail_refused_530_sends_tls_required_trap(self):
        before = self.counter(IN_TLS_REQUIRED)
        start = len(self.lab.traps())
        with smtp_connect(self.gw.port) as smtp:
            smtp.ehlo("client.example.test")
            code, _ = smtp.docmd("MAIL FROM:<a@x.example>")
            self.assertEqual(code, 530)
        record = self.wait_trap(TRAP_TLS_REQUIRED, '"tls-required"', '"127.0.0.1"', start=start)
        self.assert_host_name_first(record)
        self.assertIn(f'.{NOTIFY}.3.0 = STRING: "client.example.test"', record)  # EHLO name
        wait_for(lambda: self.counter(IN_TLS_REQUIRED) >= before + 1, EVENT_TIMEOUT,
                 "tlsgateInTlsRequiredRejections moving")
        self.assertGreaterEqual(self.counter(TRAPS_SENT), 1)

    def test_garbage_after_starttls_sends_handshake_failed_trap(self):
        before = self.counter(IN_HANDSHAKES_FAILED)
        start = len(self.lab.traps())
        with SmtpClient(self.gw.port) as client:
            local_port = client.sock.getsockname()[1]
            self.assertEqual(client.greeting()[0], 220)
            self.assertEqual(client.ehlo("garbage.example.test")[0], 250)
            self.assertEqual(client.command("STARTTLS")[0], 220)
            # Not a TLS record: a plaintext line where the ClientHello belongs.
            client.send(b"this is not a ClientHello\r\n" * 4)
            self.assertTrue(client.wait_closed(), "the gateway must close the connection")
        record = self.wait_trap(TRAP_HANDSHAKE_FAILED, f"{PEER_PORT} = Gauge32: {local_port}",
                                start=start)
        assert_varbinds(self, record, [
            (PEER_ADDRESS, "STRING", "127.0.0.1"),
            (PEER_PORT, "Gauge32", str(local_port)),
            (PEER_NAME, "STRING", "garbage.example.test"),
            (REASON, "STRING", re.compile(r"\S")),
        ])
        wait_for(lambda: self.counter(IN_HANDSHAKES_FAILED) >= before + 1, EVENT_TIMEOUT,
                 "tlsgateInHandshakesFailed moving")

    # -- SNMPv3

    def test_snmpv3_auth_priv(self):
        self.assertEqual(self.lab.get(HOST_NAME, self.lab.v3()), ("STRING", HOSTNAME))
        rc, out, err = self.lab.run("snmpget", self.lab.v3(priv="wrong-" + V3_PRIV),
                                    [HOST_NAME], timeout=1)
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn(HOSTNAME, out)
        rc, out, err = self.lab.run("snmpget", self.lab.v3(auth="wrong-auth-pass"), [HOST_NAME],
                                    timeout=1)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Authentication failure", err)

    # -- last (z): snmpd goes away and comes back

    def test_z_subagent_answers_again_after_snmpd_restart(self):
        self.lab.snmpd.stop(signal.SIGKILL)
        self.lab.start_snmpd()
        began = time.monotonic()
        wait_for(lambda: self.lab.get(HOST_NAME, timeout=1), RESTART_LIMIT,
                 "the subagent answering through the restarted snmpd")
        self.assertLess(time.monotonic() - began, RESTART_LIMIT)
        self.assertEqual(self.gw.daemon.proc.poll(), None, "the gateway must keep running")


class SnmpPolicyNotificationTest(unittest.TestCase):
    """A second gateway with its own snmpd and snmptrapd (two subagents cannot register the same
    subtree with one snmpd): receive.client_certificate = require (and tls_level = require),
    send.tls_level = require-verify with every message routed to a plaintext sink, and a
    certificate with 10 days of validity put into its store before it starts, so that the
    certificate watcher's first pass crosses the 14-day threshold."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for tool in ("snmpd", "snmptrapd", "snmpget", "snmpwalk"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(f"{tool} is not installed (scripts/setup.sh)")
        cls.tmp = tempfile.mkdtemp(prefix="tlsgate-snmp2-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.lab = SnmpLab(cls.tmp)
        cls.addClassCleanup(cls.lab.stop)
        cls.lab.start()
        # The next hop: no STARTTLS offered, so require-verify defers with 4.7.4.
        cls.sink = SmtpSink(out_dir=os.path.join(cls.tmp, "sink"), starttls=False)
        cls.sink.start()
        cls.addClassCleanup(cls.sink.stop)
        cls.gw = SnmpGateway(
            ["enabled = true", f"agentx_socket = unix:{cls.lab.socket}", "ping_interval = 1"],
            send_lines=["tls_level = require-verify",
                        f"routes = dest.example=[127.0.0.1]:{cls.sink.port}",
                        "retry_min = 3600", "retry_max = 3600",
                        "connect_timeout = 5", "command_timeout = 10"],
            receive={"tls_level": "require", "client_certificate": "require"}, trust_ca=True,
            prefix="tlsgate-snmp-gw2-")
        cls.addClassCleanup(cls.gw.close)
        os.makedirs(cls.gw.state, mode=0o700, exist_ok=True)
        out = cls.gw.certmgr("generate", "--days", "10", "--name", "expiring.example.test")
        m = re.match(r"generated (\S+): ", out)
        if not m:
            raise AssertionError(f"certmgr generate printed {out!r}")
        cls.expiring = next(c for c in cls.gw.certificates() if c["id"] == m.group(1))
        cls.gw.start()
        wait_for(lambda: cls.lab.get(HOST_NAME), EVENT_TIMEOUT, "the subagent registering")

    def counter(self, oid):
        value = self.lab.get(oid)
        self.assertIsNotNone(value, f"no answer for {oid}")
        self.assertEqual(value[0], "Counter64", oid)
        return int(value[1])

    def test_settings(self):
        # requireTlsEncryption(3), require(3), requireTlsVerify(4)
        self.assertEqual(self.lab.walk(f"{ROOT}.1.2"),
                         {f".{ROOT}.1.2.1.0": ("INTEGER", "3"),
                          f".{ROOT}.1.2.2.0": ("INTEGER", "3"),
                          f".{ROOT}.1.2.3.0": ("INTEGER", "4")})

    def test_starttls_without_client_certificate_sends_client_cert_rejected_trap(self):
        before = self.counter(IN_CLIENT_CERTS_FAILED)
        start = len(self.lab.traps())
        with SmtpClient(self.gw.port) as client:
            local_port = client.sock.getsockname()[1]
            self.assertEqual(client.greeting()[0], 220)
            self.assertEqual(client.ehlo("nocert.example.test")[0], 250)
            self.assertEqual(client.command("STARTTLS")[0], 220)
            client.starttls(client_context())  # no client certificate
            self.assertEqual(client.ehlo("nocert.example.test")[0], 250)
            code, text = client.command("MAIL FROM:<a@x.example>")
            self.assertEqual(code, 421, text)
            self.assertTrue(text.startswith("4.7.1 "), text)
        record = wait_trap(self.lab, TRAP_CLIENT_CERT_REJECTED,
                           f"{PEER_PORT} = Gauge32: {local_port}", start=start, gateway=self.gw)
        assert_varbinds(self, record, [
            (PEER_ADDRESS, "STRING", "127.0.0.1"),
            (PEER_PORT, "Gauge32", str(local_port)),
            (PEER_NAME, "STRING", "nocert.example.test"),
            (CERT_SUBJECT, "STRING", ""),   # none presented
            (CERT_SHA256, "STRING", ""),
            (REASON, "STRING", re.compile(r"\S")),
        ])
        wait_for(lambda: self.counter(IN_CLIENT_CERTS_FAILED) >= before + 1, EVENT_TIMEOUT,
                 "tlsgateInClientCertsFailed moving")

    def test_plaintext_next_hop_under_require_verify_sends_tls_deferred_trap(self):
        before = self.counter(OUT_DEFERRED_TLS)
        start = len(self.lab.traps())
        marker = unique("snmp-deferred")
        with SmtpClient(self.gw.port) as client:
            self.assertEqual(client.greeting()[0], 220)
            self.assertEqual(client.ehlo()[0], 250)
            self.assertEqual(client.command("STARTTLS")[0], 220)
            client.starttls(client_context(pki().good))
            self.assertEqual(client.ehlo()[0], 250)
            code, text = client.send_message("a@x.example", ["rcpt@dest.example"],
                                              message(marker))
            self.assertEqual(code, 250, text)
            queue_id = QUEUED_RE.search(f"{code} {text}").group(1)
            client.command("QUIT")
        record = wait_trap(self.lab, TRAP_OUTBOUND_TLS_DEFERRED,
                           f'{QUEUE_ID} = STRING: "{queue_id}"', start=start, gateway=self.gw)
        assert_varbinds(self, record, [
            (PEER_ADDRESS, "STRING", "127.0.0.1"),
            (PEER_PORT, "Gauge32", str(self.sink.port)),
            (PEER_NAME, "STRING", "127.0.0.1"),
            (QUEUE_ID, "STRING", queue_id),
            (POLICY_RULE, "STRING", "tls-policy"),
            (REASON, "STRING", re.compile(r"^4\.7\.4 TLS is required, but was not offered ")),
        ])
        wait_for(lambda: self.counter(OUT_DEFERRED_TLS) >= before + 1, EVENT_TIMEOUT,
                 "tlsgateOutMessagesDeferredTls moving")
        self.assertEqual(self.sink.messages(), [], "nothing may reach the plaintext next hop")
        self.assertIn(queue_id, self.gw.queue_ids(), "the deferred message stays queued")

    def test_certificate_with_ten_days_left_sends_expiring_trap(self):
        cert = self.expiring
        # The watcher's first pass runs as the gateway starts: the event must reach the subagent
        # (which sends it once it is connected to snmpd).
        record = wait_trap(self.lab, TRAP_CERT_EXPIRING,
                           f'{CERT_SHA256} = STRING: "{cert["sha256_fingerprint"]}"',
                           gateway=self.gw)
        values = assert_varbinds(self, record, [
            (CERT_ID, "STRING", cert["id"]),
            (CERT_SUBJECT, "STRING", "CN=expiring.example.test"),
            (CERT_SHA256, "STRING", cert["sha256_fingerprint"]),
            (CERT_NOT_AFTER, "Hex-STRING", re.compile(r"^([0-9A-F]{2} ){10}[0-9A-F]{2}$")),
            (CERT_DAYS_LEFT, "INTEGER", str(cert["days_left"])),
            (THRESHOLD_DAYS, "Gauge32", "14"),   # the smallest of 30,14,7,1 crossed
        ])
        self.assertIn(cert["days_left"], (9, 10))
        not_after = datetime.datetime.strptime(cert["not_after"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(date_and_time(values[CERT_NOT_AFTER][1]),
                         not_after.replace(tzinfo=datetime.timezone.utc))
        # One crossing, one notification: the 30-day threshold is covered by the 14-day one.
        self.assertEqual(sum(1 for r in self.lab.traps().split("\n")
                             if f"= OID: {TRAP_CERT_EXPIRING}" in r), 1, self.lab.traps())


if __name__ == "__main__":
    unittest.main()
