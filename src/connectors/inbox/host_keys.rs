//! Is this SSH server the one we met before? Its host key is held against
//! known_hosts as OpenSSH does: a match passes, a different key for a known host
//! is refused always, and an unknown host passes only when new keys are accepted.

use std::path::PathBuf;

use std::io::Write;

use russh::keys::known_hosts::known_host_keys_path;
use russh::keys::{Algorithm, HashAlg, PublicKey};

/// The known_hosts check for one server.
#[derive(Clone, Debug)]
pub(super) struct HostKeyCheck {
    pub host: String,
    pub port: u16,
    pub known_hosts: PathBuf,
    pub accept_new: bool,
}

impl HostKeyCheck {
    /// The host as known_hosts writes it: `host`, or `[host]:port` off port 22.
    fn named(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }

    /// The key algorithms recorded for this host, so the server is asked to
    /// show a key we can compare (OpenSSH orders its offer the same way).
    pub fn recorded_algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for (_, key) in known_host_keys_path(&self.host, self.port, &self.known_hosts).unwrap_or_default() {
            if !algorithms.contains(&key.algorithm()) {
                algorithms.push(key.algorithm());
            }
        }
        algorithms
    }

    /// `Ok` when the server may be trusted with `key`; else why not, in words
    /// that name the host, the key's fingerprint and the known_hosts file.
    pub fn verify(&self, key: &PublicKey) -> Result<(), String> {
        let file = self.known_hosts.display();
        let host = self.named();
        let shown = format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256));
        let recorded = known_host_keys_path(&self.host, self.port, &self.known_hosts)
            .map_err(|error| format!("the host key of {host} cannot be checked: reading {file}: {error}"))?;
        if recorded
            .iter()
            .any(|(_, known)| known.key_data() == key.key_data())
        {
            return Ok(());
        }
        if let Some((line, _)) = recorded.first() {
            return Err(format!(
                "the host key of {host} has CHANGED: the server shows {shown}, which does not match \
                 {file} line {line}. Refused: this may be someone in the middle. If the server's key \
                 was replaced on purpose, remove that line and connect again"
            ));
        }
        if !self.accept_new {
            return Err(format!(
                "the host key of {host} is not known: the server shows {shown}, which is not in {file}. \
                 Check that fingerprint with the server's administrator, then add the key to {file} \
                 (ssh-keyscan -p {} {} >> {file}) or set accept_new_host_key = true",
                self.port, self.host
            ));
        }
        self.learn(key).map_err(|error| {
            format!("the host key of {host} ({shown}) cannot be added to {file}: {error}")
        })?;
        tracing::info!(host = %host, key = %shown, known_hosts = %file, "added a new SSH host key to known_hosts");
        Ok(())
    }

    /// Appends `key` as OpenSSH would (russh's own helper starts a new file
    /// with an empty line).
    fn learn(&self, key: &PublicKey) -> std::io::Result<()> {
        if let Some(folder) = self.known_hosts.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let existing = std::fs::read(&self.known_hosts).unwrap_or_default();
        let openssh = key.to_openssh().map_err(std::io::Error::other)?;
        let mut line = format!("{} {openssh}\n", self.named());
        if existing.last().is_some_and(|last| *last != b'\n') {
            line.insert(0, '\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.known_hosts)?;
        file.write_all(line.as_bytes())?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKey {
        PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ",
        )
        .unwrap()
    }

    fn check(dir: &tempfile::TempDir, accept_new: bool) -> HostKeyCheck {
        HostKeyCheck {
            host: "127.0.0.1".into(),
            port: 2222,
            known_hosts: dir.path().join("ssh/known_hosts"),
            accept_new,
        }
    }

    #[test]
    fn an_unknown_key_is_refused_then_learned_then_known() {
        let dir = tempfile::tempdir().unwrap();
        let key = key();
        let refused = check(&dir, false).verify(&key).unwrap_err();
        assert!(refused.contains("[127.0.0.1]:2222 is not known"), "{refused}");
        assert!(
            refused.contains(&key.fingerprint(HashAlg::Sha256).to_string()),
            "{refused}"
        );
        assert!(refused.contains("ssh/known_hosts"), "{refused}");

        check(&dir, true).verify(&key).expect("learned");
        let written = std::fs::read_to_string(dir.path().join("ssh/known_hosts")).unwrap();
        assert!(written.starts_with("[127.0.0.1]:2222 ssh-ed25519 "), "{written}");
        check(&dir, false).verify(&key).expect("now known");
        assert_eq!(check(&dir, false).recorded_algorithms(), [Algorithm::Ed25519]);
    }
}
