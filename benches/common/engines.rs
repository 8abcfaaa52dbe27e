//! Engines as `hrsync run` processes on one store, each with its own
//! configuration file (webhook and admin ports found free first) and its secrets
//! in environment variables; each is killed when dropped, a panicking bench too.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hrsync::model::Secret;
use serde_json::Value;

/// What every engine of a bench shares: the sandbox it talks to and the store.
pub struct Shared<'a> {
    pub binary: &'a str,
    /// The sandbox's credentials line.
    pub credentials: &'a Value,
    /// `[store] url`: `postgres://user@host:port/db`, no password in it.
    pub store_url: &'a str,
    pub password: &'a Secret,
    /// `[store] lease_seconds`; the engine's default (15) when `None`.
    pub lease_seconds: Option<f64>,
    /// Where the configuration files, the contract and the logs go.
    pub dir: &'a Path,
}

/// One engine process.
pub struct EngineProcess {
    child: Child,
    pub name: String,
    pub admin_port: u16,
    pub log: PathBuf,
}

/// A port free on 127.0.0.1 now (bound to port 0 and let go).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a loopback port is free")
        .port()
}

const SECRETS: [(&str, &str); 5] = [
    ("B_HRIS_KEY", "hris_api_key"),
    ("B_SCIM_TOKEN", "scim_token"),
    ("B_LRS_USER", "xapi_user"),
    ("B_LRS_PASSWORD", "xapi_password"),
    ("B_WEBHOOK_SECRET", "webhook_secret"),
];

impl EngineProcess {
    /// Writes `NAME.toml` and starts `hrsync run` on it, taking webhooks on
    /// `webhook_port` (where the sandbox posts, for one of them).
    pub fn start(shared: &Shared, name: &str, webhook_port: u16) -> EngineProcess {
        let c = shared.credentials;
        let text = |key: &str| {
            c[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key} in {c}"))
                .to_string()
        };
        let contract = shared.dir.join("contract.toml");
        std::fs::write(&contract, include_str!("../../assets/contract.toml")).unwrap();
        let admin_port = free_port();
        let lease = shared
            .lease_seconds
            .map_or(String::new(), |s| format!("lease_seconds = {s}\n"));
        let toml = format!(
            r#"[hris]
url = "{hris}"
api_key_env = "B_HRIS_KEY"
company = "{company}"
[lms]
scim_url = "{scim}"
token_env = "B_SCIM_TOKEN"
[lrs]
url = "{xapi}"
user_env = "B_LRS_USER"
password_env = "B_LRS_PASSWORD"
[webhook]
listen = "127.0.0.1:{webhook_port}"
secret_env = "B_WEBHOOK_SECRET"
[admin]
listen = "127.0.0.1:{admin_port}"
[store]
url = "{url}"
password_env = "B_STORE_PASSWORD"
{lease}[contract]
path = "{contract}"
"#,
            hris = text("hris_url"),
            company = text("hris_company"),
            scim = text("scim_url"),
            xapi = text("xapi_url"),
            url = shared.store_url,
            contract = contract.display(),
        );
        let file = name.replace(' ', "-");
        let config = shared.dir.join(format!("{file}.toml"));
        std::fs::write(&config, toml).unwrap();
        let log = shared.dir.join(format!("{file}.log"));
        // What the engine says on its way out (an error that stops it) goes here.
        let stderr = std::fs::File::create(shared.dir.join(format!("{file}.stderr"))).unwrap();
        let child = Command::new(shared.binary)
            .arg("--log-file")
            .arg(&log)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .envs(SECRETS.iter().map(|(var, key)| (*var, text(key))))
            .env("B_STORE_PASSWORD", shared.password.expose())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the hrsync binary starts an engine");
        EngineProcess {
            child,
            name: name.to_string(),
            admin_port,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics, with the end of its log, if the engine has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let said = std::fs::read_to_string(self.log.with_extension("stderr")).unwrap_or_default();
            panic!(
                "{} exited ({status}), saying: {said}\nits log ends:\n{}",
                self.name,
                self.log_tail(20).join("\n")
            );
        }
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The engine's own count of finished events by status (`hrsync_events_finished`
    /// on its admin port's `/metrics`).
    pub fn finished(&self) -> BTreeMap<String, f64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.admin_port);
        let text = reqwest::blocking::get(&url)
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("{}'s metrics at {url}: {e}", self.name));
        text.lines()
            .filter_map(|line| line.strip_prefix("hrsync_events_finished_total{status=\""))
            .filter_map(|rest| {
                let (status, value) = rest.split_once("\"}")?;
                Some((status.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    /// Its log's warnings and errors, but for the one every start without an
    /// audit key gives.
    pub fn log_problems(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
            .filter(|line| !line.contains("no [audit] key_env"))
            .map(String::from)
            .collect()
    }
}

impl Drop for EngineProcess {
    /// Killed; on a panic, the end of its log is shown first, to say why.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}'s log ends:\n{}", self.name, self.log_tail(15).join("\n"));
        }
        self.kill();
    }
}
