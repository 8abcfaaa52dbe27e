//! Opening an SFTP session: TCP, the SSH handshake with the host key held
//! against known_hosts (refused before any secret is sent), the login with a
//! key or a password, then the sftp subsystem.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use russh::client::{self, DisconnectReason, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;
use tokio_util::sync::CancellationToken;

use super::host_keys::HostKeyCheck;
use super::{ConnectorError, SftpAuth, transient};

/// How long one SFTP request may wait for its answer.
pub(super) const REQUEST_TIMEOUT_S: u64 = 60;

/// Who logs in where, and how the server is recognised.
#[derive(Debug)]
pub(super) struct Login {
    /// `sftp://user@host:port`, the prefix of every remote path in a message.
    pub server: String,
    pub user: String,
    pub auth: SftpAuth,
    pub check: HostKeyCheck,
}

pub(super) struct Connection {
    /// Held so the SSH session lives as long as the SFTP one.
    _ssh: Handle<Client>,
    pub sftp: Arc<RawSftpSession>,
    /// Cancelled when the SSH session ends, so requests in flight stop waiting.
    pub dropped: CancellationToken,
}

impl Login {
    pub async fn connect(&self) -> Result<Connection, ConnectorError> {
        let mut config = client::Config {
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            ..client::Config::default()
        };
        let recorded = self.check.recorded_algorithms();
        if !recorded.is_empty() {
            let mut order = recorded;
            for algorithm in config.preferred.key.iter() {
                if !order.contains(algorithm) {
                    order.push(algorithm.clone());
                }
            }
            config.preferred.key = Cow::Owned(order);
        }
        let refusal = Arc::new(Mutex::new(None));
        let dropped = CancellationToken::new();
        let handler = Client {
            check: self.check.clone(),
            refusal: refusal.clone(),
            dropped: dropped.clone(),
        };
        let address = (self.check.host.as_str(), self.check.port);
        let mut ssh = match client::connect(Arc::new(config), address, handler).await {
            Ok(ssh) => ssh,
            Err(error) => {
                if let Some(why) = refusal.lock().take() {
                    return Err(ConnectorError::permanent(format!(
                        "connecting to {}: {why}",
                        self.server
                    )));
                }
                return Err(sorted_ssh(&format!("connecting to {}", self.server), error));
            }
        };
        self.log_in(&mut ssh).await?;
        let opening = format!("opening SFTP on {}", self.server);
        let channel = ssh
            .channel_open_session()
            .await
            .map_err(|e| sorted_ssh(&opening, e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| sorted_ssh(&opening, e))?;
        let sftp_config = russh_sftp::client::Config {
            request_timeout_secs: REQUEST_TIMEOUT_S,
            ..Default::default()
        };
        let sftp = RawSftpSession::new_with_config(channel.into_stream(), sftp_config);
        sftp.init()
            .await
            .map_err(|error| transient(format!("{opening}: {error}")))?;
        Ok(Connection {
            _ssh: ssh,
            sftp: Arc::new(sftp),
            dropped,
        })
    }

    /// The key first, then the password; either may be left out, not both.
    async fn log_in(&self, ssh: &mut Handle<Client>) -> Result<(), ConnectorError> {
        let what = format!("logging in to {}", self.server);
        let mut tried = Vec::new();
        if let Some(text) = &self.auth.private_key {
            let passphrase = self.auth.key_passphrase.as_ref().map(|p| p.expose());
            let key = russh::keys::decode_secret_key(text.expose(), passphrase).map_err(|error| {
                ConnectorError::permanent(format!("{what}: the private key cannot be read: {error}"))
            })?;
            let fingerprint = key.public_key().fingerprint(HashAlg::Sha256);
            let hash = ssh
                .best_supported_rsa_hash()
                .await
                .map_err(|e| sorted_ssh(&what, e))?
                .flatten();
            let answer = ssh
                .authenticate_publickey(&self.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(|e| sorted_ssh(&what, e))?;
            if answer.success() {
                return Ok(());
            }
            tried.push(format!("the key {fingerprint}"));
        }
        if let Some(password) = &self.auth.password {
            let answer = ssh
                .authenticate_password(&self.user, password.expose())
                .await
                .map_err(|e| sorted_ssh(&what, e))?;
            if answer.success() {
                return Ok(());
            }
            tried.push("the password".to_string());
        }
        if tried.is_empty() {
            return Err(ConnectorError::permanent(format!(
                "{what}: no private key or password is given for {}",
                self.user
            )));
        }
        Err(ConnectorError::permanent(format!(
            "{what}: the server refused {} as {}",
            tried.join(" and "),
            self.user
        )))
    }
}

/// Network trouble is worth retrying; a protocol or key mismatch is not.
fn sorted_ssh(what: &str, error: russh::Error) -> ConnectorError {
    use russh::Error::*;
    let message = format!("{what}: {error}");
    match error {
        IO(_) | Disconnect | HUP | ConnectionTimeout | KeepaliveTimeout | InactivityTimeout | SendError
        | Elapsed(_) | Join(_) | RecvError => transient(message),
        _ => ConnectorError::permanent(message),
    }
}

/// russh's callbacks: the host key check, and noticing the session end.
struct Client {
    check: HostKeyCheck,
    refusal: Arc<Mutex<Option<String>>>,
    dropped: CancellationToken,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.dropped.cancel();
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let verdict = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.check.verify(key),
            PublicKeyOrCertificate::Certificate(_) => {
                Err("the server showed a host certificate, which is not checked".into())
            }
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(why) => {
                *self.refusal.lock() = Some(why);
                Ok(false)
            }
        }
    }

    async fn disconnected(&mut self, reason: DisconnectReason<Self::Error>) -> Result<(), Self::Error> {
        self.dropped.cancel();
        match reason {
            DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            DisconnectReason::Error(error) => Err(error),
        }
    }
}
