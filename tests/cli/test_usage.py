"""Usage errors exit 64 and change nothing."""

import unittest

from certmgr_cli import EX_USAGE, CertmgrTestCase, make_leaf, write_certs, write_key


class UsageTest(CertmgrTestCase):
    def assert_usage(self, *args):
        before = self.cm.snapshot()
        rc, out, err = self.cm.run(*args)
        self.assertEqual(rc, EX_USAGE, f"certmgr {args}: expected 64, got {rc}\n{out}\n{err}")
        self.assertTrue(err.strip(), f"certmgr {args}: exit 64 but nothing on stderr")
        self.assertEqual(before, self.cm.snapshot(), f"certmgr {args} changed the store")

    def test_unknown_command(self):
        self.init_store()
        self.assert_usage("frobnicate")

    def test_unknown_option(self):
        self.init_store()
        self.assert_usage("list", "--no-such-option")
        self.assert_usage("generate", "--colour", "blue")

    def test_unknown_global_option(self):
        self.init_store()
        rc, out, err = self.cm.run("--no-such-global", "list")
        self.assertEqual(rc, EX_USAGE, f"{out}\n{err}")

    def test_missing_argument(self):
        self.init_store()
        self.assert_usage("show")                   # REF missing
        self.assert_usage("import", "--cert")       # FILE missing
        self.assert_usage("tlsa")                   # REF missing
        self.assert_usage("export")                 # REF missing

    def test_password_is_never_taken_from_the_command_line(self):
        # There is no option that takes a password: any such option is unknown, a usage error,
        # and nothing is imported -- neither with an encrypted key nor with a plain one.
        self.init_store()
        for option in ("--password", "--pass", "--passin", "--passphrase"):
            for encrypted in (True, False):
                cert, key = make_leaf()  # a new one each time: one wrongly accepted import
                self.cm.add_secret_key(key)  # must not make the next one a duplicate
                c = write_certs(self.path("c.pem"), cert)
                k = write_key(self.path("k.pem"), key, password="secret" if encrypted else None)
                with self.subTest(option=option, encrypted_key=encrypted):
                    self.assert_usage("import", "--cert", c, "--key", k, option, "secret")

if __name__ == "__main__":
    unittest.main()
