"""Mutual TLS of the internal gRPC traffic: one process's certificate, key and the CA they all trust.

Every server requires a client certificate signed by the CA and every client checks the server's against
it; the certificate's common name is the caller's identity (common.callers). Unset (the embedded default,
`layers dev`), servers and clients talk plain gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from common.settings import Settings


@dataclass(frozen=True)
class GrpcTls:
    cert_chain: bytes
    private_key: bytes
    ca: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> GrpcTls | None:
        """The files of LAYERS_GRPC_TLS_*, or None when they are unset (settings checked all-or-none)."""
        if settings.grpc_tls_cert is None or settings.grpc_tls_key is None or settings.grpc_tls_ca is None:
            return None
        return cls(
            settings.grpc_tls_cert.read_bytes(), settings.grpc_tls_key.read_bytes(), settings.grpc_tls_ca.read_bytes()
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.private_key, self.cert_chain)], root_certificates=self.ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.private_key, certificate_chain=self.cert_chain
        )
