//! Where the device keeps its secrets (the server token): never in the database, never in a log.
//!
//! The apps implement [`SecretStore`] with the Android Keystore and the iOS Keychain; the terminal client
//! and the tests use [`FileSecretStore`], a file only its owner can read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The secret store failed (the Keychain refused, the file cannot be written…).
#[derive(Debug, thiserror::Error)]
#[error("the secret store failed: {0}")]
pub struct SecretError(pub String);

/// A small key-value store for secrets, implemented by each shell.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, key: &str, value: &str) -> Result<(), SecretError>;
    fn delete(&self, key: &str) -> Result<(), SecretError>;
}

/// Secrets in a JSON file readable by its owner only (mode 0600), for the terminal client and tests.
#[derive(Debug)]
pub struct FileSecretStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSecretStore {
    pub fn new(path: impl AsRef<Path>) -> FileSecretStore {
        FileSecretStore { path: path.as_ref().to_path_buf(), lock: Mutex::new(()) }
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| SecretError(format!("{} is not a secrets file ({e})", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(SecretError(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    fn save(&self, secrets: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let text = serde_json::to_string(secrets).map_err(|e| SecretError(e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = options.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| SecretError(format!("cannot write {}: {e}", self.path.display())))
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load()?.remove(key))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut secrets = self.load()?;
        secrets.insert(key.to_owned(), value.to_owned());
        self.save(&secrets)
    }

    fn delete(&self, key: &str) -> Result<(), SecretError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut secrets = self.load()?;
        if secrets.remove(key).is_some() {
            self.save(&secrets)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_survive_and_stay_private() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = FileSecretStore::new(dir.path().join("secrets.json"));
        assert_eq!(store.get("token").unwrap(), None);
        store.set("token", "s3cret").unwrap();
        assert_eq!(
            FileSecretStore::new(dir.path().join("secrets.json")).get("token").unwrap().as_deref(),
            Some("s3cret")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.delete("token").unwrap();
        assert_eq!(store.get("token").unwrap(), None);
    }
}
