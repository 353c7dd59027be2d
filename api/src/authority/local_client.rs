//! Development mode's own organisation client: when the server acts for an organisation
//! (`outgoing.organisation_number`) but has no client credentials, it generates a client key in
//! the data directory and registers it with its own development authority.

use crate::config::ServerConfig;

/// Development mode: when the server acts for an organisation (`outgoing.organisation_number`)
/// but has no client credentials, generate a client key (kept in the data directory) and register
/// it with this server's own development authority, so createInstance works with no setup.
pub(crate) fn provision(config: &mut ServerConfig) -> Result<(), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let (Some(org), None) = (
        config.outgoing.organisation_number.clone(),
        config.outgoing.client_id.clone(),
    ) else {
        return Ok(());
    };
    let dir = config.storage.data_dir.join("authority");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let private = dir.join("local-client-key.pem");
    let public = dir.join("local-client-key.pub.pem");
    if private.exists() && public.exists() {
        // A key left with looser permissions (an older flyt wrote it without fixing them) is
        // made private before it is used.
        crate::files::ensure_private(&private)?;
    } else {
        let key =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        crate::files::write_private(&private, pem.as_bytes())?;
        let pub_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        std::fs::write(&public, pub_pem).map_err(|e| format!("{}: {e}", public.display()))?;
    }
    let client_id = format!("flyt-local-{org}");
    config
        .dev_authority
        .clients
        .push(crate::authority::ClientConfig {
            client_id: client_id.clone(),
            organisation_number: org,
            org_code: config.outgoing.org_code.clone(),
            public_key_pem_file: public,
            scopes: vec![
                config
                    .outgoing
                    .scope
                    .clone()
                    .unwrap_or_else(|| config.instantiate_scope.clone()),
            ],
        });
    config.outgoing.client_id = Some(client_id);
    config.outgoing.private_key_file = Some(private);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_left_readable_by_others_is_made_private() {
        // Regression: the local client key was written without temp-file-and-rename or fsync,
        // and a key file that already existed kept whatever mode it had.
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::development();
        config.storage.data_dir = dir.path().to_path_buf();
        config.outgoing.client_id = None;
        config.outgoing.organisation_number = Some("910000001".into());
        let keys = dir.path().join("authority");
        std::fs::create_dir_all(&keys).unwrap();
        let private = keys.join("local-client-key.pem");
        std::fs::write(&private, "a key").unwrap();
        std::fs::write(keys.join("local-client-key.pub.pem"), "its public key").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
        provision(&mut config).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_to_string(&private).unwrap(),
            "a key",
            "the key is kept"
        );
        assert_eq!(
            config.outgoing.private_key_file.as_deref(),
            Some(private.as_path())
        );
    }

    #[test]
    fn a_new_key_is_private_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::development();
        config.storage.data_dir = dir.path().to_path_buf();
        config.outgoing.client_id = None;
        config.outgoing.organisation_number = Some("910000001".into());
        provision(&mut config).unwrap();
        let private = dir.path().join("authority/local-client-key.pem");
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            std::fs::read_to_string(&private)
                .unwrap()
                .contains("PRIVATE KEY")
        );
    }
}
