"""`certmgr tlsa`: DANE 3 1 1 records that match openssl's SPKI digest."""

import unittest

from certmgr_cli import (HOSTNAME, CertmgrTestCase, TestPKI, openssl_facts, write_certs,
                         write_key)


class TlsaTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.certs = self.init_store()
        pki = TestPKI()
        cert, key = pki.leaf(key_kind="rsa2048")
        self.cm.add_secret_key(key)
        self.import_ok("--cert", write_certs(self.path("c.pem"), cert),
                       "--key", write_key(self.path("k.pem"), key),
                       "--chain", write_certs(self.path("ch.pem"), pki.intermediate.cert))
        self.certs = self.cm.list_json()

    def spki_hex(self, ident):
        _, pem = self.export_chain(ident)
        path = self.path(f"{ident}.pem".replace("/", "_"))
        with open(path, "w") as f:
            f.write(pem)
        return openssl_facts(path)["spki_sha256_hex"]

    def test_tlsa_matches_openssl(self):
        for c in self.certs:
            with self.subTest(key=c["key_type"], origin=c["origin"]):
                digest = self.spki_hex(c["id"])
                self.assertRegex(digest, r"^[0-9a-f]{64}$")
                _, out, _ = self.cm.run("tlsa", c["id"], "--hostname", "mail.example.test",
                                        check_rc=0)
                lines = [l for l in out.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, out)
                self.assertEqual(lines[0].split(),
                                 f"_25._tcp.mail.example.test. IN TLSA 3 1 1 {digest}".split())

    def test_tlsa_port(self):
        c = self.certs[0]
        digest = self.spki_hex(c["id"])
        _, out, _ = self.cm.run("tlsa", c["id"], "--port", "465", "--hostname", HOSTNAME,
                                check_rc=0)
        self.assertEqual(out.split(), f"_465._tcp.{HOSTNAME}. IN TLSA 3 1 1 {digest}".split())

    def test_tlsa_by_fingerprint_prefix_and_default_host(self):
        c = self.certs[-1]
        digest = self.spki_hex(c["id"])
        ref = c["sha256_fingerprint"][:14]
        _, out, _ = self.cm.run("tlsa", ref, check_rc=0)
        self.assertRegex(out.strip(), r"^_25\._tcp\.\S+\.\s+IN\s+TLSA\s+3\s+1\s+1\s+[0-9a-f]{64}$")
        self.assertTrue(out.strip().endswith(digest), out)

    def test_tlsa_unknown_ref(self):
        rc, out, err = self.cm.run("tlsa", "no-such-certificate")
        self.assertEqual(rc, 1)
        self.assert_one_error_line(err, "no certificate")


if __name__ == "__main__":
    unittest.main()
