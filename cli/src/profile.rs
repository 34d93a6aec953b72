//! Profiles: one folder per person, so that several neighbours can be played from one terminal.
//!
//! `<home>/profiles/<name>/` holds the person's database (`quartier.db`, the same store the apps use),
//! `settings.json` (the server, the neighbourhood they act in, their time zone, their notification
//! settings) and `secrets.json` (the server token, readable by its owner only).
//! The home is `--home`, else `$QUARTIER_HOME`, else `~/.quartier`.

use crate::error::{CliError, Result};
use quartier_core::store::{Store, StoreOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// The neighbourhood commands act in when `--in` is not given.
    pub neighbourhood: Option<String>,
    /// The sync server this profile is registered with.
    pub server: Option<String>,
    pub utc_offset_minutes: i32,
    pub quiet_start_min: u16,
    pub quiet_end_min: u16,
    pub daily_budget: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            neighbourhood: None,
            server: None,
            utc_offset_minutes: 0,
            quiet_start_min: 22 * 60,
            quiet_end_min: 8 * 60,
            daily_budget: 10,
        }
    }
}

#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub dir: PathBuf,
    pub settings: Settings,
}

impl Profile {
    /// The profile `name` under `home`; its folder is made on first use.
    pub fn locate(home: Option<&Path>, name: &str) -> Result<Profile> {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(CliError::Usage(format!(
                "{name:?} is not a profile name: use 1 to 40 letters, digits, dashes or underscores"
            )));
        }
        let home = match home {
            Some(home) => home.to_path_buf(),
            None => {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".quartier")).ok_or_else(|| {
                    CliError::NotSetUp("no home folder: pass --home DIR or set QUARTIER_HOME".into())
                })?
            }
        };
        let dir = home.join("profiles").join(name);
        let settings = match std::fs::read_to_string(dir.join("settings.json")) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                CliError::Storage(format!(
                    "the settings of profile {name} ({}) cannot be read: {e}; fix or delete the file",
                    dir.join("settings.json").display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                return Err(CliError::Storage(format!("cannot read the settings of profile {name}: {e}")));
            }
        };
        Ok(Profile { name: name.to_owned(), dir, settings })
    }

    pub fn database_path(&self) -> PathBuf {
        self.dir.join("quartier.db")
    }

    /// Opens the profile's database, making its folder if needed.
    pub fn open_store(&self) -> Result<std::sync::Arc<Store>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            CliError::Storage(format!("cannot make the profile folder {}: {e}", self.dir.display()))
        })?;
        Ok(std::sync::Arc::new(Store::open(self.database_path(), StoreOptions::default())?))
    }

    /// Creates the profile's database for a known identity (another device of a person).
    pub fn open_store_as(&self, identity: quartier_core::store::Identity) -> Result<std::sync::Arc<Store>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            CliError::Storage(format!("cannot make the profile folder {}: {e}", self.dir.display()))
        })?;
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        Ok(std::sync::Arc::new(Store::open(self.database_path(), options)?))
    }

    /// Where the profile keeps its secrets (the server token): a file only its owner can read.
    pub fn secrets(&self) -> quartier_core::sync::FileSecretStore {
        quartier_core::sync::FileSecretStore::new(self.dir.join("secrets.json"))
    }

    /// Saves the settings (atomically: written aside, then renamed over).
    pub fn save(&self) -> Result<()> {
        let text =
            serde_json::to_string_pretty(&self.settings).map_err(|e| CliError::Unexpected(e.to_string()))?;
        let tmp = self.dir.join("settings.json.tmp");
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, self.dir.join("settings.json")))
            .map_err(|e| CliError::Storage(format!("cannot save the settings of profile {}: {e}", self.name)))
    }

    /// The neighbourhood to act in: the one given, else the profile's current one.
    pub fn neighbourhood(&self, given: Option<&str>) -> Result<String> {
        given.map(str::to_owned).or_else(|| self.settings.neighbourhood.clone()).ok_or_else(|| {
            CliError::NotSetUp(format!(
                "profile {} is in no neighbourhood yet: create one with `quartier neighbourhood create`, or join one with an invitation",
                self.name
            ))
        })
    }
}
