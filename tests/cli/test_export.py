"""`certmgr export`: chain PEM leaf first; the key only into a new 0600 file."""

import os
import unittest

from certmgr_cli import (CertmgrTestCase, TestPKI, file_mode, load_private_key_block,
                         parse_pem_certs, same_public_key, write_certs, write_key, write_text)


class ExportTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.defaults = self.init_store()
        self.pki = TestPKI()
        self.leaf, self.key = self.pki.leaf()
        self.cm.add_secret_key(self.key)
        self.entry, _, _ = self.import_ok(
            "--cert", write_certs(self.path("c.pem"), self.leaf),
            "--key", write_key(self.path("k.pem"), self.key),
            "--chain", write_certs(self.path("ch.pem"), self.pki.intermediate.cert))

    def test_export_to_stdout_leaf_first(self):
        certs, out = self.export_chain(self.entry["id"])
        self.assertEqual(certs[:2], [self.leaf, self.pki.intermediate.cert])
        self.assertEqual(len(certs), self.entry["chain_length"])
        self.assertNotIn("PRIVATE KEY", out)

    def test_export_default_certificates(self):
        for c in self.defaults:
            with self.subTest(key=c["key_type"]):
                certs, _ = self.export_chain(c["id"])
                self.assertEqual(len(certs), 1)
                self.assertEqual(certs[0].subject, certs[0].issuer)

    def test_export_by_fingerprint_prefix(self):
        certs, _ = self.export_chain(self.entry["sha256_fingerprint"].replace(":", "")[:12])
        self.assertEqual(certs[0], self.leaf)

    def test_export_to_file(self):
        out_path = self.path("chain.pem")
        _, stdout, _ = self.cm.run("export", self.entry["id"], "--out", out_path, check_rc=0)
        self.assertNotIn("BEGIN CERTIFICATE", stdout)
        with open(out_path) as f:
            text = f.read()
        self.assertEqual(parse_pem_certs(text)[:2], [self.leaf, self.pki.intermediate.cert])
        self.assertNotIn("PRIVATE KEY", text)
        _, stdout_export = self.export_chain(self.entry["id"])
        self.assertEqual(parse_pem_certs(text), parse_pem_certs(stdout_export))

    def test_export_with_key_to_a_new_file(self):
        out_path = self.path("bundle.pem")
        self.cm.run("export", self.entry["id"], "--out", out_path, "--with-key", check_rc=0)
        self.assertEqual(file_mode(out_path), 0o600, oct(file_mode(out_path)))
        with open(out_path) as f:
            text = f.read()
        self.assertEqual(parse_pem_certs(text)[:2], [self.leaf, self.pki.intermediate.cert])
        self.assertIn("PRIVATE KEY", text)
        key = load_private_key_block(text)
        self.assertTrue(same_public_key(key.public_key(), self.leaf.public_key()),
                        "exported key does not belong to the certificate")

    def test_export_with_key_of_a_default_certificate(self):
        out_path = self.path("default.pem")
        ident = self.defaults[0]["id"]
        self.cm.run("export", ident, "--out", out_path, "--with-key", check_rc=0)
        self.assertEqual(file_mode(out_path), 0o600)
        with open(out_path) as f:
            text = f.read()
        key = load_private_key_block(text)
        cert = parse_pem_certs(text)[0]
        self.assertEqual(cert, self.export_chain(ident)[0][0])
        self.assertTrue(same_public_key(key.public_key(), cert.public_key()))

    def test_export_with_key_refuses_an_existing_file(self):
        out_path = write_text(self.path("exists.pem"), "keep me\n", 0o644)
        before = self.cm.snapshot()
        rc, out, err = self.cm.run("export", self.entry["id"], "--out", out_path, "--with-key")
        self.assertEqual(rc, 1, f"{out}\n{err}")
        self.assert_one_error_line(err)
        with open(out_path) as f:
            self.assertEqual(f.read(), "keep me\n")
        self.assertEqual(file_mode(out_path), 0o644)
        self.assertEqual(before, self.cm.snapshot())

    def test_with_key_needs_out(self):
        rc, out, err = self.cm.run("export", self.entry["id"], "--with-key")
        self.assertIn(rc, (1, 64), f"{out}\n{err}")
        self.assertNotIn("BEGIN CERTIFICATE", out)

    def test_export_unknown_ref(self):
        rc, out, err = self.cm.run("export", "no-such-certificate")
        self.assertEqual(rc, 1)
        self.assert_one_error_line(err, "no certificate")
        self.assertEqual(out, "")
        out_path = self.path("never.pem")
        rc, _, _ = self.cm.run("export", "no-such-certificate", "--out", out_path, "--with-key")
        self.assertEqual(rc, 1)
        self.assertFalse(os.path.exists(out_path))


if __name__ == "__main__":
    unittest.main()
