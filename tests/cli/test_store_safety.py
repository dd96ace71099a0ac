"""Private keys in the store are 0600 files, and no command prints key material."""

import base64
import os
import unittest

from certmgr_cli import (PASSWORD, CertmgrTestCase, TestPKI, file_mode, key_der_pkcs8,
                         write_certs, write_key, write_p12, write_text)


class StoreSafetyTest(CertmgrTestCase):
    def fill_store(self):
        """init, import PEM (plain and encrypted key), import PKCS#12, generate, ca add.
        Returns the keys imported."""
        self.init_store()
        pki = TestPKI()
        keys = []
        pw = write_text(self.path("pw.txt"), PASSWORD + "\n", 0o600)
        cert, key = pki.leaf(key_kind="rsa2048")
        keys.append(key)
        self.cm.add_secret_key(key)
        self.import_ok("--cert", write_certs(self.path("a.pem"), cert),
                       "--key", write_key(self.path("a.key"), key),
                       "--chain", write_certs(self.path("a-ch.pem"), pki.intermediate.cert))
        cert, key = pki.leaf(key_kind="rsa2048")
        keys.append(key)
        self.cm.add_secret_key(key)
        self.import_ok("--cert", write_certs(self.path("b.pem"), cert),
                       "--key", write_key(self.path("b.key"), key, password=PASSWORD),
                       "--password-file", pw, "--activate")
        cert, key = pki.leaf(key_kind="rsa2048")
        keys.append(key)
        self.cm.add_secret_key(key)
        self.import_ok("--pkcs12", write_p12(self.path("c.p12"), key, cert,
                                             [pki.intermediate.cert]),
                       "--password-file", pw)
        self.cm.run("generate", "--key-type", "ecdsa", "--name", "gen.example.test",
                    check_rc=0)
        self.cm.run("ca", "add", write_certs(self.path("root.pem"), pki.root.cert), check_rc=0)
        return keys

    def store_file_contents(self):
        for root, _, names in os.walk(self.store):
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, "rb") as f:
                        yield p, f.read()

    def test_private_keys_are_0600(self):
        keys = self.fill_store()
        n_certs = len(self.cm.list_json())
        key_files = []
        for path, data in self.store_file_contents():
            if b"PRIVATE KEY" in data:
                key_files.append(path)
                self.assertEqual(file_mode(path), 0o600,
                                 f"{path} holds a private key with mode {oct(file_mode(path))}")
        self.assertGreaterEqual(len(key_files), 1, "no PEM private key found in the store")
        # Wherever an imported key's material is (PEM or DER), the file is 0600.
        for key in keys:
            der = key_der_pkcs8(key)
            b64_line = base64.b64encode(der).decode()[64:128]
            holders = [p for p, data in self.store_file_contents()
                       if der[-64:] in data or b64_line.encode() in data]
            for p in holders:
                self.assertEqual(file_mode(p), 0o600, f"{p}: {oct(file_mode(p))}")
        self.assertGreaterEqual(n_certs, 6)

    def test_no_command_prints_key_material(self):
        # Cm.run() already fails on "PRIVATE KEY" or a registered key's material in any output;
        # here every read command is run over a full store.
        self.fill_store()
        certs = self.cm.list_json()
        self.cm.run("list", check_rc=0)
        self.cm.run("check")
        self.cm.run("ca", "list", check_rc=0)
        self.cm.run("ca", "list", "--json", check_rc=0)
        for c in certs:
            self.cm.run("show", c["id"], check_rc=0)
            self.cm.run("show", c["id"], "--json", check_rc=0)
            _, out, _ = self.cm.run("export", c["id"], check_rc=0)
            self.assertNotIn("PRIVATE", out)
            self.cm.run("export", c["id"], "--out", self.path(f"x{len(os.listdir(self.work))}"),
                        check_rc=0)
            self.cm.run("export", c["id"], "--with-key", "--out",
                        self.path(f"k{len(os.listdir(self.work))}"), check_rc=0)
            self.cm.run("tlsa", c["id"], "--hostname", "mx.example.test", check_rc=0)

    def test_key_modes_do_not_depend_on_the_umask(self):
        # The mode must not depend on the caller's umask.
        old = os.umask(0)
        try:
            self.fill_store()
        finally:
            os.umask(old)
        for path, data in self.store_file_contents():
            if b"PRIVATE KEY" in data:
                self.assertEqual(file_mode(path), 0o600, path)
        out_path = self.path("with-key.pem")
        old = os.umask(0)
        try:
            self.cm.run("export", self.cm.list_json()[0]["id"], "--with-key", "--out", out_path,
                        check_rc=0)
        finally:
            os.umask(old)
        self.assertEqual(file_mode(out_path), 0o600)


if __name__ == "__main__":
    unittest.main()
