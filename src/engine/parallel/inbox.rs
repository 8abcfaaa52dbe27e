//! The legacy process's daily files dropped in `[parallel] inbox`, compared by
//! the running engine. Files are taken as every inbox's are
//! ([`Arriving`](crate::connectors::inbox::Arriving): settled or marked done,
//! then moved to `processed/`, or `refused/` with the reason in the outbox's
//! `<file>.rejects.csv`). The day is the first `YYYY-MM-DD` in the file's name
//! (`legacy-2026-12-04.csv`); a name without one is refused.
//!
//! Each file is compared once: its comparison is kept before it moves away,
//! and a file whose day already holds a comparison of this name made after
//! the file was last written (a crash between the two) is only moved away.

use std::sync::Arc;

use jiff::civil::Date;
use tokio_util::sync::CancellationToken;

use super::run::{ParallelError, compare_file};
use crate::config::ParallelConfig;
use crate::connectors::ConnectorError;
use crate::connectors::csv_files::RowReject;
use crate::connectors::inbox::{self, Arriving, Inbox, InboxEntry};
use crate::contract::Contract;
use crate::engine::connect::Connections;
use crate::model::connections::Arrivals;
use crate::store::{ParallelRun, Store};

/// The legacy inbox task: where the files are and what they are compared with.
#[derive(Clone)]
pub struct LegacyInbox {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub connections: Connections,
    pub parallel: ParallelConfig,
    pub arrivals: Arrivals,
    /// `[mode] shadow`, for the side compared before the store records its mode.
    pub shadow: bool,
}

/// The day a legacy file is for: the first `YYYY-MM-DD` in its name that is a date.
pub fn date_in_name(name: &str) -> Option<Date> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|at| {
        let candidate = name.get(at..at + 10)?;
        let shaped = candidate.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
        // Not the tail of a longer number ("12026-12-04").
        let alone = at == 0 || !bytes[at - 1].is_ascii_digit();
        let ends = bytes.get(at + 10).is_none_or(|b| !b.is_ascii_digit());
        (shaped && alone && ends)
            .then(|| candidate.parse().ok())
            .flatten()
    })
}

const NO_DATE: &str = "the file's name gives no day: name legacy files with the day they are for, \
                       as YYYY-MM-DD (e.g. legacy-2026-12-04.csv)";

impl LegacyInbox {
    /// Looks at the inbox every `scan_every` until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let mut opened: Option<Arc<dyn Inbox>> = None;
        let mut arriving = Arriving::new(self.arrivals.clone());
        loop {
            let result = async {
                let inbox = match &opened {
                    Some(inbox) => inbox.clone(),
                    None => {
                        let inbox = inbox::open(&self.arrivals.inbox, &self.arrivals.sftp).await?;
                        opened = Some(inbox.clone());
                        inbox
                    }
                };
                self.scan(inbox.as_ref(), &mut arriving).await
            }
            .await;
            if let Err(error) = result {
                tracing::warn!(inbox = %self.arrivals.inbox, %error, "the legacy inbox could not be read; trying again");
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.arrivals.scan_every) => {}
            }
        }
    }

    /// One look: every legacy file that has settled is compared, oldest first.
    /// A comparison that cannot be made now (the HRIS or the LMS unreachable)
    /// leaves its file in the inbox for the next look.
    pub async fn scan(&self, inbox: &dyn Inbox, arriving: &mut Arriving) -> Result<(), ConnectorError> {
        for entry in arriving.ready(inbox).await? {
            match self.take(inbox, arriving, &entry).await {
                Ok(()) => arriving.decided(&entry.name),
                Err(error) => {
                    tracing::warn!(file = %entry.name, %error, "legacy file not compared yet; trying again")
                }
            }
        }
        arriving.forget_old(inbox).await
    }

    async fn take(
        &self,
        inbox: &dyn Inbox,
        arriving: &Arriving,
        entry: &InboxEntry,
    ) -> Result<(), ParallelError> {
        let name = entry.name.as_str();
        let Some(date) = date_in_name(name) else {
            return self.refuse(inbox, arriving, name, NO_DATE.to_string()).await;
        };
        let taken = (self.store.parallel_days()?.iter())
            .any(|day| day.day == date && day.file == name && day.compared_at >= entry.modified);
        if !taken {
            let bytes = inbox
                .read(name)
                .await
                .map_err(|source| ParallelError::Connector {
                    what: "reading the legacy file",
                    source,
                })?;
            let contract = self.contract.read().clone();
            let compared = compare_file(
                &self.parallel,
                self.shadow,
                &contract,
                &self.store,
                &self.connections,
                &bytes,
                name,
                date,
            )
            .await;
            match compared {
                Ok((day, _)) => {
                    tracing::info!(file = %name, %date, differences = day.differences.len(), "legacy file compared");
                }
                Err(ParallelError::Legacy(why)) => return self.refuse(inbox, arriving, name, why).await,
                Err(error) => return Err(error),
            }
        }
        arriving
            .move_away(inbox, name, false)
            .await
            .map_err(|source| ParallelError::Connector {
                what: "moving the legacy file to processed/",
                source,
            })
    }

    /// Refuses a file: the reason to the outbox's rejects file, the file to `refused/`.
    async fn refuse(
        &self,
        inbox: &dyn Inbox,
        arriving: &Arriving,
        name: &str,
        why: String,
    ) -> Result<(), ParallelError> {
        tracing::warn!(file = %name, "legacy file refused: {why}");
        let reject = RowReject::new(0, None, "(file)", why);
        arriving
            .write_rejects(name, &[reject])
            .map_err(|error| ParallelError::Legacy(error.to_string()))?;
        arriving
            .move_away(inbox, name, true)
            .await
            .map_err(|source| ParallelError::Connector {
                what: "moving the legacy file to refused/",
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn the_day_is_the_first_date_in_the_name() {
        assert_eq!(date_in_name("legacy-2026-12-04.csv"), Some(date(2026, 12, 4)));
        assert_eq!(date_in_name("2026-12-04.csv"), Some(date(2026, 12, 4)));
        assert_eq!(
            date_in_name("lms_2026-13-01_2026-12-07.csv"),
            Some(date(2026, 12, 7)),
            "not a date, then one"
        );
        assert_eq!(date_in_name("legacy-12026-12-04.csv"), None);
        assert_eq!(date_in_name("legacy.csv"), None);
        assert_eq!(date_in_name("legacy-20261204.csv"), None);
        assert_eq!(date_in_name("é-2026-12-04"), Some(date(2026, 12, 4)));
    }
}
