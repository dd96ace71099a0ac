"""`certmgr ca add|list|remove` and the "trusted root" import warning."""

import json
import unittest

from certmgr_cli import (ISO_RE, CertmgrTestCase, TestPKI, mentions, openssl_facts,
                         sha256_fingerprint, write_certs, write_key)

CA_KEYS = {"id", "subject", "sha256_fingerprint", "not_after"}


class CaTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.init_store()
        self.pki = TestPKI()
        self.root_path = write_certs(self.path("root.pem"), self.pki.root.cert)

    def ca_list(self):
        _, out, _ = self.cm.run("ca", "list", "--json", check_rc=0)
        data = json.loads(out)
        self.assertIsInstance(data, list)
        return data

    def import_leaf(self, name):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        return self.import_ok(
            "--cert", write_certs(self.path(f"{name}.pem"), cert),
            "--key", write_key(self.path(f"{name}.key"), key),
            "--chain", write_certs(self.path(f"{name}-chain.pem"), self.pki.intermediate.cert))

    def test_ca_add_list_remove(self):
        certs_before = self.cm.list_json()
        self.assertEqual(self.ca_list(), [])
        self.cm.run("ca", "add", self.root_path, check_rc=0)
        cas = self.ca_list()
        self.assertEqual(len(cas), 1, cas)
        ca = cas[0]
        self.assertEqual(set(ca), CA_KEYS)
        facts = openssl_facts(self.root_path)
        self.assertEqual(ca["sha256_fingerprint"], facts["sha256_fingerprint"])
        self.assertEqual(ca["sha256_fingerprint"], sha256_fingerprint(self.pki.root.cert))
        self.assertEqual(ca["subject"], facts["subject"])
        self.assertEqual(ca["not_after"], facts["not_after"])
        self.assertRegex(ca["not_after"], ISO_RE)
        self.assertIsInstance(ca["id"], str)
        _, out, _ = self.cm.run("ca", "list", check_rc=0)
        self.assertTrue(mentions(out, ca["id"]), out)
        self.assertEqual(self.cm.list_json(), certs_before, "ca add changed the certificates")
        self.cm.run("ca", "remove", ca["id"], check_rc=0)
        self.assertEqual(self.ca_list(), [])

    def test_ca_remove_by_fingerprint_prefix(self):
        self.cm.run("ca", "add", self.root_path, check_rc=0)
        fp = sha256_fingerprint(self.pki.root.cert)
        self.cm.run("ca", "remove", fp.replace(":", "")[:12].lower(), check_rc=0)
        self.assertEqual(self.ca_list(), [])

    def test_ca_remove_unknown(self):
        self.cm.run("ca", "add", self.root_path, check_rc=0)
        self.assert_refused(("ca", "remove", "no-such-ca"))
        self.assertEqual(len(self.ca_list()), 1)

    def test_untrusted_chain_warns(self):
        _, _, err = self.import_leaf("untrusted")
        self.assertTrue(any("trusted root" in w for w in self.warnings(err)),
                        f"no 'trusted root' warning in {err!r}")

    def test_trusted_chain_does_not_warn(self):
        self.cm.run("ca", "add", self.root_path, check_rc=0)
        _, _, err = self.import_leaf("trusted")
        self.assertFalse(any("trusted root" in w for w in self.warnings(err)),
                         f"'trusted root' warning although the root was added: {err!r}")

    def test_warning_returns_after_ca_remove(self):
        self.cm.run("ca", "add", self.root_path, check_rc=0)
        self.cm.run("ca", "remove", self.ca_list()[0]["id"], check_rc=0)
        _, _, err = self.import_leaf("removed")
        self.assertTrue(any("trusted root" in w for w in self.warnings(err)), err)


if __name__ == "__main__":
    unittest.main()
