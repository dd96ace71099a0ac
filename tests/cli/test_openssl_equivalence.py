"""What certmgr prints about a certificate equals what openssl prints about its export."""

import datetime
import json
import re
import unittest

from certmgr_cli import (HOSTNAME, CertmgrTestCase, TestPKI, openssl_facts, write_certs,
                         write_key)

COMPARED = ["sha256_fingerprint", "sha1_fingerprint", "serial", "not_before", "not_after",
            "spki_sha256", "subject", "issuer", "key_bits", "key_type", "signature_algorithm",
            "dns_names"]


def iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class OpensslEquivalenceTest(CertmgrTestCase):
    def export_to_file(self, ident):
        path = self.path("export-" + re.sub(r"[^A-Za-z0-9]", "_", ident) + ".pem")
        self.cm.run("export", ident, "--out", path, check_rc=0)
        return path

    def assert_matches_openssl(self, entry):
        ident = entry["id"]
        path = self.export_to_file(ident)
        facts = openssl_facts(path)
        _, out, _ = self.cm.run("show", ident, "--json", check_rc=0)
        shown = json.loads(out)
        self.assertEqual(shown, entry, "show --json differs from list --json")
        for key in COMPARED:
            with self.subTest(id=ident, key=key):
                self.assertEqual(shown[key], facts[key], f"{key}: certmgr vs openssl")
        left = (iso(facts["not_after"]) - datetime.datetime.now(datetime.timezone.utc)).days
        self.assertIn(shown["days_left"], (left, left + 1, left - 1))
        with open(path) as f:
            self.assertEqual(shown["chain_length"], f.read().count("BEGIN CERTIFICATE"))
        _, text, _ = self.cm.run("show", ident, check_rc=0)
        for key in COMPARED:
            values = facts[key] if isinstance(facts[key], list) else [str(facts[key])]
            for v in values:
                with self.subTest(id=ident, show_text=key):
                    self.assertIn(v, text, f"show {ident}: openssl's {key} {v!r} not in\n{text}")
        return facts

    def test_default_certificates(self):
        certs = self.init_store()
        for c in certs:
            facts = self.assert_matches_openssl(c)
            text = facts["text"]
            with self.subTest(properties=c["key_type"]):
                self.assertIn("CA:FALSE", text)
                self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication",
                              text)
                usage = re.search(r"X509v3 Key Usage:.*\n\s*(.*)\n", text).group(1)
                self.assertIn("Digital Signature", usage)
                if c["key_type"].startswith("RSA"):
                    self.assertIn("Key Encipherment", usage)
                else:
                    self.assertNotIn("Key Encipherment", usage)
                self.assertIn(f"DNS:{HOSTNAME}", text)
                self.assertIn(f"CN={HOSTNAME}", facts["subject"].split(","))
                serial = int(facts["serial"], 16)
                self.assertGreater(serial, 0)
                self.assertLess(serial, 2 ** 127)
                self.assertLessEqual(len(facts["serial"]), 32)
                self.assertGreater(serial, 2 ** 100, "serial is not 16 random bytes")
                span = iso(facts["not_after"]) - iso(facts["not_before"])
                self.assertLessEqual(abs(span - datetime.timedelta(days=825)),
                                     datetime.timedelta(days=1), span)
                self.assertEqual(c["key_type"], facts["key_type"])

    def test_imported_rsa_certificate(self):
        self.init_store()
        pki = TestPKI()
        cert, key = pki.leaf(key_kind="rsa2048", names=[HOSTNAME, "smtp.example.test"])
        self.cm.add_secret_key(key)
        entry, _, _ = self.import_ok(
            "--cert", write_certs(self.path("c.pem"), cert),
            "--key", write_key(self.path("k.pem"), key),
            "--chain", write_certs(self.path("ch.pem"), pki.intermediate.cert))
        facts = self.assert_matches_openssl(entry)
        self.assertEqual(facts["key_type"], "RSA 2048")
        self.assertEqual(entry["dns_names"], [HOSTNAME, "smtp.example.test"])
        self.assertNotEqual(entry["subject"], entry["issuer"])

    def test_generated_certificate(self):
        self.init_store()
        self.cm.run("generate", "--key-type", "ecdsa-p384", "--days", "90",
                    "--name", "gen.example.test", "--name", "alt.example.test", check_rc=0)
        entry = [c for c in self.cm.list_json() if c["origin"] == "generated"][0]
        facts = self.assert_matches_openssl(entry)
        self.assertEqual(facts["key_type"], "EC P-384")
        self.assertIn("CA:FALSE", facts["text"])


if __name__ == "__main__":
    unittest.main()
