//! The Drift pane's commands (fix, flag, accept, run now) once they pass the one
//! gate in `gate.rs`: what the confirmation lists, the accept's expiry, and
//! carrying them out with a word on what came of each item.

use jiff::{SignedDuration, Timestamp};

use super::action::{Command, Expiry};
use super::gate::DETAILED;
use super::state::{Mode, Prompt};
use super::update::Console;
use crate::engine::operator::handle::{HandleError, Resolved};
use crate::model::DriftState;

/// "30", "30d" (days from now) or "2030-12-31" (that day's start, here); empty: no end.
pub fn parse_expiry(text: &str, now: Timestamp) -> Result<Expiry, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Expiry::Never);
    }
    let days = text.strip_suffix('d').unwrap_or(text).trim();
    let at = if let Ok(days) = days.parse::<i64>() {
        if !(1..=3650).contains(&days) {
            return Err(format!("{days} days: give 1 to 3650 days, or a date"));
        }
        now + SignedDuration::from_hours(24 * days)
    } else {
        let date: jiff::civil::Date = text
            .parse()
            .map_err(|_| format!("{text:?} is neither a number of days nor a date (YYYY-MM-DD)"))?;
        date.to_zoned(jiff::tz::TimeZone::system())
            .map_err(|e| format!("{text}: {e}"))?
            .timestamp()
    };
    if at <= now {
        return Err(format!("{text} is not in the future"));
    }
    Ok(Expiry::At(at))
}

/// What a batch of decisions came to, for the status line: refusals named.
fn summary(what: &str, done: &[Resolved]) -> (String, bool) {
    let ok = done.iter().filter(|r| r.result.is_ok()).count();
    let refused: Vec<String> = done
        .iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .err()
                .map(|why| format!("item {}: {why}", r.item))
        })
        .collect();
    let mut text = format!("{what}: {ok} done");
    if let Some(state) = done.iter().find_map(|r| r.result.as_ref().ok())
        && *state == DriftState::Fixing
    {
        text.push_str(" (the owner's value is journaled; the engine applies it)");
    }
    if !refused.is_empty() {
        text = format!("{text}; {} refused: {}", refused.len(), refused.join("; "));
    }
    (text, !refused.is_empty())
}

impl Console {
    /// The accept command's end, once the reason is in.
    pub(super) fn submit_expiry(&mut self, command: Command, text: String) -> Result<(), HandleError> {
        match parse_expiry(&text, Timestamp::now()) {
            Ok(expiry) => {
                let Command::AcceptDrift { ids, reason, .. } = command else {
                    return Ok(());
                };
                self.request(Command::AcceptDrift {
                    ids,
                    reason,
                    expires: Some(expiry),
                })
            }
            Err(why) => {
                // Asked again with what was typed, to correct rather than retype.
                self.prompt(Prompt::Expiry(command), text);
                if let Mode::Prompt { refusal, .. } = &mut self.state.mode {
                    *refusal = Some(why);
                }
                Ok(())
            }
        }
    }

    /// The first few drift items a command acts on, and how long an accept lasts.
    pub(super) fn drift_body(&self, command: &Command) -> Vec<String> {
        let (ids, expires) = match command {
            Command::FixDrift(ids) | Command::FlagDrift { ids, .. } => (ids, None),
            Command::AcceptDrift { ids, expires, .. } => (ids, *expires),
            _ => return Vec::new(),
        };
        let rows = &self.state.panes.drift.items.rows;
        let mut body: Vec<String> = ids
            .iter()
            .filter_map(|id| rows.iter().find(|i| i.id == *id))
            .take(DETAILED)
            .map(|i| {
                let mut line = format!(
                    "item {}  {}  {} {}",
                    i.id,
                    i.employee_id,
                    i.category.describe(),
                    i.field
                );
                if matches!(command, Command::FixDrift(_)) && !i.category.can_fix() {
                    line.push_str("  (cannot be fixed: will be refused)");
                }
                line
            })
            .collect();
        match expires {
            Some(Expiry::At(at)) => body.push(format!(
                "accepted until {}; later runs leave it out while the values stay",
                at.to_zoned(jiff::tz::TimeZone::system())
                    .strftime("%Y-%m-%d %H:%M")
            )),
            Some(Expiry::Never) => {
                body.push("accepted with no end; later runs leave it out while the values stay".into())
            }
            None => {}
        }
        body
    }

    /// Carries out a drift command; the status line says what came of each item.
    pub(super) fn execute_drift(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let h = &self.handle;
        let done = match command {
            Command::FixDrift(ids) => h.fix_drift(&ids),
            Command::FlagDrift { ids, note } => h.flag_drift(&ids, note.as_deref().unwrap_or("")),
            Command::AcceptDrift { ids, reason, expires } => {
                let until = match expires {
                    Some(Expiry::At(at)) => Some(at),
                    _ => None,
                };
                h.accept_drift(&ids, reason.as_deref().unwrap_or(""), until)
            }
            Command::RequestReconcile => {
                match h.request_reconcile() {
                    Ok(()) => self
                        .state
                        .say("reconciliation requested: the engine starts it within a second or so"),
                    Err(error) => self.state.warn(format!("could not {what}: {error}")),
                }
                self.store_changed();
                return Ok(());
            }
            _ => return Ok(()),
        };
        match done {
            Ok(done) => {
                self.state.panes.drift.items.unmark();
                let (text, refused) = summary(&what, &done);
                if refused {
                    self.state.warn(text);
                } else {
                    self.state.say(format!("{text} (in the audit log)"));
                }
            }
            Err(error) => self.state.warn(format!("could not {what}: {error}")),
        }
        self.store_changed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_days_a_date_or_nothing() {
        let now: Timestamp = "2030-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(parse_expiry(" ", now), Ok(Expiry::Never));
        assert_eq!(
            parse_expiry("30", now),
            Ok(Expiry::At("2030-01-31T12:00:00Z".parse().unwrap()))
        );
        assert_eq!(parse_expiry("7d", now), parse_expiry("7", now));
        assert!(matches!(parse_expiry("2031-06-30", now), Ok(Expiry::At(_))));
        assert!(
            parse_expiry("2020-01-01", now)
                .unwrap_err()
                .contains("not in the future")
        );
        assert!(parse_expiry("0", now).is_err());
        assert!(parse_expiry("soon", now).unwrap_err().contains("neither"));
    }
}
