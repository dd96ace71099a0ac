"""`certmgr generate`: self-signed certificates of every key type."""

import datetime
import unittest

from certmgr_cli import HOSTNAME, CertmgrTestCase, mentions

KEY_TYPES = [
    ("ecdsa", "EC P-256", 256),
    ("ecdsa-p384", "EC P-384", 384),
    ("rsa", "RSA 2048", 2048),
    ("rsa3072", "RSA 3072", 3072),
    ("rsa4096", "RSA 4096", 4096),
]


def iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


class GenerateTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.defaults = {c["key_type"]: c["id"] for c in self.init_store()}

    def generate(self, *args):
        before = self.cm.list_json()
        rc, out, err = self.cm.run("generate", *args)
        self.assertEqual(rc, 0, f"generate {args}:\n{out}\n{err}")
        added = self.new_entries(before, self.cm.list_json())
        self.assertEqual(len(added), 1, added)
        self.assertTrue(mentions(out, added[0]["id"]), f"generate did not print the id: {out!r}")
        return added[0], out

    def test_prints_generated_id(self):
        entry, out = self.generate("--name", "printed.example.test")
        self.assertIn(f"generated {entry['id']}", out)
        self.assertIn(entry["sha256_fingerprint"], out)

    def test_key_types(self):
        for arg, key_type, bits in KEY_TYPES:
            with self.subTest(key_type=arg):
                name = f"{arg}.example.test"
                entry, out = self.generate("--key-type", arg, "--name", name)
                self.assertEqual(entry["key_type"], key_type)
                self.assertEqual(entry["key_bits"], bits)
                self.assertEqual(entry["origin"], "generated")
                self.assertEqual(entry["roles"], [])
                self.assertEqual(entry["dns_names"], [name])
                self.assertIn(f"CN={name}", entry["subject"].split(","))
                self.assertEqual(entry["issuer"], entry["subject"])
                self.assertEqual(entry["chain_length"], 1)
                self.assertEqual(entry["status"], "valid")
                self.assertIn(entry["sha256_fingerprint"], out)
                certs, _ = self.export_chain(entry["id"])
                self.assertEqual(len(certs), 1)

    def test_days_and_names(self):
        names = ["a.example.test", "b.example.test", "c.example.test"]
        args = ["--days", "100"]
        for n in names:
            args += ["--name", n]
        entry, _ = self.generate(*args)
        self.assertEqual(entry["dns_names"], names)
        self.assertIn("CN=a.example.test", entry["subject"].split(","))
        self.assertIn(entry["days_left"], (99, 100))
        span = iso(entry["not_after"]) - iso(entry["not_before"])
        self.assertLessEqual(abs(span - datetime.timedelta(days=100)), datetime.timedelta(days=1))

    def test_activate_server(self):
        entry, _ = self.generate("--key-type", "ecdsa", "--name", HOSTNAME, "--activate")
        self.assertEqual(entry["roles"], ["server"])
        by_id = self.cm.by_id()
        self.assertEqual(by_id[self.defaults["EC P-256"]]["roles"], ["client"])
        self.assertEqual(by_id[self.defaults["RSA 2048"]]["roles"], ["server"])

    def test_activate_client(self):
        entry, _ = self.generate("--key-type", "rsa", "--name", "client.example.test",
                                 "--activate", "--role", "client")
        self.assertEqual(entry["roles"], ["client"])
        holders = [c["id"] for c in self.cm.list_json() if "client" in c["roles"]]
        self.assertEqual(holders, [entry["id"]])

    def test_unknown_key_type_is_refused(self):
        before = self.cm.snapshot()
        rc, out, err = self.cm.run("generate", "--key-type", "dsa", "--name", "x.example.test")
        self.assertIn(rc, (1, 64), f"{out}\n{err}")
        self.assertTrue(err.startswith("certmgr: ") or rc == 64, err)
        self.assertEqual(before, self.cm.snapshot())


if __name__ == "__main__":
    unittest.main()
