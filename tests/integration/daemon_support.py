"""Shared helpers for the tlsgate daemon integration tests (stdlib only).

Every test gets a fresh temporary directory holding its configuration file and its state
directory; the daemon is started as a child process whose stderr (its log) is read line by line
in a thread, and waited on with bounded deadlines, never with fixed sleeps.

The binaries come from $TLSGATE and $CERTMGR (ctest sets them to the built targets); when unset,
the ones in <source>/build are used so that the file can also be run by hand.
"""

import atexit
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HOSTNAME = "mx.example.test"
EX_OK, EX_USAGE, EX_CONFIG = 0, 64, 78
RUN_TIMEOUT = 60        # one certmgr / check-config invocation
START_TIMEOUT = 30      # daemon start (includes making an RSA 2048 key)
EVENT_TIMEOUT = 10      # a store change showing up in the log (change_poll_ms = 100)
STOP_TIMEOUT = 5        # SIGTERM to exit

_SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _binary(variable, relative):
    path = os.path.abspath(os.environ.get(variable) or
                           os.path.join(_SOURCE_ROOT, "build", relative))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{variable}={path} is not an executable file (ctest sets it)")
    return path


def tlsgate_binary():
    return _binary("TLSGATE", os.path.join("gateway", "tlsgate"))


def certmgr_binary():
    return _binary("CERTMGR", os.path.join("certmgr", "certmgr"))


def free_loopback_port():
    """A port that was free a moment ago (bound to port 0 and closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tool(argv, cwd):
    """ARGV in `cwd`, without standard input, bounded by RUN_TIMEOUT: (exit status, stdout,
    stderr)."""
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def run_certmgr(store, cwd, *args):
    """certmgr --store STORE ARGS in `cwd`; raises AssertionError unless it exits 0; returns its
    stdout."""
    argv = [certmgr_binary(), "--store", store, *args]
    rc, out, err = run_tool(argv, cwd)
    if rc != 0:
        raise AssertionError(f"{' '.join(argv)} exited {rc}\n{out}\n{err}")
    return out


class Daemon:
    """One `tlsgate --config FILE run` child; its stderr lines are collected in `lines`."""

    def __init__(self, config, cwd):
        self.config = config
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        # umask 0: the modes the daemon gets must be the ones it asks for, not the umask's.
        self.proc = subprocess.Popen(
            [tlsgate_binary(), "--config", config, "run"],
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace", umask=0)
        self._reader = threading.Thread(target=self._read, name="tlsgate-stderr", daemon=True)
        self._reader.start()

    def _read(self):
        for line in iter(self.proc.stderr.readline, ""):
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, pattern, timeout, start=0):
        """(index, match) of the first line at or after `start` matching `pattern`, waiting at
        most `timeout` seconds; raises AssertionError with the log when there is none."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            checked = start
            while True:
                for i in range(checked, len(self.lines)):
                    m = regex.search(self.lines[i])
                    if m:
                        return i, m
                checked = max(checked, len(self.lines))
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    break
                self._cond.wait(remaining)
        why = "the daemon exited" if self._eof else f"{timeout} s passed"
        raise AssertionError(
            f"no log line matching /{pattern}/ (from line {start}); {why}; "
            f"exit status {self.proc.poll()}\n--- daemon log ---\n{self.log()}")

    def wait_started(self):
        return self.wait_for(r"Information tlsgate started ", START_TIMEOUT)

    def signal_and_wait(self, signo, timeout=STOP_TIMEOUT):
        """Sends `signo` and waits up to `timeout` s; returns (exit status or None, seconds)."""
        began = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - began
        elapsed = time.monotonic() - began
        self._reader.join(timeout=5)  # the rest of the log
        return rc, elapsed

    def stop(self):
        """SIGTERM, a bounded wait, then SIGKILL; always leaves no child behind."""
        if self.proc.poll() is None:
            rc, _ = self.signal_and_wait(signal.SIGTERM)
            if rc is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        # Closing while the reader still blocks in readline() would deadlock on the buffer's
        # lock (something else still holds the pipe open); the reader is a daemon thread then.
        if not self._reader.is_alive():
            self.proc.stderr.close()
        return self.proc.returncode


class DaemonTestCase(unittest.TestCase):
    """A temporary directory with a configuration file; daemons started here are stopped in
    tearDown."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tlsgate-it-")
        self.state = os.path.join(self.tmp, "state")
        self.store = os.path.join(self.state, "certs")
        self.port = free_loopback_port()
        self.config = self.write_config("tlsgate.conf")
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            daemon.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_config(self, name, extra_certificates=""):
        text = (
            "[gateway]\n"
            f"hostname = {HOSTNAME}\n"
            f"state_directory = {self.state}\n"
            "\n[receive]\n"
            f"listen = 127.0.0.1:{self.port}\n"
            "\n[certificates]\n"
            "change_poll_ms = 100\n"
            f"{extra_certificates}")
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def start_daemon(self, config=None):
        daemon = Daemon(config or self.config, self.tmp)
        self.daemons.append(daemon)
        return daemon

    def tlsgate(self, *args):
        return run_tool([tlsgate_binary(), *args], self.tmp)

    def certmgr(self, *args):
        """certmgr --store <state>/certs ARGS, which must succeed; returns its stdout."""
        return run_certmgr(self.store, self.tmp, *args)

    def certificates(self):
        return json.loads(self.certmgr("list", "--json"))


class GatewayHome:
    """A tlsgate daemon with its own configuration file and state directory under `tmp` (a new
    temporary directory when none is given, removed by close()). Subclasses write the
    configuration (write_config(), called before every start). start() runs the daemon on a free
    loopback port, keeping the port of an earlier start while it is free; kill() is a crash;
    close() stops every daemon started here."""

    PORT_TRIES = 5  # new ports tried when the daemon cannot listen on the chosen one

    def __init__(self, tmp=None, prefix="tlsgate-"):
        self.owns_tmp = tmp is None
        self.tmp = tmp if tmp is not None else tempfile.mkdtemp(prefix=prefix)
        self.state = os.path.join(self.tmp, "state")
        self.store = os.path.join(self.state, "certs")
        self.spool = os.path.join(self.state, "spool")
        self.config = os.path.join(self.tmp, "tlsgate.conf")
        self.port = None
        self.daemon = None
        self.daemons = []
        self.trusted_ca = None  # a function giving a CA file that certmgr adds before the start
        self._ca_added = False

    def write_config(self):
        raise NotImplementedError

    def run(self, *argv):
        """tlsgate ARGV in the directory: (exit status, stdout, stderr)."""
        return run_tool([tlsgate_binary(), *argv], self.tmp)

    def certmgr(self, *args):
        """certmgr --store STORE ARGS, which must succeed; returns its stdout."""
        return run_certmgr(self.store, self.tmp, *args)

    def start(self):
        """Starts the daemon and waits for "tlsgate started"; returns its Daemon."""
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        if self.trusted_ca is not None and not self._ca_added:
            self.certmgr("ca", "add", self.trusted_ca())
            self._ca_added = True
        last = None
        for attempt in range(self.PORT_TRIES):
            if self.port is None or attempt > 0:
                self.port = free_loopback_port()
            self.write_config()
            daemon = Daemon(self.config, self.tmp)
            self.daemons.append(daemon)
            try:
                daemon.wait_started()
            except AssertionError as e:
                daemon.stop()
                last = e
                if "cannot listen" in daemon.log():
                    continue  # the port was taken between choosing and binding it
                raise
            self.daemon = daemon
            return daemon
        raise last

    def stop(self):
        """SIGTERM and a bounded wait (SIGKILL after it); the exit status, None if not started."""
        return self.daemon.stop() if self.daemon is not None else None

    def kill(self):
        """SIGKILL, as a crash: no shutdown code runs."""
        proc = self.daemon.proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.daemon.stop()  # collects the log reader

    def close(self):
        for daemon in self.daemons:
            try:
                daemon.stop()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        if self.owns_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        """Every daemon's log, earlier runs first."""
        return "\n".join(d.log() for d in self.daemons)

    def wait_for(self, pattern, timeout=EVENT_TIMEOUT, start=0):
        return self.daemon.wait_for(pattern, timeout, start)


@functools.lru_cache(maxsize=None)
def _refused_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    atexit.register(s.close)
    return s


def refused_port():
    """A loopback port bound (so nobody else gets it) but never listening: connecting to it is
    refused, which the sending side takes as a temporary failure (a next hop that is down)."""
    return _refused_socket().getsockname()[1]
