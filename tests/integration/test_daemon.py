"""Integration tests of the `tlsgate` daemon binary: configuration check, first start, live
certificate store changes made with the certmgr CLI, shutdown on signals, usage errors.

Run by ctest as `integration.daemon` (TLSGATE and CERTMGR point at the built binaries).
"""

import os
import re
import signal
import stat
import unittest

from daemon_support import (EVENT_TIMEOUT, EX_CONFIG, EX_OK, EX_USAGE, HOSTNAME, STOP_TIMEOUT,
                            DaemonTestCase)

FP = r"[0-9A-F]{2}(?::[0-9A-F]{2}){31}"
CREATED_RE = re.compile(
    r'Information certificate created id=(\S+) key="([^"]*)" subject="([^"]*)" sha256=(' + FP +
    r')')


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def event_re(kind, cert_id, extra=""):
    return rf"certificate event={kind} id={re.escape(str(cert_id))} .*{extra}"


class CheckConfigTest(DaemonTestCase):
    def test_good_file_is_ok(self):
        rc, out, err = self.tlsgate("check-config", self.config)
        self.assertEqual(rc, EX_OK, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"{self.config}: configuration OK", out)
        self.assertIn(f"127.0.0.1:{self.port}", out)
        self.assertIn(f"hostname {HOSTNAME}", out)
        # The same through --config.
        rc, out, err = self.tlsgate("--config", self.config, "check-config")
        self.assertEqual(rc, EX_OK, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"{self.config}: configuration OK", out)
        self.assertFalse(os.path.exists(self.state), "check-config created the state directory")

    def test_bad_value_is_refused_and_nothing_starts(self):
        bad = self.write_config("bad.conf", "validity_days = abc\n")
        for argv in (("check-config", bad), ("--config", bad, "check-config"),
                     ("--config", bad, "run")):
            with self.subTest(argv=argv):
                rc, out, err = self.tlsgate(*argv)
                self.assertEqual(rc, EX_CONFIG, f"tlsgate {argv}\nstdout:\n{out}\nstderr:\n{err}")
                self.assertNotIn("configuration OK", out)
                self.assertIn(bad, err, "the message does not name the file")
                self.assertIn("certificates.validity_days", err, "... nor the key")
                self.assertRegex(err, r"= abc\b", "... nor the value")
                self.assertNotIn("tlsgate started", err)
                self.assertFalse(os.path.exists(self.state),
                                 f"tlsgate {argv} created the state directory")


class FirstStartTest(DaemonTestCase):
    def test_default_certificates_are_created_once(self):
        daemon = self.start_daemon()
        started, _ = daemon.wait_started()
        lines = daemon.snapshot()
        created = [m for m in map(CREATED_RE.search, lines[:started]) if m]
        self.assertEqual(sorted(m.group(2) for m in created), ["EC P-256", "RSA 2048"],
                         daemon.log())
        for m in created:
            self.assertEqual(m.group(3), f"CN={HOSTNAME}", daemon.log())
        self.assertRegex(lines[started], rf"hostname={re.escape(HOSTNAME)} "
                                         rf"store={re.escape(self.store)}\b")

        certs = self.certificates()
        self.assertEqual(len(certs), 2, certs)
        by_key = {c["key_type"]: c for c in certs}
        self.assertEqual(sorted(by_key), ["EC P-256", "RSA 2048"], certs)
        for c in certs:
            self.assertEqual(c["subject"], f"CN={HOSTNAME}", c)
            self.assertIn("server", c["roles"], f"{c['key_type']} is not active as server")
            self.assertIn(HOSTNAME, c["dns_names"], c)
        logged = {m.group(1): m.group(4) for m in created}
        listed = {c["id"]: c["sha256_fingerprint"] for c in certs}
        self.assertEqual(logged, listed, "the log and the store disagree on ids/fingerprints")

        # Modes (the daemon runs with umask 0, so these are what it asked for).
        self.assertEqual(mode_of(self.state), 0o700, "state directory")
        self.assertEqual(mode_of(self.store), 0o700, "store directory")
        keys = []
        for root, _, files in os.walk(self.store):
            keys += [os.path.join(root, f) for f in files if f.endswith(".key")]
        self.assertGreaterEqual(len(keys), 2, f"no key files found under {self.store}")
        for key in keys:
            self.assertEqual(mode_of(key), 0o600, key)
            self.assertEqual(mode_of(os.path.dirname(key)) & 0o077, 0, os.path.dirname(key))

        rc, _ = daemon.signal_and_wait(signal.SIGTERM)
        self.assertEqual(rc, EX_OK, daemon.log())

        # Second start: nothing new.
        again = self.start_daemon()
        started, _ = again.wait_started()
        self.assertEqual([l for l in again.snapshot()[:started] if "certificate created" in l],
                         [], again.log())
        self.assertEqual({c["id"]: c["sha256_fingerprint"] for c in self.certificates()}, listed)


class LiveChangeTest(DaemonTestCase):
    def test_cli_changes_are_logged_once(self):
        daemon = self.start_daemon()
        daemon.wait_started()
        certs = self.certificates()
        rsa = [c["id"] for c in certs if c["key_type"] == "RSA 2048"]
        self.assertEqual(len(rsa), 1, certs)
        rsa_id = rsa[0]
        # The first start's own journal (created/activated) is published first; wait for it
        # so that it cannot be mistaken for what follows.
        daemon.wait_for(event_re("activated", rsa_id, "role=server"), EVENT_TIMEOUT)
        mark = len(daemon.snapshot())

        self.certmgr("generate", "--name", "other.example.test", "--activate")
        new = [c for c in self.certificates() if c["subject"] == "CN=other.example.test"]
        self.assertEqual(len(new), 1, new)
        new_id = new[0]["id"]
        self.assertIn("server", new[0]["roles"], new[0])
        self.certmgr("remove", rsa_id)

        expected = [event_re("generated", new_id), event_re("activated", new_id, "role=server"),
                    event_re("removed", rsa_id), r"Information certificate store changed$"]
        for pattern in expected:
            daemon.wait_for(pattern, EVENT_TIMEOUT, start=mark)
        generated, _ = daemon.wait_for(event_re("generated", new_id), 0, start=mark)
        removed, _ = daemon.wait_for(event_re("removed", rsa_id), 0, start=mark)
        self.assertLess(generated, removed, "events out of journal order\n" + daemon.log())
        fingerprint = new[0]["sha256_fingerprint"]
        self.assertIn(f"sha256={fingerprint}", daemon.lines[generated])
        self.assertIn('subject="CN=other.example.test"', daemon.lines[generated])

        rc, _ = daemon.signal_and_wait(signal.SIGTERM)
        self.assertEqual(rc, EX_OK, daemon.log())

        # Restart: the journal was marked published, so none of it is logged again. A fresh
        # change made now is logged after whatever the restart replays, which bounds the wait.
        again = self.start_daemon()
        again.wait_started()
        self.certmgr("generate", "--name", "third.example.test")
        third = [c["id"] for c in self.certificates() if c["subject"] == "CN=third.example.test"]
        self.assertEqual(len(third), 1)
        sync, _ = again.wait_for(event_re("generated", third[0]), EVENT_TIMEOUT)
        replayed = [l for l in again.snapshot()[:sync] if "certificate event=" in l]
        self.assertEqual(replayed, [], "events logged again after a restart\n" + again.log())


class SignalTest(DaemonTestCase):
    def assert_clean_stop(self, signo):
        daemon = self.start_daemon()
        daemon.wait_started()
        rc, elapsed = daemon.signal_and_wait(signo, STOP_TIMEOUT)
        self.assertIsNotNone(rc, f"still running {STOP_TIMEOUT} s after {signo.name}\n"
                             + daemon.log())
        self.assertEqual(rc, EX_OK, f"{signo.name}: exit status {rc}\n" + daemon.log())
        daemon.wait_for(r"Information tlsgate stopped$", 0)
        return elapsed

    def test_sigterm_stops_cleanly(self):
        self.assert_clean_stop(signal.SIGTERM)

    def test_sigint_and_sigquit_stop_cleanly(self):
        for signo in (signal.SIGINT, signal.SIGQUIT):
            with self.subTest(signal=signo.name):
                self.assert_clean_stop(signo)


class UsageTest(DaemonTestCase):
    def test_unknown_command(self):
        rc, out, err = self.tlsgate("--config", self.config, "frobnicate")
        self.assertEqual(rc, EX_USAGE, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn("frobnicate", err)
        self.assertFalse(os.path.exists(self.state), "a usage error created the state directory")

    def test_too_many_arguments_and_unknown_option(self):
        for argv in (("--config", self.config, "run", "extra"), ("--no-such-option",),
                     ("check-config", self.config, "extra")):
            with self.subTest(argv=argv):
                rc, out, err = self.tlsgate(*argv)
                self.assertEqual(rc, EX_USAGE, f"stdout:\n{out}\nstderr:\n{err}")
                self.assertTrue(err.strip(), "exit 64 with nothing on stderr")
        self.assertFalse(os.path.exists(self.state), "a usage error created the state directory")


if __name__ == "__main__":
    unittest.main()
