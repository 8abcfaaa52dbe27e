//! A whole fake HRIS (BambooHR-shaped), LMS (SCIM 2.0) and LRS (xAPI 1.0.3)
//! speaking the real protocols on one loopback address, with a deterministic
//! workforce, churn, completions and fault injection. It is the outside world:
//! it never uses the engine.

pub mod admin;
pub mod churn;
pub mod export;
pub mod faults;
pub mod hris;
mod pace;
mod quirks;
pub mod scim;
mod serve;
pub mod tally;
pub mod world;
pub mod xapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use jiff::Timestamp;
use jiff::civil::Date;
use parking_lot::{Mutex, RwLock};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use faults::{FaultState, Faults, ScimQuirk};
use hris::state::HrisState;
use scim::LmsState;
use world::{PlantedDuplicate, WorkforceSpec};
use xapi::LrsState;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub addr: SocketAddr,
    pub employees: usize,
    pub seed: u64,
    /// HRIS changes per second from the churn generator (0: none).
    pub churn_per_sec: f64,
    /// xAPI completions per second from the completion generator (0: none).
    pub completions_per_sec: f64,
    /// Where HRIS webhooks are posted; none are sent without it.
    pub webhook_url: Option<url::Url>,
    pub faults: Faults,
    /// The company name in the HRIS URL path.
    pub company: String,
    /// The day the workforce's dates are spread around (default: today, UTC).
    pub today: Option<Date>,
    /// Where nightly-style CSV exports go (none are written without it), and
    /// the default folder of `POST /_sandbox/export`.
    pub export_dir: Option<PathBuf>,
    /// How often the exports are written after the first, at start.
    pub export_every: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            employees: 100,
            seed: 1,
            churn_per_sec: 0.0,
            completions_per_sec: 0.0,
            webhook_url: None,
            faults: Faults::default(),
            company: "acme".into(),
            today: None,
            export_dir: None,
            export_every: export::DEFAULT_EVERY,
        }
    }
}

/// Base URLs and credentials: the first line `hrsync sandbox` prints.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    pub hris_url: String,
    pub hris_company: String,
    pub hris_api_key: String,
    pub webhook_secret: String,
    pub scim_url: String,
    pub scim_token: String,
    pub xapi_url: String,
    pub xapi_user: String,
    pub xapi_password: String,
    pub admin_url: String,
}

impl Credentials {
    fn new(addr: SocketAddr, company: &str) -> Self {
        let base = format!("http://{addr}");
        let secret = |len| Alphanumeric.sample_string(&mut rand::rng(), len);
        Self {
            hris_url: base.clone(),
            hris_company: company.to_string(),
            hris_api_key: secret(40),
            webhook_secret: secret(32),
            scim_url: format!("{base}/scim/v2"),
            scim_token: secret(40),
            xapi_url: format!("{base}/xAPI"),
            xapi_user: format!("lrs-{}", secret(8).to_lowercase()),
            xapi_password: secret(24),
            admin_url: format!("{base}/_sandbox"),
        }
    }

    /// The HRIS API base, `{hris_url}/api/gateway.php/{company}/v1`.
    pub fn hris_api(&self) -> String {
        format!("{}/api/gateway.php/{}/v1", self.hris_url, self.hris_company)
    }
}

/// Everything the three systems hold, shared by their handlers and generators.
pub struct Shared {
    pub credentials: Credentials,
    pub hris: Mutex<HrisState>,
    pub lms: RwLock<LmsState>,
    pub lrs: RwLock<LrsState>,
    pub faults: FaultState,
    /// Requests received, per system and method (`/_sandbox/state`).
    pub requests: tally::RequestTally,
    pub churn: Mutex<churn::ChurnState>,
    pub planted_duplicates: Vec<PlantedDuplicate>,
    pub seed: u64,
    /// `--export-dir`, made absolute: where exports go unless a request names a folder.
    pub export_dir: Option<PathBuf>,
}

impl Shared {
    /// Replaces the faults at run time and carries out what a newly set one
    /// does at once: `no_groups` deletes every group there is then (set again
    /// while already on, it leaves the groups clients have made since).
    pub fn set_faults(&self, faults: Faults) {
        let mut lms = self.lms.write();
        let had_no_groups = self.faults.scim_quirks().has(ScimQuirk::NoGroups);
        let wants_no_groups = faults.scim.quirks.contains(&ScimQuirk::NoGroups);
        self.faults.set(faults);
        if wants_no_groups && !had_no_groups {
            lms.delete_all_groups();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("bad faults: {0}")]
    Faults(String),
    #[error("employees must be between 1 and 1,000,000, got {0}")]
    Employees(usize),
    #[error("the export folder {path}: {source}")]
    ExportDir { path: PathBuf, source: std::io::Error },
    #[error("the time between exports must be more than zero")]
    ExportEvery,
}

/// A running sandbox. Dropping it stops every task it started.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if !(1..=1_000_000).contains(&config.employees) {
            return Err(SandboxError::Employees(config.employees));
        }
        config.faults.validate().map_err(SandboxError::Faults)?;
        if config.export_every.is_zero() {
            return Err(SandboxError::ExportEvery);
        }
        let export_dir = config
            .export_dir
            .as_deref()
            .map(|dir| {
                std::path::absolute(dir).map_err(|source| SandboxError::ExportDir {
                    path: dir.to_path_buf(),
                    source,
                })
            })
            .transpose()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.addr,
            source,
        })?;

        let now = Timestamp::now();
        let spec = WorkforceSpec {
            employees: config.employees,
            seed: config.seed,
            today: config
                .today
                .unwrap_or_else(|| now.to_zoned(jiff::tz::TimeZone::UTC).date()),
            generated_at: now,
        };
        let workforce = tokio::task::spawn_blocking(move || world::generate(&spec))
            .await
            .expect("workforce generation does not panic");
        let planted_duplicates = workforce.planted_duplicates.clone();

        let (webhook_tx, webhook_rx) = match &config.webhook_url {
            Some(_) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        // Imitating a server without learning paths, the LMS starts with none.
        let learning_paths = if config.faults.scim.quirks.contains(&ScimQuirk::NoGroups) {
            Vec::new()
        } else {
            world::catalog::learning_paths()
        };
        let credentials = Credentials::new(addr, &config.company);
        let shared = Arc::new(Shared {
            credentials,
            hris: Mutex::new(HrisState::new(workforce, webhook_tx)),
            lms: RwLock::new(LmsState::new(&learning_paths)),
            lrs: RwLock::new(LrsState::new()),
            faults: FaultState::new(config.faults.clone(), config.seed),
            requests: tally::RequestTally::default(),
            churn: Mutex::new(churn::ChurnState::new(config.seed)),
            planted_duplicates,
            seed: config.seed,
            export_dir: export_dir.clone(),
        });

        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        let app = router().with_state(shared.clone());
        tasks.push(tokio::spawn(serve::serve(
            listener,
            app,
            shared.clone(),
            cancel.clone(),
        )));
        if let (Some(url), Some(rx)) = (config.webhook_url.clone(), webhook_rx) {
            tasks.push(tokio::spawn(hris::webhooks::deliver(
                rx,
                url,
                shared.clone(),
                cancel.clone(),
            )));
        }
        if config.churn_per_sec > 0.0 {
            tasks.push(tokio::spawn(churn::run(
                shared.clone(),
                config.churn_per_sec,
                cancel.clone(),
            )));
        }
        if config.completions_per_sec > 0.0 {
            tasks.push(tokio::spawn(xapi::completions::run(
                shared.clone(),
                config.completions_per_sec,
                cancel.clone(),
            )));
        }
        if let Some(dir) = export_dir {
            tasks.push(tokio::spawn(export::run(
                shared.clone(),
                dir,
                config.export_every,
                cancel.clone(),
            )));
        }
        tracing::info!(%addr, employees = config.employees, seed = config.seed, "sandbox started");
        Ok(Sandbox {
            addr,
            shared,
            cancel,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    /// The shared state, for in-process inspection by tests and benchmarks.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops serving and generating, and waits for every task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn router() -> Router<Arc<Shared>> {
    let company_api = "/api/gateway.php/{company}/v1";
    Router::new()
        .nest(company_api, hris::router())
        .nest("/scim/v2", scim::router())
        .nest("/xAPI", xapi::router())
        .nest(
            "/_sandbox",
            admin::router()
                .merge(xapi::admin_router())
                .layer(axum::middleware::from_fn(admin::loopback_only)),
        )
}
