"""`certmgr check`: exit 0 when all are valid, 1 when one is inside the warning window."""

import unittest

from certmgr_cli import CertmgrTestCase, mentions


class CheckTest(CertmgrTestCase):
    def line_for(self, out, cert):
        """The line about `cert`: the one that mentions its id and subject, else its
        fingerprint."""
        lines = [l for l in out.splitlines()
                 if mentions(l, cert["id"]) and cert["subject"] in l]
        lines = lines or [l for l in out.splitlines() if cert["sha256_fingerprint"] in l]
        self.assertEqual(len(lines), 1, f"no single line for {cert['id']} in {out!r}")
        return lines[0]

    def test_all_valid(self):
        certs = self.init_store()
        rc, out, err = self.cm.run("check")
        self.assertEqual(rc, 0, f"{out}\n{err}")
        for c in certs:
            line = self.line_for(out, c)
            self.assertRegex(line, r"\bvalid\b")
            self.assertNotIn("not yet valid", line)
            self.assertNotIn("expir", line)

    def test_outside_the_window_is_valid(self):
        self.init_store()
        self.cm.run("generate", "--days", "40", "--name", "forty.example.test", check_rc=0)
        rc, out, err = self.cm.run("check")
        self.assertEqual(rc, 0, f"{out}\n{err}")

    def test_expiring_certificate(self):
        self.init_store()
        self.cm.run("generate", "--days", "10", "--name", "soon.example.test", check_rc=0)
        certs = self.cm.list_json()
        soon = [c for c in certs if c["dns_names"] == ["soon.example.test"]]
        self.assertEqual(len(soon), 1)
        self.assertEqual(soon[0]["status"], "expiring")
        rc, out, err = self.cm.run("check")
        self.assertEqual(rc, 1, f"{out}\n{err}")
        self.assertIn("expiring", self.line_for(out, soon[0]))
        for c in certs:
            if c is not soon[0]:
                self.assertNotIn("expiring", self.line_for(out, c))
        # removing it makes the store healthy again
        self.cm.run("remove", soon[0]["id"], check_rc=0)
        rc, out, err = self.cm.run("check")
        self.assertEqual(rc, 0, f"{out}\n{err}")


if __name__ == "__main__":
    unittest.main()
