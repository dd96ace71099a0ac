#!/usr/bin/env python3
"""Checks mibs/TLSGATE-MIB.txt: smilint -l 6, snmptranslate of every definition, the enterprise
arc, and the objects issue "SNMP" asks for.

Environment (all optional; ctest sets them from mibs/CMakeLists.txt):
  TLSGATE_MIB_FILE        the module to check (default: ../TLSGATE-MIB.txt beside this script)
  TLSGATE_MIB_README      the README that documents it (default: ../README.md)
  TLSGATE_NPM_PREFIX      where `npm install net-snmp@3.29.2` puts the IETF base MIB modules
                          (default: ~/.cache/tlsgate/npm)
  TLSGATE_IETF_MIB_DIR    a directory that already holds SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF
                          (skips npm entirely)

Debian ships no IETF base MIB modules; the npm package net-snmp carries them under lib/mibs/.
When they are neither installed nor installable (offline, no npm), the script exits 77, which
ctest reports as "Skipped" (SKIP_RETURN_CODE), never as passed.
"""

import ast
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

# ---------------------------------------------------------------------------------------------
# The enterprise arc. TLSGATE-MIB names it in one place (the ::= line of its MODULE-IDENTITY);
# this constant is the check that the arc did not change by accident. Changing the arc on
# purpose means: that ::= line (and its IMPORTS entry), this constant, mibs/README.md and the
# agent (snmp-agent/), together.
EXPECTED_ROOT = "1.3.6.1.4.1.8072.9999.9999.1"  # netSnmpPlaypen.1 (temporary, no PEN yet)
MODULE = "TLSGATE-MIB"

NET_SNMP_NPM = "net-snmp@3.29.2"
BASE_MODULES = ("SNMPv2-SMI", "SNMPv2-TC", "SNMPv2-CONF")

# smilint findings of severity 4 and above (warnings and infos) that are accepted, by tag, with
# the reason. Errors (severity 0..3) are never accepted. Keep mibs/README.md in step.
SMILINT_ALLOWED = {
    # (none: the module is clean at -l 6 and at -l 9)
}

# ---------------------------------------------------------------------------------------------
# What issue "SNMP" asks the module to hold.
COUNTERS = [
    # inbound
    "tlsgateInConnections", "tlsgateInStartTlsAdvertised", "tlsgateInStartTlsStarted",
    "tlsgateInHandshakesFailed", "tlsgateInPlaintextSessions", "tlsgateInTlsRequiredRejections",
    "tlsgateInClientCertsPresented", "tlsgateInClientCertsVerified", "tlsgateInClientCertsFailed",
    "tlsgateInRelayDenials", "tlsgateInMessagesAccepted",
    # outbound
    "tlsgateOutConnections", "tlsgateOutStartTlsUsed", "tlsgateOutStartTlsNotOffered",
    "tlsgateOutHandshakesFailed", "tlsgateOutVerifyFailures", "tlsgateOutMessagesDelivered",
    "tlsgateOutMessagesDeferredTls", "tlsgateOutMessagesDeferredOther",
    "tlsgateOutMessagesBounced",
    # notifications
    "tlsgateTrapsSent", "tlsgateTrapsSuppressed",
]
SIEM_COUNTERS = ["tlsgateSiemDestRecordsSent", "tlsgateSiemDestRecordsBuffered",
                 "tlsgateSiemDestRecordsDropped"]
GAUGES = ["tlsgateQueueLength", "tlsgateQueueOldestAge", "tlsgateOpenSessions",
          "tlsgateOpenTlsSessions"]

# The product's enumerations (gateway/include/tlsgate/gateway/config.h, certmgr's
# CertificateStatus), in the MIB's words.
ENUMERATIONS = {
    "tlsgateReceiveTlsLevel": {"noTlsEncryption": 1, "attemptTlsEncryption": 2,
                               "requireTlsEncryption": 3},
    "tlsgateClientCertMode": {"doNotRequest": 1, "request": 2, "require": 3},
    "tlsgateSendTlsLevel": {"noTlsEncryption": 1, "attemptTlsEncryption": 2,
                            "requireTlsNoVerify": 3, "requireTlsVerify": 4},
    "tlsgateCertStatus": {"valid": 1, "expiring": 2, "expired": 3, "notYetValid": 4},
}

GATEWAY = {"tlsgateVersion": "DisplayString", "tlsgateHostName": "DisplayString",
           "tlsgateStartTime": "DateAndTime"}

CERT_COLUMNS = {  # column -> syntax type name (None: an enumeration)
    "tlsgateCertIndex": "Unsigned32", "tlsgateCertId": "DisplayString",
    "tlsgateCertRole": None, "tlsgateCertStatus": None,
    "tlsgateCertSubject": "TlsgateUtf8String", "tlsgateCertIssuer": "TlsgateUtf8String",
    "tlsgateCertSerial": "DisplayString", "tlsgateCertNotBefore": "DateAndTime",
    "tlsgateCertNotAfter": "DateAndTime", "tlsgateCertDaysLeft": "Integer32",
    "tlsgateCertKeyType": "DisplayString", "tlsgateCertKeyBits": "Unsigned32",
    "tlsgateCertSha256": "TlsgateSha256Fingerprint",
}
SIEM_COLUMNS = {
    "tlsgateSiemDestIndex": "Unsigned32", "tlsgateSiemDestName": "DisplayString",
    "tlsgateSiemDestConnected": "TruthValue", "tlsgateSiemDestRecordsSent": "Counter64",
    "tlsgateSiemDestRecordsBuffered": "Counter64", "tlsgateSiemDestRecordsDropped": "Counter64",
    "tlsgateSiemDestBufferLength": "Gauge32",
}

# notification -> varbinds it must carry (besides tlsgateHostName, which every one carries first)
NOTIFICATIONS = {
    "tlsgateInboundHandshakeFailed": ["tlsgateNotifyPeerAddress", "tlsgateNotifyReason"],
    "tlsgateInboundTlsRequired": ["tlsgateNotifyPeerAddress", "tlsgateNotifyReason"],
    "tlsgateClientCertRejected": ["tlsgateNotifyPeerAddress", "tlsgateNotifyCertSha256",
                                  "tlsgateNotifyReason"],
    "tlsgateOutboundVerifyFailed": ["tlsgateNotifyPeerAddress", "tlsgateNotifyPeerName",
                                    "tlsgateNotifyCertSha256", "tlsgateNotifyReason"],
    "tlsgateOutboundTlsDeferred": ["tlsgateNotifyPeerAddress", "tlsgateNotifyPeerName",
                                   "tlsgateNotifyQueueId", "tlsgateNotifyReason"],
    "tlsgateCertExpiring": ["tlsgateNotifyCertSha256", "tlsgateNotifyCertDaysLeft",
                            "tlsgateNotifyThresholdDays", "tlsgateNotifyCertNotAfter"],
    "tlsgateCertExpired": ["tlsgateNotifyCertSha256", "tlsgateNotifyCertDaysLeft",
                           "tlsgateNotifyCertNotAfter"],
    "tlsgateCertChanged": ["tlsgateNotifyCertChange", "tlsgateNotifyCertSha256",
                           "tlsgateNotifyCertId"],
    "tlsgateSiemDestinationDown": ["tlsgateNotifySiemDestination", "tlsgateNotifyReason"],
    "tlsgateSiemDestinationUp": ["tlsgateNotifySiemDestination"],
    "tlsgateNotificationsSuppressed": ["tlsgateNotifySuppressedType",
                                       "tlsgateNotifySuppressedCount"],
}
# The certificate-change kinds the issue names (created, imported, activated, removed).
CERT_CHANGES_REQUIRED = {"created", "imported", "activated", "removed"}

HERE = os.path.dirname(os.path.abspath(__file__))
MIB_FILE = os.path.abspath(os.environ.get("TLSGATE_MIB_FILE",
                                          os.path.join(HERE, "..", "TLSGATE-MIB.txt")))
README = os.path.abspath(os.environ.get("TLSGATE_MIB_README",
                                        os.path.join(HERE, "..", "README.md")))

# Filled in by main() before the tests run.
BASE_DIR = None       # IETF base modules
NET_SNMP_DIR = None   # NET-SNMP-MIB (Debian: libsnmp-base)
WORK_DIR = None       # scratch: Net-SNMP config and persistent dirs


class Unavailable(Exception):
    """The IETF base MIB modules cannot be had here: the test is skipped, not passed."""


def has_base_modules(directory):
    if not directory or not os.path.isdir(directory):
        return False
    names = os.listdir(directory)
    return all(any(n == m or n.startswith(m + ".") for n in names) for m in BASE_MODULES)


def npm_installed_version(prefix):
    try:
        with open(os.path.join(prefix, "node_modules", "net-snmp", "package.json")) as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def obtain_base_mibs():
    """The directory holding SNMPv2-SMI and friends; installs npm net-snmp when needed."""
    given = os.environ.get("TLSGATE_IETF_MIB_DIR")
    if given:
        if not has_base_modules(given):
            raise Unavailable(f"TLSGATE_IETF_MIB_DIR={given} lacks {', '.join(BASE_MODULES)}")
        return given
    prefix = os.environ.get("TLSGATE_NPM_PREFIX") or os.path.join(
        os.path.expanduser("~"), ".cache", "tlsgate", "npm")
    mib_dir = os.path.join(prefix, "node_modules", "net-snmp", "lib", "mibs")
    wanted = NET_SNMP_NPM.split("@")[1]
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(prefix, ".tlsgate-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs sharing a prefix install once
        if npm_installed_version(prefix) == wanted and has_base_modules(mib_dir):
            return mib_dir
        npm = shutil.which("npm")
        if not npm:
            raise Unavailable("npm is not installed and the IETF base MIBs are not in " + prefix)
        cmd = [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund",
               "--no-update-notifier", "--prefer-offline", "--fetch-retries=0",
               "--fetch-timeout=30000", NET_SNMP_NPM]
        print("mibs: installing the IETF base MIB modules:", " ".join(cmd), flush=True)
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            raise Unavailable("npm install timed out (offline?)")
        if run.returncode != 0 or not has_base_modules(mib_dir):
            raise Unavailable(f"npm install failed ({run.returncode}):\n{run.stdout}{run.stderr}")
        return mib_dir


def find_net_snmp_mib_dir():
    for d in ("/usr/share/snmp/mibs", "/usr/local/share/snmp/mibs"):
        if os.path.exists(os.path.join(d, "NET-SNMP-MIB.txt")):
            return d
    raise AssertionError("NET-SNMP-MIB.txt not found: install libsnmp-base (scripts/setup.sh)")


def smi_env():
    env = dict(os.environ)
    env["SMIPATH"] = ":".join([os.path.dirname(MIB_FILE), BASE_DIR, NET_SNMP_DIR])
    return env


def snmp_env():
    env = dict(os.environ)
    for k in ("MIBS", "MIBDIRS", "SNMPCONFPATH", "SNMP_PERSISTENT_DIR"):
        env.pop(k, None)
    env["SNMPCONFPATH"] = WORK_DIR  # no user or system snmp.conf: only what the test says
    env["SNMP_PERSISTENT_DIR"] = WORK_DIR
    return env


def tool(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} is not installed: run scripts/setup.sh")
    return path


def strip_strings_and_comments(text):
    """The module text with quoted strings emptied and ASN.1 comments removed."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = text.find('"', i + 1)
            j = n if j < 0 else j
            out.append('""')
            i = j + 1
        elif text.startswith("--", i):
            # a comment ends at the next "--" or at the end of the line
            j = i + 2
            while j < n and text[j] != "\n" and not text.startswith("--", j):
                j += 1
            i = j + 2 if text.startswith("--", j) else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


DEFINITION = re.compile(
    r"^([a-z][A-Za-z0-9-]*)\s+(OBJECT-TYPE|NOTIFICATION-TYPE|OBJECT-GROUP|NOTIFICATION-GROUP|"
    r"MODULE-COMPLIANCE|MODULE-IDENTITY|OBJECT-IDENTITY|OBJECT\s+IDENTIFIER\s*::=)", re.M)


def defined_names(code):
    """Every OID-valued definition of the module, in order: (name, macro)."""
    return [(m.group(1), re.sub(r"\s+", " ", m.group(2)).rstrip(" :=")) for m in
            DEFINITION.finditer(code)]


class MibTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(MIB_FILE, encoding="utf-8") as f:
            cls.text = f.read()
        cls.code = strip_strings_and_comments(cls.text)
        cls.names = defined_names(cls.code)
        cls._oids = {}
        # libsmi's view of the module (smidump -f python), for the checks of its contents. When
        # smidump cannot read the module those checks fail with its complaint; the smilint and
        # snmptranslate checks still run and say what is wrong.
        cls.smidump_error = None
        run = subprocess.run([tool("smidump"), "-c", os.devnull, "-f", "python", MIB_FILE],
                             capture_output=True, text=True, env=smi_env(), timeout=60)
        mib = None
        if "MIB = " in run.stdout:
            for node in ast.parse(run.stdout).body:
                if isinstance(node, ast.Assign) and node.targets[0].id == "MIB":
                    mib = ast.literal_eval(node.value)
        if run.returncode != 0 or mib is None:
            cls.smidump_error = f"smidump could not read {MIB_FILE}:\n{run.stderr}"
            mib = {}
        cls.mib = mib
        cls.nodes = mib.get("nodes", {})
        cls.notifications = mib.get("notifications", {})
        cls.groups = mib.get("groups", {})
        cls.compliances = mib.get("compliances", {})

    def setUp(self):
        uses_smidump = not self._testMethodName.startswith(
            ("test_smilint", "test_every_definition", "test_root", "test_arc", "test_numeric"))
        if uses_smidump and self.smidump_error:
            self.fail(self.smidump_error)

    def translate(self, name):
        """snmptranslate -On MODULE::name, with only the test's MIB directories."""
        if name not in self._oids:
            mibdirs = ":".join([BASE_DIR, NET_SNMP_DIR, os.path.dirname(MIB_FILE)])
            run = subprocess.run([tool("snmptranslate"), "-M", mibdirs, "-m", MIB_FILE, "-On",
                                  f"{MODULE}::{name}"], capture_output=True, text=True,
                                 env=snmp_env(), timeout=30)
            self.assertEqual(run.returncode, 0,
                             f"snmptranslate {MODULE}::{name} failed:\n{run.stderr}")
            # Net-SNMP says so when it makes its scratch directories: not a complaint.
            stderr = "\n".join(line for line in run.stderr.splitlines()
                               if not line.startswith("Created directory: " + WORK_DIR))
            self.assertEqual(stderr.strip(), "",
                             f"snmptranslate complained while loading the module:\n{stderr}")
            self._oids[name] = run.stdout.strip().lstrip(".")
        return self._oids[name]

    def syntax_name(self, name):
        t = self.nodes[name]["syntax"]["type"]
        if "parent module" in t:  # a sub-typed TC, e.g. DisplayString (SIZE (0..64))
            return t["parent module"]["type"]
        return t.get("name") or t.get("basetype")

    # --- smilint -----------------------------------------------------------------------------

    def test_smilint_level_6(self):
        run = subprocess.run([tool("smilint"), "-c", os.devnull, "-m", "-s", "-l", "6",
                              MIB_FILE], capture_output=True, text=True, env=smi_env(),
                             timeout=60)
        output = (run.stdout + run.stderr).strip()
        finding = re.compile(r"^(.*?):(\d+): \[(\d+)\] \{([\w-]+)\} (.*)$")
        problems = []
        for line in output.splitlines():
            m = finding.match(line)
            if not m:
                problems.append(f"unparsed smilint output: {line}")
            elif int(m.group(3)) <= 3:
                problems.append(f"error: {line}")
            elif m.group(4) not in SMILINT_ALLOWED:
                problems.append(f"warning not in SMILINT_ALLOWED: {line}")
        self.assertEqual(run.returncode, 0, output)
        if problems:
            self.fail("smilint -l 6:\n" + "\n".join(problems))

    def test_smilint_finds_errors(self):
        """The lint step is not blind: a broken copy of the module is reported."""
        broken = self.text.replace("::= { tlsgateGroups 11 }", "::= { tlsgateGroups 10 }")
        self.assertNotEqual(broken, self.text)
        with tempfile.TemporaryDirectory(dir=WORK_DIR) as d:
            path = os.path.join(d, "TLSGATE-MIB.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(broken)
            run = subprocess.run([tool("smilint"), "-c", os.devnull, "-m", "-s", "-l", "6", path],
                                 capture_output=True, text=True, env=smi_env(), timeout=60)
        self.assertIn("{oid-registered}", run.stdout + run.stderr)

    # --- snmptranslate -----------------------------------------------------------------------

    def test_every_definition_resolves_under_the_root(self):
        self.assertGreater(len(self.names), 80, "the name extraction found too little")
        seen, problems = {}, []
        where = {"NOTIFICATION-TYPE": "0", "OBJECT-TYPE": "1", "OBJECT-GROUP": "2",
                 "NOTIFICATION-GROUP": "2", "MODULE-COMPLIANCE": "2"}
        for name, macro in self.names:
            try:
                oid = self.translate(name)
            except AssertionError as e:
                problems.append(str(e))
                continue
            if not (oid == EXPECTED_ROOT or oid.startswith(EXPECTED_ROOT + ".")):
                problems.append(f"{name} resolves to {oid}, not under {EXPECTED_ROOT}")
                continue
            if oid in seen:
                problems.append(f"{name} and {seen[oid]} share {oid}")
            seen[oid] = name
            arc = oid[len(EXPECTED_ROOT) + 1:].split(".")[0] if oid != EXPECTED_ROOT else ""
            if macro in where and arc != where[macro]:
                problems.append(f"{macro} {name} is {oid}, not under {EXPECTED_ROOT}.{where[macro]}")
        if problems:
            self.fail(f"{len(problems)} of {len(self.names)} definitions:\n"
                      + "\n".join(problems[:15]))

    def test_extraction_matches_libsmi(self):
        """The names taken from the file are exactly those libsmi sees, with the same OIDs."""
        smi = {}
        for section in ("nodes", "notifications", "groups", "compliances"):
            for name, node in self.mib.get(section, {}).items():
                smi[name] = node["oid"]
        self.assertEqual(self.mib[MODULE].get("identity node"), "tlsgateMIB")
        ours = [n for n, _ in self.names]
        self.assertEqual(len(ours), len(set(ours)), "a name is defined twice")
        self.assertEqual(sorted(set(ours)), sorted(smi))
        for name in ours:
            with self.subTest(name=name):
                self.assertEqual(self.translate(name), smi[name], name)

    # --- the enterprise arc ------------------------------------------------------------------

    def test_root_is_the_expected_arc(self):
        oid = self.translate("tlsgateMIB")
        self.assertEqual(oid, EXPECTED_ROOT,
                         "the enterprise arc of TLSGATE-MIB changed: if on purpose, change "
                         "EXPECTED_ROOT here, mibs/README.md and the agent together")

    def test_arc_is_defined_in_one_place(self):
        defined = {n for n, _ in self.names}
        values = re.findall(r"^([a-z][A-Za-z0-9-]*)\b[^\n]*?(?:\n(?!\S)[^\n]*)*?"
                            r"::=\s*\{([^}]*)\}", self.code, re.M)
        self.assertEqual([n for n, _ in values], [n for n, _ in self.names],
                         "every definition has one ::= { parent number } value")
        external = []
        for name, value in values:
            parts = value.split()
            if not parts:
                continue
            if parts[0].isdigit() or len(parts) != 2 or not parts[1].isdigit():
                external.append((name, value.strip()))
            elif parts[0] not in defined:
                external.append((name, value.strip()))
        self.assertEqual(len(external), 1,
                         f"exactly one definition may hang off an outside arc: {external}")
        self.assertEqual(external[0][0], "tlsgateMIB", external)
        parent = external[0][1].split()[0]
        imports = self.code.split("IMPORTS", 1)[1].split(";", 1)[0]
        self.assertRegex(imports, r"\b" + re.escape(parent) + r"\b",
                         f"{parent} is not imported")

    def test_numeric_mentions_agree_with_the_root(self):
        """Dotted enterprise OIDs written in the module's comments and in the README agree."""
        with open(README, encoding="utf-8") as f:
            readme = f.read()
        self.assertIn(EXPECTED_ROOT, readme, "mibs/README.md does not state the arc")
        for where, text in (("TLSGATE-MIB.txt", self.text), ("README.md", readme)):
            for oid in re.findall(r"(?<![\d.])1\.3\.6\.1\.4\.1(?:\.\d+)+", text):
                with self.subTest(where=where, oid=oid):
                    self.assertTrue(EXPECTED_ROOT.startswith(oid + ".") or oid == EXPECTED_ROOT
                                    or oid.startswith(EXPECTED_ROOT + "."),
                                    f"{where} mentions {oid}, which disagrees with the arc "
                                    f"{EXPECTED_ROOT}")

    # --- what the issue asks for -------------------------------------------------------------

    def test_gateway_objects(self):
        for name, syntax in GATEWAY.items():
            with self.subTest(name=name):
                self.assertEqual(self.nodes[name]["nodetype"], "scalar")
                self.assertEqual(self.syntax_name(name), syntax)

    def test_settings_use_the_products_words(self):
        for name, labels in ENUMERATIONS.items():
            with self.subTest(name=name):
                t = self.nodes[name]["syntax"]["type"]
                self.assertEqual(t.get("basetype"), "Enumeration")
                got = {k: int(v["number"]) for k, v in t.items() if isinstance(v, dict)}
                self.assertEqual(got, labels)

    def test_counters_are_counter64(self):
        for name in COUNTERS + SIEM_COUNTERS:
            with self.subTest(name=name):
                self.assertIn(name, self.nodes)
                self.assertEqual(self.syntax_name(name), "Counter64")
                self.assertEqual(self.nodes[name]["access"], "readonly")
        strays = [n for n, node in self.nodes.items() if node.get("syntax", {}).get(
            "type", {}).get("name") == "Counter64" and n not in COUNTERS + SIEM_COUNTERS]
        self.assertFalse(strays, "Counter64 objects this test does not know: add them above")

    def test_gauges_are_gauge32(self):
        for name in GAUGES:
            with self.subTest(name=name):
                self.assertEqual(self.nodes[name]["nodetype"], "scalar")
                self.assertEqual(self.syntax_name(name), "Gauge32")

    def test_certificate_table(self):
        self.assertEqual(self.nodes["tlsgateCertTable"]["nodetype"], "table")
        entry = self.nodes["tlsgateCertEntry"]
        self.assertEqual(list(entry["linkage"]), ["tlsgateCertIndex"])
        for name, syntax in CERT_COLUMNS.items():
            with self.subTest(name=name):
                self.assertEqual(self.nodes[name]["nodetype"], "column")
                if syntax:
                    self.assertEqual(self.syntax_name(name), syntax)
        self.assertEqual(self.nodes["tlsgateCertIndex"]["access"], "noaccess")
        columns = [n for n, node in self.nodes.items() if node["nodetype"] == "column"
                   and node["oid"].startswith(self.nodes["tlsgateCertEntry"]["oid"] + ".")]
        self.assertEqual(sorted(columns), sorted(CERT_COLUMNS))

    def test_siem_table(self):
        entry = self.nodes["tlsgateSiemDestEntry"]
        self.assertEqual(list(entry["linkage"]), ["tlsgateSiemDestIndex"])
        for name, syntax in SIEM_COLUMNS.items():
            with self.subTest(name=name):
                self.assertEqual(self.nodes[name]["nodetype"], "column")
                self.assertEqual(self.syntax_name(name), syntax)

    def test_notifications_carry_what_an_operator_needs(self):
        self.assertEqual(sorted(self.notifications), sorted(NOTIFICATIONS))
        for name, required in NOTIFICATIONS.items():
            with self.subTest(name=name):
                objects = list(self.notifications[name].get("objects", {}))
                self.assertEqual(objects[:1], ["tlsgateHostName"],
                                 f"{name} must carry tlsgateHostName first")
                for obj in required:
                    self.assertIn(obj, objects)
                for obj in objects[1:]:
                    self.assertEqual(self.nodes[obj]["access"], "notifyonly",
                                     f"{obj}: notification-only varbinds are "
                                     "accessible-for-notify")

    def test_certificate_changes(self):
        t = self.nodes["tlsgateNotifyCertChange"]["syntax"]["type"]
        kinds = {k for k, v in t.items() if isinstance(v, dict)}
        self.assertLessEqual(CERT_CHANGES_REQUIRED, kinds)

    def test_conformance(self):
        self.assertIn("tlsgateCompliance", self.compliances)
        required = set(self.compliances["tlsgateCompliance"].get("requires", {}))
        self.assertEqual(required, set(self.groups),
                         "every group is named by tlsgateCompliance")
        members = set()
        for g in self.groups.values():
            members |= set(g.get("members", {}))
        accessible = {n for n, node in self.nodes.items()
                      if node["nodetype"] in ("scalar", "column") and node["access"] != "noaccess"}
        self.assertEqual(accessible - members, set(), "objects in no group")
        self.assertEqual(set(self.notifications) - members, set(), "notifications in no group")


def main():
    global BASE_DIR, NET_SNMP_DIR, WORK_DIR
    try:
        BASE_DIR = obtain_base_mibs()
    except Unavailable as e:
        print(f"SKIPPED: the IETF base MIB modules are not available: {e}", file=sys.stderr)
        return 77
    NET_SNMP_DIR = find_net_snmp_mib_dir()
    print(f"mibs: {MIB_FILE}\nmibs: IETF base modules from {BASE_DIR}\n"
          f"mibs: NET-SNMP-MIB from {NET_SNMP_DIR}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tlsgate-mib-") as work:
        WORK_DIR = work
        program = unittest.main(exit=False, verbosity=2, argv=[sys.argv[0]] + sys.argv[1:])
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
