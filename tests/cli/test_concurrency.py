"""Parallel certmgr processes are serialized by the store's lock: nothing is lost."""

import subprocess
import unittest

from certmgr_cli import RUN_TIMEOUT, CertmgrTestCase


class ConcurrencyTest(CertmgrTestCase):
    def parallel(self, argv_list):
        procs = [subprocess.Popen(self.cm.command(*argv), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for argv in argv_list]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=RUN_TIMEOUT)
            self.cm.check_no_key_material(p.args, out, err)
            results.append((p.returncode, out, err))
        return results

    def test_four_parallel_generates(self):
        self.init_store()
        names = [f"gen{i}.example.test" for i in range(4)]
        types = ["ecdsa", "rsa", "ecdsa-p384", "ecdsa"]
        results = self.parallel([["generate", "--key-type", t, "--name", n]
                                 for t, n in zip(types, names)])
        for (rc, out, err), n in zip(results, names):
            self.assertEqual(rc, 0, f"generate {n}: {out}\n{err}")
        certs = self.cm.list_json()
        self.assertEqual(len(certs), 6, [c["dns_names"] for c in certs])
        for n in names:
            matching = [c for c in certs if c["dns_names"] == [n]]
            self.assertEqual(len(matching), 1, f"{n}: {len(matching)} certificates")
            self.assertEqual(matching[0]["origin"], "generated")
        self.assertEqual(len({c["id"] for c in certs}), 6)
        for c in certs:
            _, out, _ = self.cm.run("export", c["id"], check_rc=0)
            self.assertIn("BEGIN CERTIFICATE", out)

    def test_four_parallel_activating_generates(self):
        # One name: each activation replaces the previous holder of that name and key type, so
        # exactly one stays active whatever the interleaving (the store is serialized).
        self.init_store()
        results = self.parallel([["generate", "--key-type", "ecdsa", "--name",
                                  "shared.example.test", "--activate"] for _ in range(4)])
        for rc, out, err in results:
            self.assertEqual(rc, 0, f"{out}\n{err}")
        certs = self.cm.list_json()
        self.assertEqual(len(certs), 6)
        ec_servers = [c for c in certs if c["key_type"] == "EC P-256" and "server" in c["roles"]]
        rsa_servers = [c for c in certs if c["key_type"] == "RSA 2048" and "server" in c["roles"]]
        self.assertEqual(len(ec_servers), 1, "not exactly one active EC P-256 server certificate")
        self.assertEqual(ec_servers[0]["dns_names"], ["shared.example.test"])
        self.assertEqual(len(rsa_servers), 1)

    def test_parallel_activations_for_different_names_all_serve(self):
        # Different names: all stay active side by side (SNI picks); the EC default is superseded.
        self.init_store()
        names = [f"act{i}.example.test" for i in range(4)]
        results = self.parallel([["generate", "--key-type", "ecdsa", "--name", n, "--activate"]
                                 for n in names])
        for rc, out, err in results:
            self.assertEqual(rc, 0, f"{out}\n{err}")
        certs = self.cm.list_json()
        ec_servers = [c for c in certs if c["key_type"] == "EC P-256" and "server" in c["roles"]]
        self.assertEqual(sorted(c["dns_names"][0] for c in ec_servers), names)
        self.assertFalse(any(c["origin"] == "default" for c in ec_servers))
