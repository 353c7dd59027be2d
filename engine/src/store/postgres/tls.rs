//! TLS to the database: `sslmode` (and `sslrootcert`) in `storage.url`, read as libpq reads them,
//! over rustls.
//!
//! - `disable`: plain TCP.
//! - `prefer` (the default, as in libpq): TLS when the server offers it, else plain TCP.
//! - `require`: TLS or no connection. As in libpq the certificate is not checked: this keeps
//!   the traffic from eavesdroppers, not from an impostor (use `verify-full` for that).
//! - `verify-full`: TLS with a certificate that chains to a trusted root and names the host
//!   connected to. The roots are the PEM file `sslrootcert=<path>`, else the system's.
//!
//! `verify-ca` (a chain without the name check) is refused rather than silently made stricter
//! or weaker. A server without TLS under `require`/`verify-full` fails the connection with
//! "server does not support TLS" (the node answers 503 and `/health/ready` says why).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

/// The TLS parameters of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`: the PEM file of the roots `verify-full` trusts.
    pub root_cert: Option<PathBuf>,
}

impl TlsSettings {
    /// The mode the driver negotiates with (it checks no certificates itself).
    pub fn driver_mode(&self) -> DriverMode {
        match self.mode {
            SslMode::Disable => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => DriverMode::Require,
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL `?a=b&…` or libpq
/// `key=value …` form): the rest, for the driver to parse, and the settings. An unknown
/// `sslmode` is an error naming the accepted ones.
pub fn split(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        mode: SslMode::Prefer,
        root_cert: None,
    };
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                settings.mode = match value {
                    "disable" => SslMode::Disable,
                    "prefer" | "allow" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "storage.url: sslmode={other} is not supported (disable, prefer, \
                             require or verify-full)"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                settings.root_cert = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&') {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, value)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key.trim(), value.trim())? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, settings))
}

/// The rustls connector for `settings` (only used when the driver negotiates TLS).
pub fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS to PostgreSQL: {e}"))?;
    let config = if settings.mode == SslMode::VerifyFull {
        builder
            .with_root_certificates(roots(settings.root_cert.as_ref())?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(file: Option<&PathBuf>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect())
            .map_err(|e| format!("storage.url: sslrootcert {}: {e}", path.display()))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (_, ignored) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "storage.url: sslmode=verify-full but no root certificate was found ({} ignored); \
             name a PEM file with sslrootcert=<path>",
            ignored
        ));
    }
    Ok(roots)
}

/// `require`: any certificate, but the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_both_forms() {
        let (rest, s) = split(
            "postgres://flyt@db.example:5432/flyt?application_name=x&sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://flyt@db.example:5432/flyt?application_name=x"
        );
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(s.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(s.driver_mode(), DriverMode::Require);

        let (rest, s) = split("host=db user=flyt sslmode=require dbname=flyt").unwrap();
        assert_eq!(rest, "host=db user=flyt dbname=flyt");
        assert_eq!((s.mode, s.root_cert), (SslMode::Require, None));

        let (rest, s) = split("postgres://flyt@db/flyt?sslmode=disable").unwrap();
        assert_eq!(
            (rest.as_str(), s.mode),
            ("postgres://flyt@db/flyt", SslMode::Disable)
        );
        let (_, s) = split("postgres://flyt@db/flyt").unwrap();
        assert_eq!(s.mode, SslMode::Prefer);
    }

    #[test]
    fn unsupported_modes_are_refused_by_name() {
        let e = split("postgres://db/flyt?sslmode=verify-ca").unwrap_err();
        assert!(e.contains("sslmode=verify-ca is not supported"), "{e}");
        assert!(split("host=db sslmode=sometimes").is_err());
    }

    #[test]
    fn verify_full_without_a_readable_root_file_says_so() {
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(PathBuf::from("/nonexistent/flyt-ca.pem")),
        };
        let e = connector(&settings).err().unwrap();
        assert!(e.contains("sslrootcert /nonexistent/flyt-ca.pem"), "{e}");
    }
}
