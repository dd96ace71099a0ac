"""`certmgr init`: the default certificates."""

import unittest

from certmgr_cli import FP_RE, HOSTNAME, ISO_RE, LIST_KEYS, CertmgrTestCase, mentions


class InitTest(CertmgrTestCase):
    def test_init_creates_the_default_certificates(self):
        rc, out, err = self.cm.run("init", "--hostname", HOSTNAME)
        self.assertEqual(rc, 0, err)
        certs = self.cm.list_json()
        self.assertEqual(len(certs), 2, certs)
        by_key = {c["key_type"]: c for c in certs}
        self.assertEqual(set(by_key), {"EC P-256", "RSA 2048"})
        ec, rsa = by_key["EC P-256"], by_key["RSA 2048"]
        self.assertEqual(sorted(ec["roles"]), ["client", "server"])
        self.assertEqual(rsa["roles"], ["server"])
        self.assertEqual(ec["key_bits"], 256)
        self.assertEqual(rsa["key_bits"], 2048)
        for c in certs:
            with self.subTest(key=c["key_type"]):
                self.assertLessEqual(LIST_KEYS, set(c), "keys missing")
                self.assertIsInstance(c["id"], str)
                self.assertEqual(c["origin"], "default")
                self.assertEqual(c["status"], "valid")
                self.assertEqual(c["dns_names"], [HOSTNAME])
                self.assertIn(f"CN={HOSTNAME}", c["subject"].split(","))
                self.assertEqual(c["issuer"], c["subject"])
                self.assertIn(c["days_left"], (824, 825))
                self.assertEqual(c["chain_length"], 1)
                self.assertRegex(c["not_before"], ISO_RE)
                self.assertRegex(c["not_after"], ISO_RE)
                self.assertRegex(c["serial"], r"^[0-9A-F]+$")
                self.assertRegex(c["sha256_fingerprint"], FP_RE)
                self.assertEqual(len(c["sha256_fingerprint"]), 95)
                self.assertEqual(len(c["sha1_fingerprint"]), 59)
                self.assertRegex(c["spki_sha256"], r"^[A-Za-z0-9+/]{43}=$")
                # one printed line per certificate: id, key, subject, fingerprint
                lines = [l for l in out.splitlines()
                         if mentions(l, c["id"]) and c["sha256_fingerprint"] in l]
                self.assertEqual(len(lines), 1, f"no line for {c['id']} in {out!r}")
                self.assertIn(c["key_type"], lines[0])
                self.assertIn(c["subject"], lines[0])
        self.assertIn("sha256WithRSAEncryption", rsa["signature_algorithm"])
        self.assertEqual(ec["signature_algorithm"], "ecdsa-with-SHA256")

    def test_init_twice_does_nothing(self):
        first = self.init_store()
        before = self.cm.snapshot()
        rc, out, err = self.cm.run("init", "--hostname", "other.example.test")
        self.assertEqual(rc, 0, err)
        self.assertTrue((out + err).strip(), "second init printed nothing")
        for c in first:
            self.assertNotIn(c["sha256_fingerprint"], out)
        self.assertNotRegex(out, r"([0-9A-F]{2}:){31}[0-9A-F]{2}", "second init printed a new "
                                                                  "fingerprint")
        self.assertEqual(before, self.cm.snapshot())

    def test_init_does_nothing_when_a_generated_server_certificate_is_active(self):
        # A store whose only active server certificate is a generated one, not a default.
        rc, out, err = self.cm.run("generate", "--key-type", "ecdsa", "--name", HOSTNAME,
                                   "--activate", "--role", "server")
        self.assertEqual(rc, 0, f"{out}\n{err}")
        before = self.cm.snapshot()
        rc, out, err = self.cm.run("init", "--hostname", HOSTNAME)
        self.assertEqual(rc, 0, err)
        self.assertEqual(before, self.cm.snapshot(), "init created certificates although a "
                                                     "server certificate was active")

    def test_default_serial_is_random_positive_16_bytes(self):
        certs = self.init_store()
        serials = [c["serial"] for c in certs]
        self.assertNotEqual(serials[0], serials[1])
        for s in serials:
            v = int(s, 16)
            self.assertGreater(v, 0)
            self.assertLess(v, 2 ** 127, f"serial {s}: top bit set")
            self.assertGreaterEqual(v, 2 ** 100, f"serial {s}: not 16 random bytes")


if __name__ == "__main__":
    unittest.main()
