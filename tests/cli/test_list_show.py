"""`certmgr list` and `certmgr show`."""

import json
import unittest

from certmgr_cli import (LIST_KEYS, CertmgrTestCase, TestPKI, make_key, make_leaf, mentions,
                         sha256_fingerprint, write_certs, write_key)


def show_text_values(entry):
    """The values `show` (text) prints verbatim as in the JSON."""
    values = [entry["subject"], entry["issuer"], entry["serial"], entry["not_before"],
              entry["not_after"], str(entry["days_left"]), entry["key_type"],
              entry["signature_algorithm"], entry["sha256_fingerprint"],
              entry["sha1_fingerprint"], entry["spki_sha256"], entry["status"]]
    values += entry["dns_names"]
    values += entry["roles"]
    return values


class ListShowTest(CertmgrTestCase):
    def setUp(self):
        super().setUp()
        self.init_store()
        pki = TestPKI()
        cert, key = pki.leaf(key_kind="rsa2048")
        self.cm.add_secret_key(key)
        self.leaf = cert
        self.cm.run("import", "--cert", write_certs(self.path("c.pem"), cert),
                    "--key", write_key(self.path("k.pem"), key),
                    "--chain", write_certs(self.path("ch.pem"), pki.intermediate.cert),
                    check_rc=0)
        self.certs = self.cm.list_json()
        self.assertEqual(len(self.certs), 3)

    def test_list_table(self):
        _, out, _ = self.cm.run("list", check_rc=0)
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1 + len(self.certs), f"header + one row each: {out!r}")
        rows = lines[1:]
        for c in self.certs:
            matching = [r for r in rows if mentions(r, c["id"])]
            self.assertTrue(matching, f"no row mentions {c['id']}: {out!r}")
            self.assertTrue(any(c["key_type"] in r for r in matching), out)

    def test_list_json_keys_and_types(self):
        ids = set()
        for c in self.certs:
            with self.subTest(id=c.get("id")):
                self.assertLessEqual(LIST_KEYS, set(c), "keys missing")
                for k in ("id", "subject", "issuer", "serial", "not_before", "not_after",
                          "key_type", "sha256_fingerprint", "sha1_fingerprint", "spki_sha256",
                          "status", "origin", "signature_algorithm"):
                    self.assertIsInstance(c[k], str, k)
                for k in ("days_left", "key_bits", "chain_length"):
                    self.assertIsInstance(c[k], int, k)
                    self.assertNotIsInstance(c[k], bool, k)
                for k in ("roles", "dns_names"):
                    self.assertIsInstance(c[k], list, k)
                self.assertTrue(set(c["roles"]) <= {"server", "client"})
                self.assertIn(c["status"], ("valid", "expiring", "expired", "not yet valid"))
                self.assertIn(c["origin"], ("default", "generated", "imported"))
                ids.add(c["id"])
        self.assertEqual(len(ids), len(self.certs), "ids are not unique")
        imported = [c for c in self.certs if c["origin"] == "imported"]
        self.assertEqual(len(imported), 1)
        self.assertEqual(imported[0]["sha256_fingerprint"], sha256_fingerprint(self.leaf))
        self.assertEqual(imported[0]["chain_length"], 2)

    def test_show_json_equals_list_entry(self):
        for c in self.certs:
            with self.subTest(id=c["id"]):
                _, out, _ = self.cm.run("show", c["id"], "--json", check_rc=0)
                shown = json.loads(out)
                self.assertIsInstance(shown, dict)
                self.assertEqual(shown, c)

    def test_show_text_holds_every_value(self):
        for c in self.certs:
            with self.subTest(id=c["id"]):
                _, out, _ = self.cm.run("show", c["id"], check_rc=0)
                for v in show_text_values(c):
                    self.assertIn(v, out, f"show {c['id']}: {v!r} missing from\n{out}")

    def test_show_by_fingerprint_prefix(self):
        target = self.certs[2]
        fp = target["sha256_fingerprint"]
        hexfp = fp.replace(":", "")
        others = [c["sha256_fingerprint"].replace(":", "") for c in self.certs if c is not target]
        n = 4
        while any(o.startswith(hexfp[:n]) for o in others):
            n += 1
        refs = [hexfp[:n], hexfp[:n].lower(), fp[:11], fp[:11].lower(), hexfp[:16].lower(), fp]
        for ref in refs:
            with self.subTest(ref=ref):
                _, out, _ = self.cm.run("show", ref, "--json", check_rc=0)
                self.assertEqual(json.loads(out)["id"], target["id"])

    def test_show_prefix_needs_four_hex_digits(self):
        for c in self.certs:
            short = c["sha256_fingerprint"].replace(":", "")[:3]
            if any(o["id"] == short for o in self.certs):
                continue
            with self.subTest(ref=short):
                rc, out, err = self.cm.run("show", short, "--json")
                self.assertEqual(rc, 1, f"a 3-digit prefix was accepted: {out}")
                self.assert_one_error_line(err, "no certificate")

    def test_show_unknown_ref(self):
        for ref in ("no-such-id", "0000000000000000000000000000000000000000"):
            if any(c["sha256_fingerprint"].replace(":", "").startswith(ref) for c in self.certs):
                continue
            with self.subTest(ref=ref):
                before = self.cm.snapshot()
                rc, out, err = self.cm.run("show", ref)
                self.assertEqual(rc, 1, f"{out}\n{err}")
                self.assert_one_error_line(err, "no certificate")
                self.assertEqual(before, self.cm.snapshot())

    def test_show_ambiguous_prefix(self):
        # Two certificates whose SHA-256 fingerprints share their first 4 hex digits.
        key = make_key("p256")
        self.cm.add_secret_key(key)
        seen = {}
        pair = None
        for _ in range(20000):
            cert, _ = make_leaf(key=key)
            prefix = sha256_fingerprint(cert)[:5]
            if prefix in seen:
                pair = (seen[prefix], cert)
                break
            seen[prefix] = cert
        self.assertIsNotNone(pair, "no fingerprint collision found")
        k = write_key(self.path("shared.key"), key)
        for i, cert in enumerate(pair):
            self.cm.run("import", "--cert", write_certs(self.path(f"amb{i}.pem"), cert),
                        "--key", k, check_rc=0)
        prefix = sha256_fingerprint(pair[0])[:5]
        for ref in (prefix, prefix.replace(":", ""), prefix.replace(":", "").lower()):
            with self.subTest(ref=ref):
                rc, out, err = self.cm.run("show", ref)
                self.assertEqual(rc, 1, f"{out}\n{err}")
                self.assert_one_error_line(err, "ambiguous")
        # a longer prefix picks one
        fp = sha256_fingerprint(pair[1])
        _, out, _ = self.cm.run("show", fp[:23], "--json", check_rc=0)
        self.assertIn(fp, out)


if __name__ == "__main__":
    unittest.main()
