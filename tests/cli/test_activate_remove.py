"""`certmgr activate` and `certmgr remove`."""

import unittest

from certmgr_cli import (CLIENT_AUTH, SERVER_AUTH, CertmgrTestCase, TestPKI, write_certs,
                         write_key)


class ActivateRemoveTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        defaults = self.init_store()
        self.default = {c["key_type"]: c["id"] for c in defaults}
        self.pki = TestPKI()

    def import_leaf(self, *extra, name="leaf", **kw):
        cert, key = self.pki.leaf(**kw)
        self.cm.add_secret_key(key)
        entry, _, _ = self.import_ok(
            "--cert", write_certs(self.path(f"{name}.pem"), cert),
            "--key", write_key(self.path(f"{name}.key"), key),
            "--chain", write_certs(self.path(f"{name}-chain.pem"), self.pki.intermediate.cert),
            *extra)
        return entry

    def roles(self):
        return {i: sorted(c["roles"]) for i, c in self.cm.by_id().items()}

    def test_activate_server_replaces_the_same_key_type_only(self):
        entry = self.import_leaf()
        self.assertEqual(entry["roles"], [])
        self.cm.run("activate", entry["id"], "--role", "server", check_rc=0)
        roles = self.roles()
        self.assertEqual(roles[entry["id"]], ["server"])
        self.assertEqual(roles[self.default["EC P-256"]], ["client"])
        self.assertEqual(roles[self.default["RSA 2048"]], ["server"])

    def test_activate_rsa_leaves_the_ecdsa_server_certificate(self):
        entry = self.import_leaf(key_kind="rsa2048")
        self.cm.run("activate", entry["id"], "--role", "server", check_rc=0)
        roles = self.roles()
        self.assertEqual(roles[entry["id"]], ["server"])
        self.assertEqual(roles[self.default["EC P-256"]], ["client", "server"])
        self.assertEqual(roles[self.default["RSA 2048"]], [])

    def test_client_role_has_one_holder(self):
        first = self.import_leaf(key_kind="rsa2048", name="a")
        second = self.import_leaf(name="b")
        self.cm.run("activate", first["id"], "--role", "client", check_rc=0)
        roles = self.roles()
        self.assertEqual(roles[first["id"]], ["client"])
        self.assertEqual(roles[self.default["EC P-256"]], ["server"])
        self.cm.run("activate", second["id"], "--role", "client", check_rc=0)
        holders = [i for i, r in self.roles().items() if "client" in r]
        self.assertEqual(holders, [second["id"]])

    def test_activate_by_fingerprint_prefix(self):
        entry = self.import_leaf()
        ref = entry["sha256_fingerprint"].replace(":", "")[:16].lower()
        self.cm.run("activate", ref, "--role", "server", check_rc=0)
        self.assertEqual(self.roles()[entry["id"]], ["server"])

    def test_activate_refuses_a_role_the_eku_excludes(self):
        client_only = self.import_leaf("--role", "client", eku=(CLIENT_AUTH,), name="c")
        self.assert_refused(("activate", client_only["id"], "--role", "server"))
        server_only = self.import_leaf(eku=(SERVER_AUTH,), name="s")
        self.assert_refused(("activate", server_only["id"], "--role", "client"))
        # the role it allows still works
        self.cm.run("activate", client_only["id"], "--role", "client", check_rc=0)
        self.assertEqual(self.roles()[client_only["id"]], ["client"])

    def test_activate_unknown_ref(self):
        self.assert_refused(("activate", "no-such-certificate", "--role", "server"),
                            "no certificate")

    def test_remove(self):
        entry = self.import_leaf()
        before = self.cm.by_id()
        rc, out, err = self.cm.run("remove", entry["id"])
        self.assertEqual(rc, 0, err)
        after = self.cm.by_id()
        self.assertNotIn(entry["id"], after)
        del before[entry["id"]]
        self.assertEqual(after, before)
        rc, _, err = self.cm.run("show", entry["id"])
        self.assertEqual(rc, 1, err)

    def test_remove_by_fingerprint_prefix(self):
        entry = self.import_leaf()
        self.cm.run("remove", entry["sha256_fingerprint"][:17], check_rc=0)
        self.assertNotIn(entry["id"], self.cm.by_id())

    def test_remove_refuses_the_last_active_server_certificate(self):
        self.cm.run("remove", self.default["RSA 2048"], check_rc=0)
        self.assert_refused(("remove", self.default["EC P-256"]),
                            "last active server certificate")
        self.assertIn(self.default["EC P-256"], self.cm.by_id())

    def test_remove_active_server_certificate_when_another_remains(self):
        entry = self.import_leaf("--activate")
        self.cm.run("remove", entry["id"], check_rc=0)
        self.assertNotIn(entry["id"], self.cm.by_id())

    def test_remove_unknown_ref(self):
        self.assert_refused(("remove", "no-such-certificate"), "no certificate")


if __name__ == "__main__":
    unittest.main()
