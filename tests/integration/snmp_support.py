"""Helpers for the SNMP integration test (test_snmp.py): a private snmpd (AgentX master on a unix
socket in a temporary directory, UDP on a loopback port, a v2c community and an SNMPv3 authPriv
user, one v2c trap sink) and a private snmptrapd writing what it receives to a file, plus thin
wrappers over snmpget/snmpwalk that read numeric OIDs (Debian ships no IETF MIBs: see
../shared/NOTES.md).

Every child runs with -f in the foreground, is waited on with bounded polls, and is stopped by
stop() (SIGTERM, bounded wait, SIGKILL).
"""

import os
import re
import signal
import socket
import subprocess
import time

TOOL_TIMEOUT = 15       # one snmpget/snmpwalk run
READY_TIMEOUT = 10      # snmpd/snmptrapd ready

V3_USER = "tlsgateops"
V3_AUTH = "auth-pass-phrase-1"
V3_PRIV = "priv-pass-phrase-1"

# "OID = TYPE: value" (snmpget/snmpwalk -On); "No Such ..." answers have no TYPE.
_LINE_RE = re.compile(r"^(\.[0-9.]+) = (?:([A-Za-z0-9-]+): )?(.*)$")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


class Child:
    def __init__(self, argv, env):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=env)

    def stop(self, signo=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class SnmpLab:
    """snmpd + snmptrapd in `directory` (created by the caller)."""

    def __init__(self, directory):
        self.dir = directory
        self.socket = os.path.join(directory, "agentx.sock")
        self.port = free_udp_port()
        self.trap_port = free_udp_port()
        self.trap_log = os.path.join(directory, "traps.log")
        self.snmpd_log = os.path.join(directory, "snmpd.log")
        persist = os.path.join(directory, "persist")
        os.makedirs(persist, exist_ok=True)
        # No system configuration or state: everything lives in the temporary directory.
        self.env = dict(os.environ, SNMP_PERSISTENT_DIR=persist, SNMPCONFPATH=directory)
        self.snmpd_conf = self._write("snmpd.conf", [
            "master agentx",
            f"agentXSocket unix:{self.socket}",
            f"agentaddress udp:127.0.0.1:{self.port}",
            "rocommunity public 127.0.0.1",
            f"trap2sink 127.0.0.1:{self.trap_port} public",
            f"createUser {V3_USER} SHA \"{V3_AUTH}\" AES \"{V3_PRIV}\"",
            f"rouser {V3_USER} priv",
        ])
        self.trapd_conf = self._write("snmptrapd.conf", ["disableAuthorization yes"])
        # The client tools read this (SNMPCONFPATH): numeric OIDs only, no MIB loading.
        self._write("snmp.conf", ["mibs :"])
        self.snmpd = None
        self.trapd = None

    def _write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        self.trapd = Child(["snmptrapd", "-f", "-On", "-Lf", self.trap_log, "-C", "-c",
                            self.trapd_conf, f"udp:127.0.0.1:{self.trap_port}"], self.env)
        _wait(lambda: "NET-SNMP version" in self.traps(), READY_TIMEOUT, "snmptrapd start")
        self.start_snmpd()

    def start_snmpd(self):
        self.snmpd = Child(["snmpd", "-f", "-Lf", self.snmpd_log, "-C", "-c", self.snmpd_conf,
                            "-I", "-mta_sendmail", "-p", os.path.join(self.dir, "snmpd.pid")],
                           self.env)
        _wait(lambda: os.path.exists(self.socket) and
              self.get("1.3.6.1.2.1.1.3.0", timeout=1) is not None, READY_TIMEOUT,
              "snmpd start")

    def stop(self):
        for child in (self.snmpd, self.trapd):
            if child is not None:
                child.stop()

    def traps(self):
        try:
            with open(self.trap_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- clients

    def v2c(self):
        return ["-v2c", "-c", "public"]

    def v3(self, auth=V3_AUTH, priv=V3_PRIV):
        return ["-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA", "-A", auth, "-x", "AES",
                "-X", priv]

    def run(self, tool, args, oids, timeout=2, numeric=True):
        argv = [tool, *(args or self.v2c()), *(["-On"] if numeric else []), "-t", str(timeout),
                "-r", "1",
                f"udp:127.0.0.1:{self.port}", *oids]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=TOOL_TIMEOUT, env=self.env)
        return p.returncode, p.stdout, p.stderr

    def get(self, oid, args=None, timeout=2):
        """(type, value) of one OID, or None when there is no answer or no such object."""
        rc, out, _ = self.run("snmpget", args, [oid], timeout)
        if rc != 0:
            return None
        rows = parse(out)
        value = rows.get("." + oid.lstrip("."))
        if value is None or value[0] is None:
            return None
        return value

    def walk(self, oid, args=None):
        rc, out, err = self.run("snmpwalk", args, [oid])
        if rc != 0:
            raise AssertionError(f"snmpwalk {oid} exited {rc}: {err}")
        return parse(out)


def parse(output):
    """{".1.3...": (type or None, value)} of snmpget/snmpwalk -On output; STRING values are
    unquoted."""
    rows = {}
    for line in output.splitlines():
        m = _LINE_RE.match(line)
        if not m:
            continue
        oid, kind, value = m.groups()
        if kind == "STRING" and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        rows[oid] = (kind, value)
    return rows


# One varbind of an snmptrapd record (-On): "OID = TYPE: value" or 'OID = ""' (an empty string).
_VARBIND_RE = re.compile(r"(\.[0-9.]+) = (?:([A-Za-z0-9-]+): )?(.*)$")


def trap_varbinds(record):
    """[(oid, type or None, value)] of one snmptrapd log record, in order: snmptrapd writes a
    header, then the varbinds separated by tabs, on one line. STRING values are unquoted; an
    empty string has no type (snmptrapd prints `OID = ""`): it is returned as ("STRING", "")."""
    out = []
    for index, part in enumerate(record.split("\t")):
        m = (_VARBIND_RE.search if index == 0 else _VARBIND_RE.match)(part.strip())
        if not m:
            continue
        oid, kind, value = m.groups()
        value = value.strip()
        if kind is None and value == '""':
            kind, value = "STRING", '""'
        if kind == "STRING" and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out.append((oid, kind, value))
    return out


def wait_for(predicate, timeout, what):
    return _wait(predicate, timeout, what)
