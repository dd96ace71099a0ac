"""Helpers of the SIEM integration tests: a test PKI (openssl CLI), rsyslog and librdkafka's mock
Kafka cluster run unprivileged in temporary directories, the siem_driver child, and parsers for
RFC 5424 (header + structured data), CEF and LEEF records. Every child is stopped by its owner."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time

SIEM_DRIVER = os.environ.get("SIEM_DRIVER", "")
KAFKA_MOCK = os.environ.get("KAFKA_MOCK", "")


def wait_for(condition, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(directory):
    """A test CA and a server certificate for localhost / 127.0.0.1; returns the file paths."""
    paths = {name: os.path.join(directory, name + ".pem") for name in ("ca", "ca-key", "server", "server-key", "other-ca", "other-ca-key")}

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    for ca, key, cn in (("ca", "ca-key", "SIEM Test CA"), ("other-ca", "other-ca-key", "Other CA")):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", paths[key], "-out", paths[ca], "-days", "2", "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = os.path.join(directory, "server.csr")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", paths["server-key"], "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", paths["ca"], "-CAkey", paths["ca-key"], "-CAcreateserial",
        "-out", paths["server"], "-days", "2", "-extfile", ext)
    return paths


class Rsyslog:
    """rsyslogd in `directory`, receiving on loopback (udp, tcp or tls) and writing each message's
    raw bytes (%rawmsg%) as one line of `out`."""

    def __init__(self, directory, mode, pki=None, port=0):
        self.directory = directory
        self.mode = mode
        self.pki = pki
        self.port = port if port else (free_udp_port() if mode == "udp" else 0)
        self.out = os.path.join(directory, "out")
        self.process = None

    def config(self):
        d = self.directory
        lines = ['global(workDirectory="%s" parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k"' % d]
        if self.mode == "tls":
            lines[0] += (' DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="%s"'
                         ' DefaultNetstreamDriverCertFile="%s" DefaultNetstreamDriverKeyFile="%s"'
                         % (self.pki["ca"], self.pki["server"], self.pki["server-key"]))
        lines[0] += ")"
        lines.append('template(name="raw" type="string" string="%rawmsg%\\n")')
        lines.append('ruleset(name="out") { action(type="omfile" file="%s" template="raw") }' % self.out)
        if self.mode == "udp":
            lines.append('module(load="imudp")')
            lines.append('input(type="imudp" address="127.0.0.1" port="%d" ruleset="out")' % self.port)
        else:
            if self.mode == "tls":
                lines.append('module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")')
            else:
                lines.append('module(load="imtcp")')
            lines.append('input(type="imtcp" address="127.0.0.1" port="%d" listenPortFileName="%s/port" ruleset="out")'
                         % (self.port, d))
        return "\n".join(lines) + "\n"

    def start(self):
        conf = os.path.join(self.directory, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        port_file = os.path.join(self.directory, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(os.path.join(self.directory, "rsyslog.log"), "ab")
        self.process = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(self.directory, "pid")],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        if self.mode == "udp":
            # imudp writes no port file: wait until the port is taken.
            def bound():
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.bind(("127.0.0.1", self.port))
                    return False
                except OSError:
                    return True
            if not wait_for(bound, 10):
                raise RuntimeError("rsyslog did not bind udp port %d" % self.port)
        elif self.port:
            # A fixed port (a restart): rsyslog writes no port file then; wait until it accepts.
            def listening():
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return True
                except OSError:
                    return False
            if not wait_for(listening, 10):
                raise RuntimeError("rsyslog did not listen on %d: %s" % (self.port, self.read_log()))
        else:
            def port():
                try:
                    with open(port_file) as f:
                        text = f.read().strip()
                    return int(text) if text else 0
                except (OSError, ValueError):
                    return 0
            got = wait_for(port, 10)
            if not got:
                raise RuntimeError("rsyslog did not start: " + self.read_log())
            self.port = got
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def read_log(self):
        try:
            with open(os.path.join(self.directory, "rsyslog.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def lines(self):
        try:
            with open(self.out, "rb") as f:
                return [line.decode("utf-8") for line in f.read().split(b"\n") if line]
        except OSError:
            return []

    def wait_lines(self, count, timeout=30):
        return wait_for(lambda: len(self.lines()) >= count, timeout) and self.lines()


class KafkaMock:
    """The kafka_mock helper: one mock broker; `down()` / `up()` for outages. The mock keeps only
    the last few MB of each partition: give a topic that must hold many records more partitions."""

    def __init__(self, *topics, partitions=1):
        args = [KAFKA_MOCK, "--partitions", str(partitions)]
        for topic in topics:
            args += ["--topic", topic]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.process.stdout.readline().strip()
        if not self.bootstrap:
            raise RuntimeError("kafka_mock printed no bootstrap address")

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def down(self):
        return self.command("down")

    def up(self):
        return self.command("up")

    def consume(self, topic, expected, timeout=30):
        """(key, value) pairs read back by kcat, an independent client."""
        def read():
            result = subprocess.run(["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-o", "beginning", "-e",
                                     "-q", "-f", "%k\\t%s\\n"], capture_output=True, timeout=60)
            records = []
            for line in result.stdout.decode("utf-8").split("\n"):
                if line:
                    key, _, value = line.partition("\t")
                    records.append((key, value))
            return records if len(records) >= expected else None
        return wait_for(read, timeout, 0.5) or read() or []

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait()
        self.process.stdout.close()
        if not self.process.stdin.closed:
            self.process.stdin.close()


class Driver:
    """siem_driver with the given --dest specs; commands answer one line, stats until '.'."""

    def __init__(self, *destinations, stop_ms=5000):
        args = [SIEM_DRIVER, "--stop-ms", str(stop_ms)]
        for d in destinations:
            args += ["--dest", d]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError("siem_driver did not start: %r" % ready)

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def stats(self):
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return self._read_stats()

    def _read_stats(self):
        rows = []
        for line in self.process.stdout:
            line = line.strip()
            if line == ".":
                break
            rows.append(json.loads(line))
        return rows

    def quit(self):
        if self.process.poll() is not None:
            return []
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        rows = self._read_stats()
        self.process.wait(30)
        return rows

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if not stream.closed:
                stream.close()


# ---- record parsers

HEADER = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


def parse_rfc5424(line):
    """{'pri', 'timestamp', 'hostname', 'app', 'procid', 'msgid', 'sd': {id: {name: value}}, 'msg'};
    raises ValueError when the line is not RFC 5424 with structured data."""
    m = HEADER.match(line)
    if not m:
        raise ValueError("not an RFC 5424 header: " + line[:80])
    record = dict(zip(("pri", "timestamp", "hostname", "app", "procid", "msgid"), m.groups()))
    record["pri"] = int(record["pri"])
    if not re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["timestamp"]):
        raise ValueError("bad timestamp " + record["timestamp"])
    i = m.end()
    sd = {}
    if line[i] == "-":
        i += 1
    while i < len(line) and line[i] == "[":
        j = i + 1
        while line[j] not in " ]":
            j += 1
        sd_id = line[i + 1:j]
        params = {}
        i = j
        while line[i] == " ":
            eq = line.index("=", i)
            name = line[i + 1:eq]
            if line[eq + 1] != '"':
                raise ValueError("SD-PARAM without quotes")
            k = eq + 2
            value = []
            while line[k] != '"':
                if line[k] == "\\" and line[k + 1] in '"\\]':
                    value.append(line[k + 1])
                    k += 2
                    continue
                if line[k] == "]":
                    raise ValueError("unescaped ] in SD-PARAM value")
                value.append(line[k])
                k += 1
            params[name] = "".join(value)
            i = k + 1
        if line[i] != "]":
            raise ValueError("SD-ELEMENT not closed at %d" % i)
        sd[sd_id] = params
        i += 1
    record["sd"] = sd
    record["msg"] = line[i + 1:] if i < len(line) else ""
    return record


def _split_unescaped(text, separator, limit):
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if c == separator and len(parts) < limit:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def parse_cef(text):
    """(header fields [version, vendor, product, version, signature, name, severity], {key: value})."""
    if not text.startswith("CEF:0|"):
        raise ValueError("not CEF: " + text[:40])
    parts = _split_unescaped(text, "|", 7)
    if len(parts) != 8:
        raise ValueError("CEF header has %d fields" % len(parts))
    header = parts[:7]
    # The extension is the raw text after the 7th unescaped '|'.
    count, i = 0, 0
    while count < 7:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "|":
            count += 1
        i += 1
    extension = text[i:]
    fields = {}
    keys = list(re.finditer(r"(?:^| )([A-Za-z0-9_]+)=", extension))
    for n, k in enumerate(keys):
        # A key starts after an unescaped space; '=' inside values is escaped, so any "key=" match
        # not preceded by a backslash is a key.
        end = keys[n + 1].start() if n + 1 < len(keys) else len(extension)
        raw = extension[k.end():end]
        value, j = [], 0
        while j < len(raw):
            if raw[j] == "\\" and j + 1 < len(raw):
                value.append({"n": "\n", "r": "\r"}.get(raw[j + 1], raw[j + 1]))
                j += 2
            else:
                value.append(raw[j])
                j += 1
        fields[k.group(1)] = "".join(value)
    return header, fields


def parse_leef(text):
    """(header [LEEF:2.0, vendor, product, version, event id], {key: value}) with tab delimiters."""
    if not text.startswith("LEEF:2.0|"):
        raise ValueError("not LEEF 2.0: " + text[:40])
    parts = text.split("|", 5)
    header, attributes = parts[:5], parts[5]
    fields = {}
    for pair in attributes.split("\t"):
        key, eq, value = pair.partition("=")
        if not eq:
            raise ValueError("LEEF attribute without '=': " + pair)
        fields[key] = value
    return header, fields


def session_order(records, key_of):
    """{session id: [actions in arrival order]} for the records carrying a session id."""
    sessions = {}
    for record in records:
        key, action = key_of(record)
        if key:
            sessions.setdefault(key, []).append(action)
    return sessions


SESSION_ACTIONS = ["connected", "handshake-succeeded", "message-accepted", "closed"]
HOSTILE = "CN=Evil|\"Corp\"=x ]\\ back\nslash\r\t\u00e9\u2713"


class TempDirectory:
    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="tlsgate-siem-")
        self.path = self._dir.name

    def sub(self, name):
        path = os.path.join(self.path, name)
        os.makedirs(path, exist_ok=True)
        return path

    def cleanup(self):
        self._dir.cleanup()
