//! `hrsync doctor`: reads (never writes) the HRIS, the LMS and the LRS a
//! configuration names, and says what each supports and what hrsync will do
//! differently because of it.

use super::out::{print_json, say};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::connectors::{HrisClient, LrsClient, ScimClient, ScimFindings};

#[derive(Serialize)]
struct Report {
    hris: Reach,
    lms: LmsSide,
    lrs: Option<Reach>,
}

/// A SCIM server probed, or a CSV feed checked.
#[derive(Serialize)]
#[serde(untagged)]
enum LmsSide {
    Scim(LmsReport),
    Feed(super::doctor_feed::FeedReport),
}

#[derive(Serialize)]
struct Reach {
    url: String,
    reachable: bool,
    problem: Option<String>,
}

#[derive(Serialize)]
struct LmsReport {
    url: String,
    reachable: bool,
    findings: ScimFindings,
    /// What hrsync does differently with this server, in the operator's words.
    will: Vec<String>,
}

pub async fn doctor(config_path: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path).with_context(|| format!("loading {}", config_path.display()))?;
    let reads = crate::engine::read_retry::read_backoff(&config.retry);
    let scim = match &config.lms.feed {
        Some(_) => None,
        None => {
            let scim = ScimClient::new(&config.lms.scim_url, config.lms.token.clone(), reads)?;
            let profile = scim.discover(&config.lms.quirks).await;
            Some(scim.with_profile(profile))
        }
    };
    // The HRIS: its API answers a changes query, or its export inbox can be listed.
    let (hris_at, hris_read) = match &config.hris.files {
        None => (config.hris.api_base.clone(), None),
        Some(feed) => {
            let listed = match crate::connectors::inbox::open(&feed.inbox, &feed.sftp).await {
                Ok(inbox) => inbox.list("").await.map(|_| ()),
                Err(error) => Err(error),
            };
            (feed.inbox.clone(), Some(listed))
        }
    };
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let hris_probe = async {
        match hris_read {
            Some(listed) => listed,
            None => HrisClient::new(&config.hris.api_base, config.hris.api_key.clone(), reads)?
                .changed_since(since)
                .await
                .map(|_| ()),
        }
    };
    let lms_probe = async {
        match (&scim, &config.lms.feed) {
            (Some(scim), _) => {
                let findings = scim.probe().await;
                LmsSide::Scim(LmsReport {
                    url: config.lms.scim_url.clone(),
                    reachable: findings.learners.is_some(),
                    will: scim.profile().differences(),
                    findings,
                })
            }
            (None, Some(feed)) => LmsSide::Feed(super::doctor_feed::check(feed).await),
            (None, None) => unreachable!("a configuration without a SCIM URL has a feed"),
        }
    };
    let (lms, hris_read, lrs) = tokio::join!(lms_probe, hris_probe, async {
        match &config.lrs {
            // A report inbox is reachable when it can be listed.
            Some(lrs) if lrs.reports.is_some() => {
                let reports = lrs.reports.as_ref().expect("checked by the guard");
                let listed = match crate::connectors::inbox::open(&reports.inbox, &reports.sftp).await {
                    Ok(inbox) => inbox.list("").await.map(|_| ()),
                    Err(error) => Err(error),
                };
                Some(reach(&reports.inbox, listed))
            }
            Some(lrs) => {
                let client = LrsClient::new(&lrs.url, lrs.user.clone(), lrs.password.clone(), reads);
                let read = match client {
                    Ok(client) => client.stored_since(None, 1).await.map(|_| ()),
                    Err(error) => Err(error),
                };
                Some(reach(&lrs.url, read))
            }
            None => None,
        }
    });
    let report = Report {
        hris: reach(&hris_at, hris_read),
        lms,
        lrs,
    };
    let lms_healthy = match &report.lms {
        LmsSide::Scim(lms) => lms.reachable,
        LmsSide::Feed(feed) => feed.healthy(),
    };
    let healthy = report.hris.reachable && lms_healthy && report.lrs.as_ref().is_none_or(|l| l.reachable);
    if as_json {
        print_json(&report)?;
    } else {
        say!("{}", text(&report).trim_end())?;
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn reach<T>(url: &str, read: Result<T, crate::connectors::ConnectorError>) -> Reach {
    Reach {
        url: url.to_string(),
        reachable: read.is_ok(),
        problem: read.err().map(|error| error.to_string()),
    }
}

/// The report for a person: one block per system.
fn text(report: &Report) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    let state = |reach: &Reach| match &reach.problem {
        None => "ok".to_string(),
        Some(problem) => format!("FAILED: {problem}"),
    };
    line(format!("HRIS  {}  {}", report.hris.url, state(&report.hris)));
    let lms = match &report.lms {
        LmsSide::Scim(lms) => lms,
        LmsSide::Feed(feed) => {
            super::doctor_feed::text(feed, &mut line);
            lrs_line(report, &mut line);
            return out;
        }
    };
    let f = &lms.findings;
    line(format!(
        "LMS   {}  {}",
        lms.url,
        if lms.reachable { "ok" } else { "FAILED" }
    ));
    for problem in &f.problems {
        line(format!("      problem: {problem}"));
    }
    let p = &f.profile;
    line(format!(
        "      says it supports: filter {}, patch {}, etag {}, bulk {}, max results {}{}",
        yes(p.filter),
        yes(p.patch),
        yes(p.etag),
        yes(p.bulk),
        p.max_results.map_or("not said".into(), |n| n.to_string()),
        if p.discovered {
            ""
        } else {
            " (ServiceProviderConfig unread: assumed)"
        }
    ));
    let seen = |found: Option<bool>| found.map_or("not tried (no data)", |f| if f { "yes" } else { "NO" });
    line(format!(
        "      holds: {} learners, {} groups",
        f.learners.map_or("?".into(), |n| n.to_string()),
        f.groups.map_or("?".into(), |n| n.to_string()),
    ));
    for (what, found) in [
        ("pages correctly", f.pages_correctly),
        ("filters on the enterprise extension", f.enterprise_filter),
        ("Users carry their groups", f.groups_attribute),
        ("booleans come as strings", f.string_booleans),
    ] {
        line(format!("      {what}: {}", seen(found)));
    }
    if f.pages_correctly == Some(false) {
        line("      the server does not page correctly: reconciliations against it will fail".into());
    }
    if lms.will.is_empty() {
        line("      hrsync will use the standard request forms".into());
    }
    for will in &lms.will {
        line(format!("      hrsync will: {will}"));
    }
    if !f.suggested_quirks.is_empty() {
        let names: Vec<String> = f
            .suggested_quirks
            .iter()
            .map(|q| json!(q.as_str()).to_string())
            .collect();
        line(format!("      add to [lms]: quirks = [{}]", names.join(", ")));
    }
    lrs_line(report, &mut line);
    out
}

fn lrs_line(report: &Report, line: &mut dyn FnMut(String)) {
    match &report.lrs {
        Some(lrs) => line(format!(
            "LRS   {}  {}",
            lrs.url,
            lrs.problem
                .as_ref()
                .map_or("ok".to_string(), |problem| format!("FAILED: {problem}"))
        )),
        None => line("LRS   not configured (no completion write-back)".into()),
    }
}

fn yes(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}
