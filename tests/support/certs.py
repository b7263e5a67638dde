"""Certificates for mutual-TLS tests, made by trustme: one CA, a certificate per caller identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

from common.tls import GrpcTls


@dataclass(frozen=True)
class Issued:
    """One process's files: its certificate chain, its key and the CA's certificate."""

    cert: Path
    key: Path
    ca: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "LAYERS_GRPC_TLS_CERT": str(self.cert),
            "LAYERS_GRPC_TLS_KEY": str(self.key),
            "LAYERS_GRPC_TLS_CA": str(self.ca),
        }

    @property
    def tls(self) -> GrpcTls:
        return GrpcTls(self.cert.read_bytes(), self.key.read_bytes(), self.ca.read_bytes())


class Certificates:
    """A CA, and the certificates it issues: each named by its common name, valid for the loopback names."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def issue(self, name: str) -> Issued:
        cert = self.ca.issue_cert("localhost", "127.0.0.1", common_name=name)
        chain, key = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(key))
        return Issued(chain, key, self.ca_file)
