//! The soak's world: `hrsync sandbox` in its own process posting webhooks to a
//! port found free, a configuration for `hrsync run` on a temporary store, the
//! engine started (and killed, and started again) as a child, and the waits
//! the run polls with a deadline instead of sleeping.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hrsync::sandbox::Credentials;
use hrsync::store::Store;
use serde_json::{Value, json};

use crate::common::{SandboxProcess, process_mb};

pub struct World {
    pub dir: tempfile::TempDir,
    /// Held for as long as the world lives: dropping it stops the sandbox.
    #[allow(dead_code)]
    sandbox: SandboxProcess,
    pub credentials: Credentials,
    pub config: PathBuf,
    /// Another handle on the engine's store, for reading the journal.
    pub store: Store,
    pub webhook: SocketAddr,
    pub http: reqwest::Client,
}

/// `hrsync run` as a child process.
pub struct Engine {
    pub child: Child,
}

impl World {
    /// Starts the sandbox with `employees` and writes the engine's configuration:
    /// retries enough to outlast the fault cycle's outages, a poll every 5 s to
    /// bring in what the webhooks lose while the engine is down.
    pub fn start(employees: usize) -> World {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let webhook: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let sandbox = SandboxProcess::start_with(
            env!("CARGO_BIN_EXE_hrsync"),
            employees,
            17,
            &["--webhook-url", &format!("http://{webhook}/webhooks/hris")],
        );
        let credentials: Credentials = serde_json::from_value(sandbox.credentials.clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let contract = dir.path().join("contract.toml");
        std::fs::write(&contract, include_str!("../../assets/contract.toml")).unwrap();
        let store_path = dir.path().join("hrsync.db");
        let config = dir.path().join("hrsync.toml");
        let toml = format!(
            r#"[hris]
url = "{hris}"
api_key_env = "SOAK_HRIS_KEY"
company = "{company}"
[lms]
scim_url = "{scim}"
token_env = "SOAK_SCIM_TOKEN"
[webhook]
listen = "{webhook}"
secret_env = "SOAK_WEBHOOK_SECRET"
[admin]
listen = "127.0.0.1:0"
[store]
path = "{store}"
[contract]
path = "{contract}"
[retry]
attempts = 20
interval_s = 2
[poll]
interval_s = 5
"#,
            hris = credentials.hris_url,
            company = credentials.hris_company,
            scim = credentials.scim_url,
            store = store_path.display(),
            contract = contract.display(),
        );
        std::fs::write(&config, toml).unwrap();
        let store = Store::open(&store_path).unwrap();
        World {
            dir,
            sandbox,
            credentials,
            config,
            store,
            webhook,
            http: reqwest::Client::new(),
        }
    }

    /// Starts `hrsync run` and waits until its webhook listener answers.
    pub async fn spawn_engine(&self) -> Engine {
        let c = &self.credentials;
        let child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--log-file")
            .arg(self.dir.path().join("hrsync.log"))
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .envs([
                ("SOAK_HRIS_KEY", &c.hris_api_key),
                ("SOAK_SCIM_TOKEN", &c.scim_token),
                ("SOAK_WEBHOOK_SECRET", &c.webhook_secret),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hrsync starts");
        let mut engine = Engine { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(self.webhook).is_err() {
            assert!(
                engine.child.try_wait().unwrap().is_none(),
                "the engine exited at start; see {}",
                self.dir.path().join("hrsync.log").display()
            );
            assert!(Instant::now() < deadline, "the engine did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        engine
    }

    pub async fn set_faults(&self, faults: &Value) {
        let answer = self
            .http
            .post(format!("{}/faults", self.credentials.admin_url))
            .json(faults)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "faults {faults}: {}",
            answer.status()
        );
    }

    pub async fn sandbox_state(&self) -> Value {
        self.http
            .get(format!("{}/state", self.credentials.admin_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Applies `changes` in the HRIS now; returns the employees changed. A change
    /// that cannot apply (nobody eligible) ends the request: what applied before it stays.
    pub async fn churn(&self, changes: &[&str]) -> Vec<String> {
        let changes: Vec<Value> = changes.iter().map(|kind| json!({ "kind": kind })).collect();
        let answer: Value = self
            .http
            .post(format!("{}/churn", self.credentials.admin_url))
            .json(&json!({ "changes": changes }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["applied"]
            .as_array()
            .map(|applied| {
                applied
                    .iter()
                    .filter_map(|change| change["employee_id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until nothing is due within the next 10 s (a future-dated hire waits
    /// for its day, as it should); false if `limit` passes first.
    pub async fn settled_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
            if self.store.ready(horizon, 1).unwrap().is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every webhook is delivered or given up and a poll has read past
    /// the HRIS's last change; false if `limit` passes first.
    pub async fn caught_up_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.sandbox_state().await["hris"]["webhooks_queued"] != 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let last = self.sandbox_state().await["hris"]["last_changed"]
            .as_str()
            .map(|t| t.parse::<jiff::Timestamp>().unwrap());
        loop {
            let polled = self
                .store
                .cursor(hrsync::engine::intake::initial_load::POLL_CURSOR)
                .unwrap()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok());
            if polled.is_some() && polled >= last {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Engine {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now (`VmRSS:`) or at its peak (`VmHWM:`), in MB.
    pub fn mb(&self, field: &str) -> f64 {
        process_mb(&self.pid().to_string(), field)
    }

    /// SIGKILL, and the exit reaped.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// Whether it has ended by itself.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// SIGTERM, waiting for a clean stop; false if it did not stop cleanly.
    pub fn terminate(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        sent && self.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Engine {
    /// A bench that fails part-way leaves no engine behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
