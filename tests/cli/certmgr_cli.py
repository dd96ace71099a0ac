"""Shared helpers for the certmgr CLI tests.

Everything a test touches lives in a fresh temporary directory (removed afterwards): the store
(`--store DIR`, always passed before the subcommand) and the input files, which a small test PKI
built with `cryptography` writes at test time. Nothing here is checked in but code.

The binary is taken from $CERTMGR (ctest sets it to $<TARGET_FILE:certmgr>).
"""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
HOSTNAME = "mx.example.test"
PASSWORD = "correct horse battery staple"
EX_OK, EX_FAIL, EX_USAGE = 0, 1, 64
RUN_TIMEOUT = 60
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FP_RE = re.compile(r"^([0-9A-F]{2}:)+[0-9A-F]{2}$")
LIST_KEYS = {
    "id", "subject", "issuer", "serial", "not_before", "not_after", "days_left", "key_type",
    "key_bits", "sha256_fingerprint", "sha1_fingerprint", "spki_sha256", "roles", "status",
    "origin", "dns_names", "signature_algorithm", "chain_length",
}


def mentions(text, ident):
    """Whether `ident` (a certificate or CA id) stands in `text` as a word of its own: not inside
    a longer word, number, date or fingerprint ("certificate 3:" mentions "3", "2029-03-01" and
    "03:A1" do not)."""
    return re.search(r"(?<![\w.:/-])" + re.escape(ident) + r"(?![\w./-]|:[0-9A-Fa-f])",
                     text) is not None


def certmgr_binary():
    path = os.environ.get("CERTMGR")
    if not path:
        raise RuntimeError("set CERTMGR to the certmgr binary (ctest does)")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"CERTMGR={path} is not an executable file")
    return path


def now():
    return datetime.datetime.now(UTC)


def local_names():
    """The names a host-name check could plausibly use besides HOSTNAME; test leaves carry them
    all so that only the test that wants the host-name warning gets it."""
    names = [HOSTNAME]
    for n in (socket.gethostname(), socket.getfqdn()):
        if n and n not in names and not n.startswith("."):
            names.append(n)
    return names


# --------------------------------------------------------------------------------------------
# Keys, certificates, files


def make_key(kind="p256"):
    if kind in ("ec", "p256"):
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "secp256k1":
        return ec.generate_private_key(ec.SECP256K1())
    if kind.startswith("rsa"):
        bits = int(kind[3:] or 2048)
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise ValueError(kind)


def _name(cn, org="tlsgate CLI tests"):
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
    ])


def _serial():
    return int.from_bytes(os.urandom(16), "big") >> 1 | 1


def _sign_hash(key):
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) and \
        isinstance(key.curve, ec.SECP384R1) else hashes.SHA256()


class Issuer:
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key


def make_ca(cn, parent=None, key_kind="p256", days=3650, path_len=None):
    key = make_key(key_kind)
    subject = _name(cn)
    t = now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent.cert.subject if parent else subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(t - datetime.timedelta(days=1))
        .not_valid_after(t + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if parent:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
            critical=False)
    signer = parent.key if parent else key
    return Issuer(builder.sign(signer, _sign_hash(signer)), key)


def make_leaf(issuer=None, key=None, key_kind="p256", names=None, cn=None,
              not_before=None, not_after=None, days=365,
              eku=(SERVER_AUTH, CLIENT_AUTH), serial=None):
    """A leaf certificate; self-signed when issuer is None. Returns (cert, key)."""
    key = key or make_key(key_kind)
    names = list(names) if names is not None else local_names()
    cn = cn or (names[0] if names else "leaf.example.test")
    t = now()
    not_before = not_before or (t - datetime.timedelta(hours=1))
    not_after = not_after or (t + datetime.timedelta(days=days))
    subject = _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or _serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=isinstance(key, rsa.RSAPrivateKey),
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    signer = issuer.key if issuer else key
    return builder.sign(signer, _sign_hash(signer)), key


class TestPKI:
    """Root CA -> intermediate CA -> leaves, all made fresh."""

    def __init__(self, name="tlsgate Test"):
        self.root = make_ca(f"{name} Root CA")
        self.intermediate = make_ca(f"{name} Intermediate CA", parent=self.root, path_len=0)

    def leaf(self, **kw):
        kw.setdefault("issuer", self.intermediate)
        return make_leaf(**kw)


def openssl_serial(cert):
    """The serial as `openssl x509 -serial` prints it: upper-case hex, whole bytes."""
    h = f"{cert.serial_number:X}"
    return "0" + h if len(h) % 2 else h


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key, password=None, traditional=False):
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional \
        else serialization.PrivateFormat.PKCS8
    enc = serialization.BestAvailableEncryption(password.encode()) if password \
        else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()


def key_der_pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def sha256_fingerprint(cert):
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def write_text(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def write_certs(path, *certs):
    return write_text(path, "".join(cert_pem(c) for c in certs))


def write_key(path, key, password=None, traditional=False):
    return write_text(path, key_pem(key, password, traditional), 0o600)


def write_p12(path, key, cert, cas=(), password=PASSWORD, algorithm="aes"):
    """PKCS#12: "aes" = PBES2/PBKDF2-SHA256/AES-256-CBC, "3des" = PBE-SHA1-3DES (both keys and
    certificates), "none" = no encryption at all."""
    if algorithm == "none":
        enc = serialization.NoEncryption()
    else:
        pbes = {"aes": pkcs12.PBES.PBESv2SHA256AndAES256CBC,
                "3des": pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC}[algorithm]
        mac = hashes.SHA256() if algorithm == "aes" else hashes.SHA1()
        enc = (serialization.PrivateFormat.PKCS12.encryption_builder()
               .kdf_rounds(2048).key_cert_algorithm(pbes).hmac_hash(mac)
               .build(password.encode()))
    data = pkcs12.serialize_key_and_certificates(b"tlsgate-test", key, cert, list(cas) or None,
                                                 enc)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_legacy_p12(path, cert_path, key_path, chain_path=None, password=PASSWORD):
    """RC2-40 for the certificates, 3DES for the key: what `openssl pkcs12 -export -legacy`
    writes, and what OpenSSL 3 reads only with the legacy provider."""
    pw = path + ".pw"
    write_text(pw, password + "\n", 0o600)
    args = ["pkcs12", "-export", "-legacy", "-in", cert_path, "-inkey", key_path,
            "-out", path, "-passout", f"file:{pw}"]
    if chain_path:
        args += ["-certfile", chain_path]
    openssl(*args)
    info = openssl("pkcs12", "-info", "-noout", "-legacy", "-in", path, "-passin", f"file:{pw}",
                   stderr=subprocess.STDOUT)
    if "RC2" not in info:
        raise AssertionError(f"openssl -legacy did not write RC2: {info}")
    return path


def load_private_key_block(text):
    """The one PEM private key block of text, loaded (unencrypted)."""
    blocks = re.findall(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.*?-----END (?:[A-Z]+ )?"
                        r"PRIVATE KEY-----", text, re.S)
    if len(blocks) != 1:
        raise AssertionError(f"expected one private key block, found {len(blocks)}")
    return serialization.load_pem_private_key(blocks[0].encode(), password=None)


def same_public_key(a, b):
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def parse_pem_certs(text):
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]


# --------------------------------------------------------------------------------------------
# openssl


def openssl(*args, input=None, stderr=subprocess.PIPE):
    p = subprocess.run(["openssl", *args], input=input, stdout=subprocess.PIPE, stderr=stderr,
                       timeout=RUN_TIMEOUT, check=False)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr!r}")
    return p.stdout.decode() if isinstance(p.stdout, bytes) else p.stdout


def openssl_bytes(*args, input=None):
    p = subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr!r}")
    return p.stdout


def openssl_date_to_iso(text):
    """'Nov 25 14:35:50 2028 GMT' (day may be space-padded) -> '2028-11-25T14:35:50Z'."""
    t = datetime.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def openssl_facts(pem_path):
    """What openssl prints for the first certificate of pem_path, in certmgr's JSON terms."""
    def after_eq(*args):
        out = openssl("x509", "-in", pem_path, "-noout", *args).strip()
        return out.split("=", 1)[1].strip()

    pub = openssl_bytes("x509", "-in", pem_path, "-pubkey", "-noout")
    der = openssl_bytes("pkey", "-pubin", "-outform", "der", input=pub)
    digest = openssl_bytes("dgst", "-sha256", "-binary", input=der)
    hexline = openssl_bytes("dgst", "-sha256", input=der).decode().strip()
    text = openssl("x509", "-in", pem_path, "-noout", "-text")
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    sig = re.search(r"Signature Algorithm: (\S+)", text)
    curve = re.search(r"NIST CURVE: (\S+)", text)
    if "rsaEncryption" in text:
        key_type = f"RSA {bits.group(1)}"
    else:
        key_type = f"EC {curve.group(1)}" if curve else None
    san = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.*)\n", text)
    dns = [p.strip()[4:] for p in san.group(1).split(",") if p.strip().startswith("DNS:")] \
        if san else []
    return {
        "sha256_fingerprint": after_eq("-fingerprint", "-sha256"),
        "sha1_fingerprint": after_eq("-fingerprint", "-sha1"),
        "serial": after_eq("-serial"),
        "not_before": openssl_date_to_iso(after_eq("-startdate")),
        "not_after": openssl_date_to_iso(after_eq("-enddate")),
        "subject": after_eq("-subject", "-nameopt", "RFC2253"),
        "issuer": after_eq("-issuer", "-nameopt", "RFC2253"),
        "spki_sha256": base64.b64encode(digest).decode(),
        "spki_sha256_hex": hexline.split("=", 1)[1].strip() if "=" in hexline else hexline,
        "key_bits": int(bits.group(1)),
        "key_type": key_type,
        "signature_algorithm": sig.group(1),
        "dns_names": dns,
        "text": text,
    }


# --------------------------------------------------------------------------------------------
# The binary


class Certmgr:
    """certmgr bound to one store directory."""

    def __init__(self, store, testcase=None):
        self.binary = certmgr_binary()
        self.store = store
        self.testcase = testcase
        # Strings that must never appear on any command's stdout or stderr (private key bodies).
        self.secrets = []

    def command(self, *args):
        return [self.binary, "--store", self.store, *map(str, args)]

    def run(self, *args, stdin=None, check_rc=None, env=None, timeout=RUN_TIMEOUT):
        """Runs `certmgr --store DIR ARGS...`; returns (rc, stdout, stderr). stdin, when given,
        is written to the program (else it reads /dev/null)."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = subprocess.run(
            self.command(*args),
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True, text=True, env=full_env, timeout=timeout)
        self.check_no_key_material(args, p.stdout, p.stderr)
        if check_rc is not None and p.returncode != check_rc:
            raise AssertionError(
                f"certmgr {' '.join(map(str, args))}: exit {p.returncode}, expected {check_rc}\n"
                f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p.returncode, p.stdout, p.stderr

    def check_no_key_material(self, args, out, err):
        for name, text in (("stdout", out), ("stderr", err)):
            if "PRIVATE KEY" in text:
                raise AssertionError(f"certmgr {' '.join(map(str, args))} printed a private key "
                                     f"on {name}:\n{text}")
            for secret in self.secrets:
                if secret in text:
                    raise AssertionError(f"certmgr {' '.join(map(str, args))} printed private "
                                         f"key material on {name}")

    def add_secret_key(self, key):
        """Registers a key whose material must never be printed."""
        for line in key_pem(key).splitlines():
            if len(line) >= 40 and not line.startswith("-----"):
                self.secrets.append(line)
        self.secrets.append(base64.b64encode(key_der_pkcs8(key)[-48:]).decode())

    def list_json(self):
        _, out, _ = self.run("list", "--json", check_rc=0)
        data = json.loads(out)
        if not isinstance(data, list):
            raise AssertionError(f"list --json printed no JSON array: {out}")
        return data

    def by_id(self):
        return {c["id"]: c for c in self.list_json()}

    def by_fingerprint(self):
        return {c["sha256_fingerprint"]: c for c in self.list_json()}

    def snapshot(self):
        """(list --json, the store's files and their contents, lock files left out)."""
        return (json.dumps(self.list_json(), sort_keys=True), store_files(self.store))


def store_files(store):
    files = {}
    for root, _, names in os.walk(store):
        for n in names:
            if "lock" in n.lower():
                continue
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    files[os.path.relpath(p, store)] = hashlib.sha256(f.read()).hexdigest()
    return files


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class CertmgrTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="certmgr-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.store = os.path.join(self.tmp, "store")
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.store, 0o700)
        os.mkdir(self.work)
        self.cm = Certmgr(self.store, self)

    def path(self, name):
        return os.path.join(self.work, name)

    def init_store(self):
        """`init --hostname HOSTNAME`; returns list --json afterwards."""
        self.cm.run("init", "--hostname", HOSTNAME, check_rc=0)
        certs = self.cm.list_json()
        self.assertEqual(len(certs), 2, certs)
        return certs

    def new_entries(self, before, after):
        old = {c["sha256_fingerprint"] for c in before}
        return [c for c in after if c["sha256_fingerprint"] not in old]

    def import_ok(self, *args, stdin=None, env=None):
        """Runs `import ARGS`, expects exit 0 and exactly one new certificate, whose id is the one
        printed after "imported". Returns (entry, stdout, stderr)."""
        before = self.cm.list_json()
        rc, out, err = self.cm.run("import", *args, stdin=stdin, env=env)
        self.assertEqual(rc, 0, f"import {args} refused:\n{out}\n{err}")
        added = self.new_entries(before, self.cm.list_json())
        self.assertEqual(len(added), 1, f"import {args} added {added}")
        self.assertTrue(mentions(out, added[0]["id"]), f"import did not print the new id: {out!r}")
        return added[0], out, err

    def assert_one_error_line(self, err, *phrases, files=()):
        """stderr is one line starting with "certmgr: " that holds every phrase (case-insensitive)
        and, when files are given, names one of them."""
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {err!r}")
        line = lines[0]
        self.assertTrue(line.startswith("certmgr: "), f"stderr line does not start with "
                                                      f"'certmgr: ': {line!r}")
        for phrase in phrases:
            # a tuple holds alternatives: one of them must be there
            alternatives = phrase if isinstance(phrase, tuple) else (phrase,)
            self.assertTrue(any(a.lower() in line.lower() for a in alternatives),
                            f"{phrase!r} not in {line!r}")
        if files:
            self.assertTrue(any(f in line for f in files), f"none of {files} named in {line!r}")
        return line

    def assert_refused(self, args, *phrases, files=(), stdin=None, env=None):
        """`certmgr ARGS` exits 1 with one "certmgr: " line holding the phrases and naming one of
        `files`; the store (list --json and its files) is unchanged."""
        before = self.cm.snapshot()
        rc, out, err = self.cm.run(*args, stdin=stdin, env=env)
        self.assertEqual(rc, EX_FAIL, f"certmgr {args}: expected exit 1, got {rc}\n"
                                      f"stdout: {out}\nstderr: {err}")
        line = self.assert_one_error_line(err, *phrases, files=files)
        self.assertNotRegex(out, r"(?m)^imported ", "a refused import printed 'imported'")
        after = self.cm.snapshot()
        self.assertEqual(before[0], after[0], "list --json changed after a refusal")
        self.assertEqual(before[1], after[1], "store files changed after a refusal")
        return line

    def warnings(self, err):
        """The "warning: ..." lines of stderr (a "certmgr: " prefix allowed)."""
        return [l for l in err.splitlines() if re.match(r"^(certmgr: )?warning: ", l)]

    def export_chain(self, ref):
        _, out, _ = self.cm.run("export", ref, check_rc=0)
        certs = parse_pem_certs(out)
        self.assertGreaterEqual(len(certs), 1, f"export {ref} printed no certificate: {out!r}")
        return certs, out
