"""Killing `certmgr import` at a random moment leaves a consistent store: either the old set of
certificates or the old set plus the new one, every one of them exportable."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import unittest

from certmgr_cli import (CertmgrTestCase, TestPKI, sha256_fingerprint, write_certs, write_key)

ROUNDS = 20


class CrashSafetyTest(CertmgrTestCase):
    def leaf_args(self, pki, i):
        cert, key = pki.leaf()
        self.cm.add_secret_key(key)
        args = ["import",
                "--cert", write_certs(self.path(f"leaf{i}.pem"), cert),
                "--key", write_key(self.path(f"leaf{i}.key"), key),
                "--chain", write_certs(self.path(f"chain{i}.pem"), pki.intermediate.cert)]
        if i % 2:
            args.append("--activate")
        return sha256_fingerprint(cert), args

    def fingerprints(self):
        rc, out, err = self.cm.run("list", "--json", timeout=30)
        self.assertEqual(rc, 0, f"list --json after a kill: exit {rc}\n{out}\n{err}")
        return {c["sha256_fingerprint"]: c for c in json.loads(out)}

    def assert_all_export(self, certs):
        for fp, c in certs.items():
            certs_out, _ = self.export_chain(c["id"])
            self.assertEqual(sha256_fingerprint(certs_out[0]), fp,
                             f"export {c['id']} gives another certificate")

    def test_kill_during_import(self):
        self.init_store()
        pki = TestPKI()
        seed = int.from_bytes(os.urandom(4), "big")
        rng = random.Random(seed)

        # How long one import takes, process start to exit.
        _, args = self.leaf_args(pki, 0)
        t0 = time.monotonic()
        self.cm.run(*args, check_rc=0)
        duration = time.monotonic() - t0

        old = self.fingerprints()
        killed_mid_run = after_completion = 0
        for i in range(1, ROUNDS + 1):
            new_fp, args = self.leaf_args(pki, i)
            delay = rng.uniform(0, 1.2 * duration)
            p = subprocess.Popen(self.cm.command(*args), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(delay)
            p.kill()  # SIGKILL; nothing when it has already exited
            out, err = p.communicate(timeout=30)
            if p.returncode == -signal.SIGKILL:
                killed_mid_run += 1
            else:
                self.assertEqual(p.returncode, 0, f"round {i}: import failed: {err!r}")
                after_completion += 1
            now = self.fingerprints()
            with self.subTest(round=i, delay=delay, killed=p.returncode != 0):
                if p.returncode == 0:
                    self.assertEqual(set(now), set(old) | {new_fp},
                                     "a completed import is not in the store")
                else:
                    self.assertIn(set(now), (set(old), set(old) | {new_fp}),
                                  "the store holds neither the old set nor the old set plus "
                                  "the new certificate")
                self.assert_all_export(now)
                servers = [c for c in now.values() if "server" in c["roles"]]
                self.assertTrue(servers, "no active server certificate left")
            old = now
        print(f"\ncrash safety (seed {seed}): one import took {duration * 1000:.0f} ms; "
              f"{killed_mid_run} of {ROUNDS} rounds killed mid-run, {after_completion} after "
              f"completion", file=sys.stderr)
        # A final write still works: the store is not left locked.
        _, args = self.leaf_args(pki, ROUNDS + 1)
        self.cm.run(*args, check_rc=0, timeout=30)


if __name__ == "__main__":
    unittest.main()
