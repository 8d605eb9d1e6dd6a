"""Certificates for a Dask cluster that only its own members can use: ``systemic certs [DIR]`` (``make certs``).

A Dask scheduler runs whatever code a client sends it, as the user its workers run as; over a network it must
only take clients and workers that hold a certificate signed by the cluster's own certificate authority, and the
council tables it ships must not cross the network in clear text. This makes that authority (``ca.pem``; its key,
``ca-key.pem``, signs more certificates and stays with whoever runs the cluster) and one certificate and key for each
role: ``scheduler``, ``worker`` and ``client`` (``<role>.pem``, ``<role>-key.pem``; keys readable by their owner only).
Copy ``ca.pem`` and the role's two files to each machine: the scheduler's, each worker's, and the machine that runs
``systemic report --scheduler tls://HOST:8786``. Dask checks every connection both ways (mutual TLS): a client or
worker without a certificate from this authority is refused. See README, "How to scale out".
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

import click

from systemic_lib import config
from systemic_lib.data.files import atomic_write_bytes

ROLES = ("scheduler", "worker", "client")
DAYS = 825  #: how long the certificates are valid (the authority: the same)


def paths(folder: Path, role: str) -> tuple[Path, Path, Path]:
    """(the authority's certificate, the role's certificate, its key) in ``folder``."""
    return folder / "ca.pem", folder / f"{role}.pem", folder / f"{role}-key.pem"


def make(folder: Path, *, hosts: tuple[str, ...] = (), days: int = DAYS) -> list[Path]:
    """Write a new authority and a certificate for each role into ``folder`` (keys 0600, the folder 0700); ``hosts``
    (names or addresses of the cluster's machines) are written into each certificate. Returns the files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    now = dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(days=days)

    def name(text: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "systemic"), x509.NameAttribute(NameOID.COMMON_NAME, text)]
        )

    def key_bytes(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("systemic cluster authority"))
        .issuer_name(name("systemic cluster authority"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # signs certificates and revocation lists only
        .sign(ca_key, hashes.SHA256())
    )
    written = [_write(folder / "ca.pem", ca.public_bytes(serialization.Encoding.PEM), 0o644)]
    written.append(_write(folder / "ca-key.pem", key_bytes(ca_key), 0o600))
    alt = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"systemic {role}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _, cert_path, key_path = paths(folder, role)
        written.append(_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644))
        written.append(_write(key_path, key_bytes(key), 0o600))
    return written


def _write(path: Path, data: bytes, mode: int) -> Path:
    atomic_write_bytes(path, data)
    os.chmod(path, mode)
    return path


def security(folder: Path, role: str = "client"):
    """The ``distributed.Security`` of ``role`` from the certificates in ``folder`` (encryption required); a plain
    error naming the missing file and ``systemic certs`` when one is missing."""
    from distributed import Security

    from systemic_lib.errors import SystemicError

    ca, cert, key = paths(Path(folder), role)
    for path in (ca, cert, key):
        if not path.is_file():
            raise SystemicError(
                f"{path}: no such file. A tls:// scheduler needs the cluster's certificates: make them with "
                f"`systemic certs {folder}` (make certs) and copy ca.pem, {role}.pem and {role}-key.pem here."
            )
    return Security(
        tls_ca_file=str(ca),
        tls_client_cert=str(cert),
        tls_client_key=str(key),
        require_encryption=True,
    )


@click.command("certs")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="A name or address of a machine of the cluster, written into the certificates (repeatable).",
)
@click.option(
    "--force", is_flag=True, help="Replace certificates already in FOLDER (every machine needs the new ones)."
)
def certs_command(folder, hosts, force):
    """Make a certificate authority and the scheduler's, workers' and clients' certificates for a TLS Dask cluster
    (default FOLDER: certs/ in the project). See README, "How to scale out"."""
    folder = folder or config.CERTS_DIR
    if (folder / "ca.pem").exists() and not force:
        raise click.ClickException(
            f"{folder / 'ca.pem'} exists: the cluster has certificates. Use --force to replace them."
        )
    for path in make(folder, hosts=tuple(hosts)):
        click.echo(f"wrote {path}")
    click.echo(
        "Copy ca.pem and the role's <role>.pem and <role>-key.pem to each machine; keep ca-key.pem with whoever runs the "
        "cluster. Then: make scheduler HOST=<this machine's address>, make worker SCHEDULER=tls://HOST:8786, and "
        "systemic report --scheduler tls://HOST:8786."
    )
