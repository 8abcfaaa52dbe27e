//! `hrsync doctor` for an LMS fed by a CSV file (`[lms] kind = "csv"`): there is
//! no server to probe, so it checks what the feed needs: the outbox can take a
//! file, the upload server answers (host key checked), and the inbox where the
//! LMS's own export is dropped can be read.

use serde::Serialize;

use crate::config::LearnerFeed;
use crate::connectors::inbox;

#[derive(Serialize)]
pub(super) struct FeedReport {
    pub kind: &'static str,
    pub outbox: String,
    pub file_name: String,
    /// A file can be made in the outbox (a hidden temporary one, removed at once).
    pub writable: bool,
    pub problem: Option<String>,
    pub upload: Option<Place>,
    pub inbox: Option<Place>,
}

#[derive(Serialize)]
pub(super) struct Place {
    pub url: String,
    pub reachable: bool,
    pub problem: Option<String>,
    /// The inbox only: the newest export there, if any.
    pub newest: Option<String>,
}

impl FeedReport {
    pub fn healthy(&self) -> bool {
        self.writable
            && [&self.upload, &self.inbox]
                .iter()
                .all(|p| p.as_ref().is_none_or(|p| p.reachable))
    }
}

pub(super) async fn check(feed: &LearnerFeed) -> FeedReport {
    let outbox = feed.outbox.clone();
    let made = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&outbox)?;
        // Hidden and named like hrsync's own partial writes: no importer takes it.
        tempfile::Builder::new()
            .prefix(".hrsync-doctor.")
            .suffix(".hrsync-part")
            .tempfile_in(&outbox)
            .map(drop)
    })
    .await
    .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())));
    let list = |location: String| async move {
        let listed = match inbox::open(&location, &feed.sftp).await {
            Ok(place) => place.list("").await,
            Err(error) => Err(error),
        };
        let newest = listed.as_ref().ok().and_then(|entries| {
            entries
                .iter()
                .filter(|e| e.name.to_ascii_lowercase().ends_with(".csv"))
                .max_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name)))
                .map(|e| e.name.clone())
        });
        Place {
            url: location,
            reachable: listed.is_ok(),
            problem: listed.err().map(|e| e.to_string()),
            newest,
        }
    };
    let upload = match &feed.upload {
        Some(location) => Some(list(location.clone()).await),
        None => None,
    };
    let inbox = match &feed.inbox {
        Some(location) => Some(list(location.clone()).await),
        None => None,
    };
    FeedReport {
        kind: "csv",
        outbox: feed.outbox.display().to_string(),
        file_name: feed.file_name.clone(),
        writable: made.is_ok(),
        problem: made
            .err()
            .map(|e| format!("cannot write in {}: {e}", feed.outbox.display())),
        upload,
        inbox,
    }
}

/// The report's lines for a person.
pub(super) fn text(report: &FeedReport, line: &mut dyn FnMut(String)) {
    let state = |ok: bool, problem: &Option<String>| match problem {
        None if ok => "ok".to_string(),
        None => "FAILED".to_string(),
        Some(problem) => format!("FAILED: {problem}"),
    };
    line(format!(
        "LMS   CSV feed {}/{}  {}",
        report.outbox.trim_end_matches('/'),
        report.file_name,
        state(report.writable, &report.problem)
    ));
    match &report.upload {
        Some(upload) => line(format!(
            "      upload to {}  {}",
            upload.url,
            state(upload.reachable, &upload.problem)
        )),
        None => line("      no upload: the LMS takes the file from the outbox".into()),
    }
    match &report.inbox {
        Some(inbox) => {
            line(format!(
                "      LMS exports in {}  {}",
                inbox.url,
                state(inbox.reachable, &inbox.problem)
            ));
            if inbox.reachable {
                line(match &inbox.newest {
                    Some(name) => format!("      reconciliation compares with {name}"),
                    None => "      no export there yet: reconciliation has nothing to compare with".into(),
                });
            }
        }
        None => line("      no [lms] inbox: reconciliation has no LMS export to compare with".into()),
    }
}
