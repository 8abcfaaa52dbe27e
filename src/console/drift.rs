//! The Drift pane's side of `update`: reading the latest runs and a page of the
//! chosen category's items, and the operator's fix, flag, accept and "run now",
//! which go through the one gate in `update::request` like every write.

use crossterm::event::KeyCode;
use jiff::{SignedDuration, Timestamp};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command, Expiry};
use super::keys::{Binding, Key::*, bind, moves, write};
use super::list::by_number;
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{self, Apply, Op, Read};
use super::state::{Mode, Prompt, State};
use super::update::Console;
use crate::engine::operator::handle::{EngineHandle, HandleError, Resolved};
use crate::model::{DriftCategory, DriftState};
use crate::store::Toward;

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

pub struct DriftView;

/// A read of the latest run's items in the chosen category; `fresh` when the
/// run shown changes (the selection goes with it).
fn items(state: &mut State, op: Op) -> Option<Read> {
    let pane = &mut state.drift;
    let run = pane.latest()?.id;
    let (category, total) = (pane.category, pane.listed());
    let fetch = move |h: &EngineHandle, from: Option<i64>, toward: Toward, limit: usize| {
        by_number(total, |offset, limit| h.drift_items(run, category, offset, limit))(from, toward, limit)
    };
    read::list(Pane::Drift, &mut pane.items, op, fetch, |s, w| s.drift.items = w)
}

fn effects(read: Option<Read>) -> Vec<Effect> {
    read.into_iter().map(Effect::from).collect()
}

/// A command on the chosen items, else the one under the cursor.
fn on_chosen(state: &mut State, make: impl FnOnce(Vec<i64>) -> Command) -> Vec<Effect> {
    let ids = state.drift.targets();
    if ids.is_empty() {
        state.say("no drift item here to act on");
        return Vec::new();
    }
    vec![Effect::Request(make(ids))]
}

impl PaneView for DriftView {
    fn title(&self) -> &'static str {
        "Drift"
    }

    /// The latest run's total, and a mark (not colour alone) for a critical finding.
    fn badge(&self, state: &State) -> String {
        let Some(run) = state.drift.latest() else {
            return String::new();
        };
        let mut badge = count_badge(run.total());
        if run.count(DriftCategory::TerminatedButActive) > 0 {
            badge.push('!');
        }
        badge
    }

    // The same letters as the Failed pane where the meaning is the same (Space, f).
    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char(' ')], "Space", "select", Action::ToggleSelect),
            bind(&[Char('c')], "c", "category", Action::CycleCategory),
            write(&[Char('x')], "x", "fix", Action::Fix),
            write(&[Char('f')], "f", "flag", Action::Flag),
            write(&[Char('a')], "a", "accept", Action::Accept),
            write(&[Char('R')], "R", "run now", Action::RunReconcile),
        ]);
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let item = state.drift.items.selected_row();
        match action {
            Action::Open | Action::ToggleSelect | Action::Flag | Action::Accept => item.is_some(),
            Action::Fix => !state.drift.chosen.is_empty() || item.is_some_and(|i| i.category.can_fix()),
            Action::RunReconcile => state.drift.under_way().is_none(),
            _ => true,
        }
    }

    /// The page of items in view: the same rows again, or a new run's from the top.
    fn refresh(&self, state: &mut State) -> Option<Read> {
        let pane = &mut state.drift;
        let Some(latest) = pane.latest().map(|r| r.id) else {
            pane.items = Default::default();
            pane.shown_run = None;
            return None;
        };
        if pane.shown_run == Some(latest) {
            items(state, Op::Refresh)
        } else {
            pane.chosen.clear();
            pane.shown_run = Some(latest);
            items(state, Op::Newest)
        }
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        match action {
            Action::Up => effects(items(state, Op::Move(-1))),
            Action::Down => effects(items(state, Op::Move(1))),
            Action::PageUp => effects(items(state, Op::Move(-state.page_rows()))),
            Action::PageDown => effects(items(state, Op::Move(state.page_rows()))),
            Action::Top => effects(items(state, Op::Newest)),
            Action::Bottom => effects(items(state, Op::Oldest)),
            Action::Open => {
                let Some(id) = state.drift.items.selected_row().map(|i| i.id) else {
                    return Vec::new();
                };
                vec![Effect::Read(Read::new(Some(Pane::Drift), move |h| {
                    let item = h.drift_item(id)?;
                    Ok(Box::new(move |state: &mut State| {
                        if let Some(item) = item {
                            state.mode = Mode::DriftDetail {
                                item: Box::new(item),
                                scroll: 0,
                            };
                        }
                    }) as Apply)
                }))]
            }
            Action::ToggleSelect => {
                let pane = &mut state.drift;
                if let Some(id) = pane.items.selected_row().map(|i| i.id)
                    && !pane.chosen.remove(&id)
                {
                    pane.chosen.insert(id);
                }
                Vec::new()
            }
            Action::CycleCategory => {
                let pane = &mut state.drift;
                pane.category = super::update::cycle(DriftCategory::ALL, pane.category);
                pane.chosen.clear();
                if pane.latest().is_none() {
                    return Vec::new();
                }
                let read = items(state, Op::Newest);
                let name = state.drift.category.map_or("every category", |c| c.describe());
                state.say(format!("showing {name}"));
                effects(read)
            }
            Action::Fix => on_chosen(state, Command::FixDrift),
            Action::Flag => on_chosen(state, |ids| Command::FlagDrift { ids, note: None }),
            Action::Accept => on_chosen(state, |ids| Command::AcceptDrift {
                ids,
                reason: None,
                expires: None,
            }),
            Action::RunReconcile => {
                let under_way = state.drift.under_way().map(|run| {
                    format!(
                        "a run is under way (run {}, started {}); its result shows here when it ends",
                        run.id,
                        super::draw::clock(run.started_at)
                    )
                });
                match under_way {
                    Some(text) => {
                        state.say(text);
                        Vec::new()
                    }
                    None => vec![Effect::Request(Command::RequestReconcile)],
                }
            }
            _ => Vec::new(),
        }
    }

    fn copy(&self, state: &State) -> Option<String> {
        let item = state.drift.items.selected_row()?;
        Some(serde_json::to_string(&item.row).unwrap_or_default())
    }

    fn keep_visible(&self, state: &mut State) {
        let (rows, _) = super::layout::review_list_rows(state.width, state.height);
        state.drift.items.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::drift::pane(state, frame, area);
    }
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
                self.state.warn(why);
                Ok(())
            }
        }
    }

    /// What the confirmation lists for a drift command.
    pub(super) fn drift_body(&self, command: &Command) -> Vec<String> {
        let (ids, reason, expires) = match command {
            Command::FixDrift(ids) => (ids, None, None),
            Command::AcceptDrift { ids, reason, expires } => (ids, reason.as_deref(), *expires),
            _ => return Vec::new(),
        };
        let rows = &self.state.drift.items.rows;
        let mut body: Vec<String> = ids
            .iter()
            .take(8)
            .map(|id| match rows.iter().find(|i| i.id == *id) {
                Some(i) => {
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
                }
                None => format!("item {id}"),
            })
            .collect();
        if ids.len() > 8 {
            body.push(format!("… and {} more", ids.len() - 8));
        }
        if matches!(command, Command::FixDrift(_)) {
            body.push("The HRIS value is journaled and pushed to the LMS like any change.".into());
        }
        if let Some(reason) = reason {
            body.push(format!("reason: {reason}"));
        }
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
                self.state.drift.chosen.clear();
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
