//! `hrsync run` (the engine headless on a configuration) and `hrsync demo` (the
//! sandbox and the engine together on a temporary store, no configuration).

use super::out::{follow, progress, say};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::shutdown_signal;
use crate::config::{
    ApplyConfig, Config, HrisConfig, LmsConfig, LrsConfig, RetryPolicy, SafetyThreshold, WebhookConfig,
};
use crate::engine::{self, RunningEngine};
use crate::model::Secret;
use crate::sandbox::{Sandbox, SandboxConfig};

pub(super) fn load_contract(path: &Path) -> anyhow::Result<crate::contract::Contract> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the contract {}", path.display()))?;
    crate::contract::parse(&text).map_err(|problems| {
        let listed: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))
            .collect();
        anyhow::anyhow!("the contract was not accepted:\n{}", listed.join("\n"))
    })
}

pub async fn headless(config_path: &Path, shadow: bool) -> anyhow::Result<()> {
    let mut config = Config::load(config_path)?;
    config.shadow |= shadow;
    let contract = load_contract(&config.contract_path)?;
    let engine = engine::start(&config, contract).await?;
    say!(
        "hrsync engine running: webhooks on http://{}/webhooks/hris, metrics and health on http://{}, store {}",
        engine.webhook_addr,
        engine.admin_addr,
        config.store_location()
    )?;
    if let Some(load) = engine.initial_load {
        say!(
            "initial load: {} employees journaled against {} learners ({} deactivations held)",
            load.employees,
            load.learners,
            load.held
        )?;
        // On a terminal, a bar on standard error until the load is applied.
        follow(progress(0, "initial load", false), engine.loading.clone());
    }
    shutdown_signal().await;
    say!("stopping: finishing what is in flight; the rest stays journaled")?;
    engine.shutdown().await;
    Ok(())
}

/// The engine's configuration for a sandbox, with the sandbox's own secrets.
pub fn sandbox_config(sandbox: &Sandbox, store_path: &Path, contract_path: &Path) -> Config {
    let credentials = serde_json::to_value(sandbox.credentials()).expect("credentials serialize");
    sandbox_config_from(&credentials, store_path, contract_path)
}

/// The same from the credentials line `hrsync sandbox` prints.
pub fn sandbox_config_from(
    credentials: &serde_json::Value,
    store_path: &Path,
    contract_path: &Path,
) -> Config {
    let c: crate::sandbox::Credentials =
        serde_json::from_value(credentials.clone()).expect("the sandbox's credentials line");
    Config {
        hris: HrisConfig {
            api_base: c.hris_api(),
            api_key: Secret::new(c.hris_api_key.clone()),
            kind: crate::config::HrisKind::BambooHr,
            files: None,
        },
        lms: LmsConfig {
            kind: crate::config::LmsKind::Scim,
            feed: None,
            scim_url: c.scim_url.clone(),
            token: Secret::new(c.scim_token.clone()),
            create_groups: true,
            quirks: Vec::new(),
        },
        lrs: Some(LrsConfig {
            kind: crate::config::LrsKind::Xapi,
            url: c.xapi_url.clone(),
            user: Secret::new(c.xapi_user.clone()),
            password: Secret::new(c.xapi_password.clone()),
            poll_interval: Duration::from_secs(2),
            overlap: Duration::from_secs(600),
            reports: None,
        }),
        webhook: WebhookConfig {
            listen: "127.0.0.1:0".parse().expect("a literal address"),
            secret: Secret::new(c.webhook_secret.clone()),
            limits: crate::config::ListenerLimits::default(),
        },
        admin_listen: "127.0.0.1:0".parse().expect("a literal address"),
        store_path: store_path.to_path_buf(),
        store_url: None,
        keep_finished: crate::config::DEFAULT_KEEP_FINISHED,
        lease_time: crate::config::DEFAULT_LEASE_TIME,
        contract_path: contract_path.to_path_buf(),
        retry: RetryPolicy {
            attempts: 3,
            interval: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        poll_interval: Duration::from_secs(30),
        safety: SafetyThreshold::default(),
        notify_url: None,
        alerts: crate::config::AlertPolicy::default(),
        apply: ApplyConfig::default(),
        reconcile: crate::config::ReconcileSchedule::default(),
        audit: crate::config::AuditConfig::default(),
        shadow: false,
        parallel: crate::config::ParallelConfig::default(),
        preview: crate::config::PreviewConfig::default(),
    }
}

/// What `hrsync demo` runs with: the sandbox's size and pace, and how it is shown.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub employees: usize,
    pub churn: f64,
    /// Print progress lines instead of opening the console (also when stdout is no terminal).
    pub headless: bool,
    /// Faults in place of the demo's light sprinkle.
    pub faults: Option<crate::sandbox::faults::Faults>,
    pub no_color: bool,
    /// The HRIS sends nightly exports (every 20 s here) instead of webhooks.
    pub hris_files: bool,
    /// Shadow mode: plan every write, make none.
    pub shadow: bool,
}

/// How often the demo's sandbox writes an HRIS export in flat-file mode.
const DEMO_EXPORT_EVERY: Duration = Duration::from_secs(20);

/// The sandbox, the engine and the console together on a temporary store, with
/// churn, completions and a sprinkle of faults, so every pane has something real
/// in it within seconds: dead letters (the LMS fails now and then and the demo
/// retries quickly), refused webhooks, a planted duplicate refused by the LMS,
/// and a mass termination held by the safety threshold.
pub async fn demo(options: DemoOptions, log_file: &Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let dir = tempfile::tempdir().context("creating the demo's temporary folder")?;
    let contract_path = dir.path().join("contract.toml");
    let contract_text = include_str!("../../assets/contract.toml");
    std::fs::write(&contract_path, contract_text)?;
    let contract = load_contract(&contract_path)?;
    // The engine's port is bound first so the sandbox can post webhooks to it; they
    // wait in the backlog while the initial load runs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let webhook_url = format!("http://{}/webhooks/hris", listener.local_addr()?).parse()?;
    let faults = options.faults.clone().unwrap_or(crate::sandbox::faults::Faults {
        scim: crate::sandbox::faults::SystemFaults {
            error_ratio: 0.03,
            ..Default::default()
        },
        hris: crate::sandbox::faults::SystemFaults {
            error_ratio: 0.02,
            ..Default::default()
        },
        webhooks: crate::sandbox::faults::WebhookFaults {
            unsigned_ratio: 0.02,
            malformed_ratio: 0.01,
            duplicate_ratio: 0.05,
            ..Default::default()
        },
        ..Default::default()
    });
    let inbox = dir.path().join("inbox");
    let sandbox = Sandbox::start(SandboxConfig {
        employees: options.employees,
        churn_per_sec: options.churn,
        completions_per_sec: options.churn,
        // In flat-file mode the HRIS only writes exports.
        webhook_url: (!options.hris_files).then_some(webhook_url),
        export_dir: options.hris_files.then(|| inbox.clone()),
        export_every: DEMO_EXPORT_EVERY,
        faults,
        ..SandboxConfig::default()
    })
    .await?;
    let mut config = sandbox_config(&sandbox, &dir.path().join("hrsync.db"), &contract_path);
    config.shadow = options.shadow;
    if options.hris_files {
        config.hris = crate::config::HrisConfig {
            kind: crate::config::HrisKind::Csv,
            api_base: String::new(),
            api_key: Secret::new(""),
            files: Some(crate::config::ExportFeed {
                inbox: inbox.display().to_string(),
                pattern: "hris-*.csv".into(),
                columns: crate::sandbox::export::EXPORT_COLUMNS
                    .iter()
                    .map(|(column, field)| (column.to_string(), field.to_string()))
                    .collect(),
                delimiter: None,
                encoding: None,
                settle: Duration::from_secs(1),
                done_suffix: Some(".done".into()),
                outbox: dir.path().join("outbox"),
                keep: Duration::from_secs(86_400),
                scan_every: Duration::from_secs(2),
                sftp: Default::default(),
            }),
        };
        // Exports cannot take training records back: no write-back, as a loaded
        // configuration would refuse one.
        config.lrs = None;
    }
    // Quick retries, so a dead letter shows within seconds.
    config.retry = RetryPolicy {
        attempts: 2,
        interval: Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    let admin = sandbox.credentials().admin_url.clone();
    // Faults can be set while the demo runs (`POST {admin}/faults`): an outage on
    // demand. The console takes the screen, so the log says it too.
    tracing::info!(admin_url = %admin, "the sandbox's admin API: counts, churn and faults");
    say!(
        "hrsync demo: sandbox HRIS + LMS + LRS with {} employees (admin API {admin}: faults, churn); \
         initial load running...",
        options.employees
    )?;
    let engine = engine::start_with_listener(&config, contract, listener).await?;
    let held = tokio::spawn(async move {
        // After a while, a reorganisation terminates more people than the safety
        // threshold lets through in one delivery: they wait in the held pane.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let body = serde_json::json!({ "changes": [{ "kind": "termination", "count": 60 }] });
        if let Err(error) = reqwest::Client::new()
            .post(format!("{admin}/churn"))
            .json(&body)
            .send()
            .await
        {
            tracing::warn!(%error, "the demo's mass termination was not sent");
        }
    });
    let result = if options.headless || !std::io::stdout().is_terminal() {
        say!(
            "engine running (store {}); churn {}/s flows in by signed webhooks, completions flow back. \
             Progress prints here every 2 s.",
            config.store_location(),
            options.churn
        )?;
        say!("Log: {}. Press Ctrl-C to stop.", log_file.display())?;
        let signal = shutdown_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                _ = &mut signal => break,
                _ = tokio::time::sleep(Duration::from_secs(2)) => print_progress(&engine)?,
            }
        }
        Ok(())
    } else {
        let handle = crate::engine::operator::handle::EngineHandle::in_process(
            &engine,
            Some(contract_text.to_string()),
        );
        crate::console::run_console(
            handle,
            crate::console::ConsoleOptions {
                read_only: false,
                no_color: options.no_color,
            },
        )
        .await
    };
    held.abort();
    engine.shutdown().await;
    sandbox.shutdown().await;
    result
}

fn print_progress(engine: &RunningEngine) -> anyhow::Result<()> {
    if let Ok(c) = engine.store.counts() {
        say!(
            "events {:>7}: {:>6} pending  {:>6} applied  {:>6} unchanged  {:>3} retrying  {:>3} dead  {:>3} rejected  {:>3} held",
            c.total,
            c.pending,
            c.applied,
            c.unchanged,
            c.retrying,
            c.dead_letters,
            c.rejected,
            c.held
        )?;
    }
    Ok(())
}
