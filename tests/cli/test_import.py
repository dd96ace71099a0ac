"""`certmgr import`: PEM and PKCS#12 material, passwords, warnings, and every refusal (exit 1, one
"certmgr: FILE: reason" line, store unchanged)."""

import datetime
import tempfile
import unittest

from certmgr_cli import (CLIENT_AUTH, PASSWORD, CertmgrTestCase, TestPKI, cert_pem, key_pem,
                         make_ca, make_key, make_leaf, now, openssl_serial, parse_pem_certs,
                         sha256_fingerprint, write_certs, write_key, write_legacy_p12, write_p12,
                         write_text)

PASSWORD_ALTS = ("password", "decrypt")


class ImportTestBase(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.init_store()
        self.pki = TestPKI()

    def leaf_files(self, prefix="leaf", **kw):
        """Writes a leaf issued by the test intermediate: (cert, key, cert_path, key_path,
        chain_path)."""
        cert, key = self.pki.leaf(**kw)
        self.cm.add_secret_key(key)
        c = write_certs(self.path(f"{prefix}.pem"), cert)
        k = write_key(self.path(f"{prefix}.key"), key)
        ch = write_certs(self.path(f"{prefix}-chain.pem"), self.pki.intermediate.cert)
        return cert, key, c, k, ch

    def password_file(self, password=PASSWORD):
        return write_text(self.path("password.txt"), password + "\n", 0o600)


class ImportAcceptedTest(ImportTestBase):
    def test_import_pem_cert_key_chain(self):
        cert, _, c, k, ch = self.leaf_files()
        entry, out, err = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        fp = sha256_fingerprint(cert)
        self.assertEqual(entry["sha256_fingerprint"], fp)
        self.assertIn(fp, out)
        self.assertIn(entry["subject"], out)
        self.assertEqual(entry["origin"], "imported")
        self.assertEqual(entry["roles"], [])
        self.assertEqual(entry["chain_length"], 2)
        self.assertEqual(entry["key_type"], "EC P-256")
        self.assertEqual(entry["status"], "valid")
        self.assertEqual(entry["serial"], openssl_serial(cert))
        for line in self.warnings(err):
            self.assertNotIn("subjectaltname", line.lower(),
                             "host-name warning although the SAN holds the host name")
            self.assertNotIn("expires in", line)
        chain, _ = self.export_chain(entry["id"])
        self.assertEqual(chain[0], cert)
        self.assertEqual(chain[1], self.pki.intermediate.cert)

    def test_import_prints_imported_id(self):
        _, _, c, k, ch = self.leaf_files()
        entry, out, _ = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        self.assertIn(f"imported {entry['id']}", out)

    def test_import_activate_takes_the_server_role_from_the_same_key_type(self):
        before = {c["key_type"]: c for c in self.cm.list_json()}
        _, _, c, k, ch = self.leaf_files()
        entry, _, _ = self.import_ok("--cert", c, "--key", k, "--chain", ch, "--activate")
        self.assertEqual(entry["roles"], ["server"])
        now_by_id = self.cm.by_id()
        self.assertEqual(now_by_id[before["EC P-256"]["id"]]["roles"], ["client"])
        self.assertEqual(now_by_id[before["RSA 2048"]["id"]]["roles"], ["server"])

    def test_import_rsa_leaf(self):
        cert, _, c, k, ch = self.leaf_files(key_kind="rsa2048")
        entry, _, _ = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        self.assertEqual(entry["key_type"], "RSA 2048")
        self.assertEqual(entry["key_bits"], 2048)

    def test_import_key_inside_the_cert_file(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        combined = write_text(self.path("combined.pem"),
                              cert_pem(cert) + cert_pem(self.pki.intermediate.cert) + key_pem(key),
                              0o600)
        entry, _, _ = self.import_ok("--cert", combined)
        self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))
        self.assertEqual(entry["chain_length"], 2)

    def test_import_encrypted_key_with_password_file(self):
        for traditional in (False, True):
            with self.subTest(traditional_pem=traditional):
                cert, key = self.pki.leaf()
                self.cm.add_secret_key(key)
                c = write_certs(self.path(f"c{traditional}.pem"), cert)
                k = write_key(self.path(f"k{traditional}.pem"), key, password=PASSWORD,
                              traditional=traditional)
                with open(k) as f:
                    self.assertIn("ENCRYPTED", f.read())
                entry, _, _ = self.import_ok("--cert", c, "--key", k, "--password-file",
                                             self.password_file())
                self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))

    def test_import_encrypted_key_with_password_on_stdin(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        c = write_certs(self.path("c.pem"), cert)
        k = write_key(self.path("k.pem"), key, password=PASSWORD)
        entry, out, err = self.import_ok("--cert", c, "--key", k, stdin=PASSWORD + "\n")
        self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))
        self.assertNotIn(PASSWORD, out + err, "the password was echoed")

    def test_import_pkcs12_aes(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        p12 = write_p12(self.path("aes.p12"), key, cert, [self.pki.intermediate.cert])
        entry, _, _ = self.import_ok("--pkcs12", p12, "--password-file", self.password_file())
        self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))
        self.assertEqual(entry["chain_length"], 2)
        chain, _ = self.export_chain(entry["id"])
        self.assertEqual(chain[:2], [cert, self.pki.intermediate.cert])

    def test_import_pkcs12_password_on_stdin(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        p12 = write_p12(self.path("aes.p12"), key, cert, [self.pki.intermediate.cert])
        entry, out, err = self.import_ok("--pkcs12", p12, stdin=PASSWORD + "\n")
        self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))
        self.assertNotIn(PASSWORD, out + err, "the password was echoed")

    def test_import_pkcs12_sha1_3des(self):
        cert, key = self.pki.leaf(key_kind="rsa2048")
        self.cm.add_secret_key(key)
        p12 = write_p12(self.path("3des.p12"), key, cert, [self.pki.intermediate.cert],
                        algorithm="3des")
        entry, _, _ = self.import_ok("--pkcs12", p12, "--password-file", self.password_file(),
                                     "--activate")
        self.assertEqual(entry["sha256_fingerprint"], sha256_fingerprint(cert))
        self.assertEqual(entry["roles"], ["server"])

    def test_import_legacy_pkcs12_with_the_legacy_provider(self):
        _, _, c, k, ch = self.leaf_files()
        p12 = write_legacy_p12(self.path("bundle.p12"), c, k, ch)
        entry, _, _ = self.import_ok("--pkcs12", p12, "--password-file", self.password_file())
        with open(c) as f:
            self.assertEqual(entry["sha256_fingerprint"],
                             sha256_fingerprint(parse_pem_certs(f.read())[0]))

    def test_shuffled_chain_is_stored_in_order(self):
        root = make_ca("Shuffle Root")
        int1 = make_ca("Shuffle Intermediate 1", parent=root)
        int2 = make_ca("Shuffle Intermediate 2", parent=int1)
        cert, key = make_leaf(issuer=int2)
        c = write_certs(self.path("leaf.pem"), cert)
        k = write_key(self.path("leaf.key"), key)
        ch = write_certs(self.path("shuffled.pem"), root.cert, int1.cert, int2.cert)
        entry, _, _ = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        chain, _ = self.export_chain(entry["id"])
        self.assertEqual(chain[0], cert, "export does not start with the leaf")
        self.assertEqual(chain[1], int2.cert, "the leaf's issuer does not follow the leaf")
        self.assertEqual(chain[2], int1.cert)
        self.assertLessEqual(len(chain), 4)
        if len(chain) == 4:
            self.assertEqual(chain[3], root.cert)
        self.assertEqual(entry["chain_length"], len(chain))

    def test_client_role_accepts_a_client_only_certificate(self):
        _, _, c, k, ch = self.leaf_files(eku=(CLIENT_AUTH,))
        entry, _, _ = self.import_ok("--cert", c, "--key", k, "--chain", ch, "--role", "client",
                                     "--activate")
        self.assertEqual(entry["roles"], ["client"])


class ImportWarningTest(ImportTestBase):
    def test_warns_when_the_host_name_is_not_in_the_san(self):
        _, _, c, k, ch = self.leaf_files(names=["unrelated.invalid"])
        entry, _, err = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        self.assertTrue(any("subjectaltname" in w.lower() for w in self.warnings(err)),
                        f"no host-name warning in: {err!r}")

    def test_warns_when_it_expires_within_the_window(self):
        t = now()
        _, _, c, k, ch = self.leaf_files(not_after=t + datetime.timedelta(days=10, hours=12))
        entry, _, err = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        self.assertTrue(any("expires in 10 days" in w for w in self.warnings(err)),
                        f"no 'expires in 10 days' warning in: {err!r}")
        self.assertEqual(entry["status"], "expiring")
        self.assertEqual(entry["days_left"], 10)

    def test_no_expiry_warning_outside_the_window(self):
        _, _, c, k, ch = self.leaf_files(days=40)
        _, _, err = self.import_ok("--cert", c, "--key", k, "--chain", ch)
        self.assertFalse(any("expires in" in w for w in self.warnings(err)), err)


class ImportRefusedTest(ImportTestBase):
    def test_refuses_unparseable_certificate(self):
        junk = write_text(self.path("junk.pem"), "this is not a certificate\n")
        _, _, _, k, _ = self.leaf_files()
        self.assert_refused(("import", "--cert", junk, "--key", k), files=(junk,))

    def test_refuses_unparseable_key(self):
        _, _, c, _, ch = self.leaf_files()
        junk = write_text(self.path("junk.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                                 "-----END PRIVATE KEY-----\n", 0o600)
        self.assert_refused(("import", "--cert", c, "--key", junk, "--chain", ch), files=(junk,))

    def test_refuses_unparseable_pkcs12(self):
        junk = write_text(self.path("junk.p12"), "not DER at all\n")
        self.assert_refused(("import", "--pkcs12", junk, "--password-file",
                             self.password_file()), files=(junk,))

    def test_refuses_missing_private_key(self):
        _, _, c, _, ch = self.leaf_files()
        self.assert_refused(("import", "--cert", c, "--chain", ch), "private key", files=(c,))

    def test_refuses_pkcs12_without_private_key(self):
        cert, _ = self.pki.leaf()
        p12 = write_p12(self.path("nokey.p12"), None, cert, [self.pki.intermediate.cert])
        self.assert_refused(("import", "--pkcs12", p12, "--password-file", self.password_file()),
                            "private key", files=(p12,))

    def test_refuses_wrong_password_pem_key(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        c = write_certs(self.path("c.pem"), cert)
        k = write_key(self.path("k.pem"), key, password=PASSWORD)
        wrong = self.password_file("not the password")
        self.assert_refused(("import", "--cert", c, "--key", k, "--password-file", wrong),
                            PASSWORD_ALTS, files=(k,))
        self.assert_refused(("import", "--cert", c, "--key", k), PASSWORD_ALTS, files=(k,),
                            stdin="still wrong\n")

    def test_refuses_wrong_password_pkcs12(self):
        cert, key = self.pki.leaf()
        self.cm.add_secret_key(key)
        p12 = write_p12(self.path("aes.p12"), key, cert, [self.pki.intermediate.cert])
        wrong = self.password_file("not the password")
        self.assert_refused(("import", "--pkcs12", p12, "--password-file", wrong),
                            PASSWORD_ALTS, files=(p12,))
        self.assert_refused(("import", "--pkcs12", p12), PASSWORD_ALTS, files=(p12,),
                            stdin="still wrong\n")

    def test_refuses_legacy_pkcs12_without_the_legacy_provider(self):
        _, _, c, k, ch = self.leaf_files()
        p12 = write_legacy_p12(self.path("bundle.p12"), c, k, ch)
        with tempfile.TemporaryDirectory(prefix="no-ossl-modules-") as empty:
            line = self.assert_refused(
                ("import", "--pkcs12", p12, "--password-file", self.password_file()),
                "legacy", "openssl", files=(p12,), env={"OPENSSL_MODULES": empty})
        self.assertIn("pkcs12", line.lower(), f"no conversion hint in {line!r}")

    def test_refuses_key_not_matching_the_certificate(self):
        cert, _ = self.pki.leaf()
        other = make_key("p256")
        self.cm.add_secret_key(other)
        c = write_certs(self.path("c.pem"), cert)
        k = write_key(self.path("other.key"), other)
        self.assert_refused(("import", "--cert", c, "--key", k), "does not match", files=(k,))

    def test_refuses_key_of_another_type(self):
        cert, _ = self.pki.leaf(key_kind="p256")
        other = make_key("rsa2048")
        self.cm.add_secret_key(other)
        c = write_certs(self.path("c.pem"), cert)
        k = write_key(self.path("other.key"), other)
        self.assert_refused(("import", "--cert", c, "--key", k), "does not match", files=(k,))

    def test_refuses_expired_certificate(self):
        t = now()
        cert, _, c, k, ch = self.leaf_files(not_before=t - datetime.timedelta(days=400),
                                            not_after=t - datetime.timedelta(days=2))
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch), "expired",
                            files=(c,))

    def test_refuses_rsa_1024(self):
        _, _, c, k, ch = self.leaf_files(key_kind="rsa1024")
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch), "too small",
                            files=(c, k))

    def test_refuses_unsupported_curve(self):
        _, _, c, k, ch = self.leaf_files(key_kind="secp256k1")
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch),
                            "unsupported curve", files=(c, k))

    def test_refuses_a_chain_that_does_not_connect(self):
        _, _, c, k, _ = self.leaf_files()
        stranger = make_ca("Unrelated CA")
        ch = write_certs(self.path("bad-chain.pem"), self.pki.intermediate.cert, stranger.cert)
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch),
                            "does not connect", files=(ch,))

    def test_refuses_a_chain_without_the_leafs_issuer(self):
        _, _, c, k, _ = self.leaf_files()
        stranger = make_ca("Unrelated CA")
        ch = write_certs(self.path("bad-chain.pem"), stranger.cert)
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch),
                            "does not connect", files=(ch,))

    def test_refuses_server_role_without_server_auth(self):
        _, _, c, k, ch = self.leaf_files(eku=(CLIENT_AUTH,))
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch), "serverAuth",
                            files=(c,))
        self.assert_refused(("import", "--cert", c, "--key", k, "--chain", ch, "--role",
                             "server", "--activate"), "serverAuth", files=(c,))


if __name__ == "__main__":
    unittest.main()
