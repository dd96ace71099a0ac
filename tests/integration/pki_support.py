"""A throwaway certificate authority for the integration tests (python3-cryptography): one EC
P-256 CA and the leaf certificates a test asks for, written as PEM files (keys 0600) into a
directory that is removed when the process exits."""

import atexit
import datetime
import os
import shutil
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc


def sha256_fingerprint(cert):
    """Colon-separated upper-case hex, as certmgr and `openssl x509 -fingerprint` print it."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def temporary_directory(prefix):
    """A new directory under /tmp, removed with everything in it when the process exits."""
    directory = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, directory, True)
    return directory


class IssuedCert:
    """A certificate, its PEM file, its key's PEM file and its SHA-256 fingerprint."""

    def __init__(self, cert, cert_path, key_path):
        self.cert = cert
        self.cert_path = cert_path
        self.key_path = key_path
        self.fingerprint = sha256_fingerprint(cert)


def _key_usage(ca):
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False)


class TestCA:
    """The CA "<organization> CA", valid from 60 days ago for ten years, written to ca.pem."""

    def __init__(self, directory, organization):
        self.directory = directory
        self.organization = organization
        self.now = datetime.datetime.now(UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = self.name(f"{organization} CA")
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=60))
            .not_valid_after(self.now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.ca_path = self.write("ca.pem", self.ca_cert.public_bytes(serialization.Encoding.PEM))

    def name(self, cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization)])

    def write(self, name, data, mode=0o644):
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def leaf(self, stem, dns_name, usage, not_before, not_after, self_signed=False):
        """<stem>.pem and <stem>.key: CN and DNS SAN `dns_name`, extended key usage `usage`
        (an ExtendedKeyUsageOID), signed by the CA or, with `self_signed`, by its own key."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = self.name(dns_name)
        builder = (
            x509.CertificateBuilder().subject_name(subject)
            .issuer_name(subject if self_signed else self.ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]),
                           critical=False))
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False)
        cert = builder.sign(key if self_signed else self.ca_key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return IssuedCert(cert,
                          self.write(f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM)),
                          self.write(f"{stem}.key", key_pem, 0o600))

    def valid_period(self):
        """(not before, not after) of a certificate valid now: from an hour ago for a year."""
        return self.now - datetime.timedelta(hours=1), self.now + datetime.timedelta(days=365)

    def expired_period(self):
        """(not before, not after) of a certificate that expired two days ago."""
        return self.now - datetime.timedelta(days=30), self.now - datetime.timedelta(days=2)
