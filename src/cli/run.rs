//! `hrsync run` (the engine headless on a configuration) and `hrsync demo` (the
//! sandbox and the engine together on a temporary store, no configuration).

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

fn load_contract(path: &Path) -> anyhow::Result<crate::contract::Contract> {
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

pub async fn headless(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let contract = load_contract(&config.contract_path)?;
    let engine = engine::start(&config, contract).await?;
    println!(
        "hrsync engine running: webhooks on http://{}/webhooks/hris, metrics on http://{}/metrics, store {}",
        engine.webhook_addr,
        engine.webhook_addr,
        config.store_path.display()
    );
    if let Some(load) = engine.initial_load {
        println!(
            "initial load: {} employees journaled against {} learners ({} deactivations held)",
            load.employees, load.learners, load.held
        );
    }
    shutdown_signal().await;
    println!("stopping: finishing what is in flight; the rest stays journaled");
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
        },
        lms: LmsConfig {
            scim_url: c.scim_url.clone(),
            token: Secret::new(c.scim_token.clone()),
        },
        lrs: Some(LrsConfig {
            url: c.xapi_url.clone(),
            user: Secret::new(c.xapi_user.clone()),
            password: Secret::new(c.xapi_password.clone()),
            poll_interval: Duration::from_secs(2),
        }),
        webhook: WebhookConfig {
            listen: "127.0.0.1:0".parse().expect("a literal address"),
            secret: Secret::new(c.webhook_secret.clone()),
        },
        store_path: store_path.to_path_buf(),
        contract_path: contract_path.to_path_buf(),
        retry: RetryPolicy {
            attempts: 3,
            interval: Duration::from_secs(5),
        },
        poll_interval: Duration::from_secs(30),
        safety: SafetyThreshold::default(),
        notify_url: None,
        apply: ApplyConfig::default(),
    }
}

pub async fn demo(employees: usize, churn: f64, log_file: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the demo's temporary folder")?;
    let contract_path = dir.path().join("contract.toml");
    std::fs::write(&contract_path, include_str!("../../assets/contract.toml"))?;
    let contract = load_contract(&contract_path)?;
    // The engine's port is bound first so the sandbox can post webhooks to it; they
    // wait in the backlog while the initial load runs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let webhook_url = format!("http://{}/webhooks/hris", listener.local_addr()?).parse()?;
    let sandbox = Sandbox::start(SandboxConfig {
        employees,
        churn_per_sec: churn,
        completions_per_sec: churn,
        webhook_url: Some(webhook_url),
        ..SandboxConfig::default()
    })
    .await?;
    let config = sandbox_config(&sandbox, &dir.path().join("hrsync.db"), &contract_path);
    println!("hrsync demo: sandbox HRIS + LMS with {employees} employees; initial load running...");
    let engine = engine::start_with_listener(&config, contract, listener).await?;
    println!(
        "engine running (store {}); churn {churn}/s flows in by signed webhooks. The console comes next; \
         meanwhile progress prints here every 2 s.",
        config.store_path.display()
    );
    println!("Log: {}. Press Ctrl-C to stop.", log_file.display());
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => print_progress(&engine),
        }
    }
    engine.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

fn print_progress(engine: &RunningEngine) {
    if let Ok(c) = engine.store.counts() {
        println!(
            "events {:>7}: {:>6} pending  {:>6} applied  {:>6} unchanged  {:>3} retrying  {:>3} dead  {:>3} rejected  {:>3} held",
            c.total, c.pending, c.applied, c.unchanged, c.retrying, c.dead_letters, c.rejected, c.held
        );
    }
}
