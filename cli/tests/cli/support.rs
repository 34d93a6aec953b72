//! One person at the terminal: the real `quartier` binary with a profile in the test's home folder.

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;
use tempfile::TempDir;

/// One person at the terminal: a profile in the home folder of its test.
pub struct Person {
    pub home: PathBuf,
    pub profile: &'static str,
}

impl Person {
    pub fn new(home: &TempDir, profile: &'static str) -> Person {
        Person { home: home.path().to_path_buf(), profile }
    }

    pub fn cmd(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("quartier")
            .unwrap()
            .env_remove("QUARTIER_PROFILE")
            .env_remove("QUARTIER_HOME")
            .arg("--home")
            .arg(&self.home)
            .arg("--profile")
            .arg(self.profile)
            .args(args)
            .assert()
    }

    /// Runs a command that must succeed, with `--json`, and returns its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cmd(&all).success().get_output().stdout.clone();
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out)))
    }

    /// Runs a command that must succeed and returns what it printed for people.
    pub fn say(&self, args: &[&str]) -> String {
        String::from_utf8(self.cmd(args).success().get_output().stdout.clone()).unwrap()
    }

    /// Runs a command that must fail with `exit` and returns the JSON error.
    pub fn fails(&self, exit: i32, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cmd(&all).code(exit).get_output().stdout.clone();
        let json: Value = serde_json::from_slice(&out).unwrap();
        json["error"].clone()
    }

    /// Creates something and returns its id.
    pub fn create(&self, args: &[&str]) -> String {
        self.json(args)["id"].as_str().unwrap().to_owned()
    }
}

/// A person who founds a neighbourhood (and so is its moderator).
pub fn found(home: &TempDir, profile: &'static str, name: &str) -> Person {
    let person = Person::new(home, profile);
    person.json(&[
        "neighbourhood",
        "create",
        "--name",
        "Aligre",
        "--display-name",
        name,
        "--lat",
        "48.8490",
        "--lon",
        "2.3780",
    ]);
    person
}
