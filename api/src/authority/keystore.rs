//! The authority's signing key on disk: `signing-key.pem` (RSA 2048, PKCS#8, mode 0600) and
//! `kid` (first 16 hex characters of the SHA-256 of the public key's DER), created on first
//! start and reused afterwards.

use jsonwebtoken::EncodingKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) const KEY_FILE: &str = "signing-key.pem";
pub(crate) const KID_FILE: &str = "kid";

/// The signing key (as jsonwebtoken keys) and its kid.
pub(crate) struct SigningKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) public: RsaPublicKey,
    pub(crate) kid: String,
}

/// The kid of an RSA public key: first 16 hex chars of SHA-256 of its SPKI DER.
pub(crate) fn kid_of(key: &RsaPrivateKey) -> Result<String, String> {
    let der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    let digest = Sha256::digest(der.as_bytes());
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Loads `dir/signing-key.pem`, or generates and stores a new key.
pub(crate) fn load_or_create(dir: &Path) -> Result<SigningKey, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key_path = dir.join(KEY_FILE);
    let kid_path = dir.join(KID_FILE);
    let (private, pem) = match std::fs::read_to_string(&key_path) {
        Ok(pem) => {
            warn_if_readable_by_others(&key_path);
            let key = RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| {
                format!("{}: not an RSA PKCS#8 private key: {e}", key_path.display())
            })?;
            (key, pem)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| format!("cannot encode the RSA key: {e}"))?;
            crate::files::write_private(&key_path, pem.as_bytes())?;
            tracing::info!(path = %key_path.display(), "generated the development authority's signing key");
            (key, pem.to_string())
        }
        Err(e) => return Err(format!("cannot read {}: {e}", key_path.display())),
    };
    let kid = kid_of(&private)?;
    // The key is the source of truth; `kid` is rewritten when missing or stale.
    if std::fs::read_to_string(&kid_path)
        .ok()
        .as_deref()
        .map(str::trim)
        != Some(kid.as_str())
    {
        std::fs::write(&kid_path, format!("{kid}\n"))
            .map_err(|e| format!("cannot write {}: {e}", kid_path.display()))?;
    }
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("{}: unusable RSA key: {e}", key_path.display()))?;
    Ok(SigningKey {
        encoding,
        public: private.to_public_key(),
        kid,
    })
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the signing key is readable by others; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
