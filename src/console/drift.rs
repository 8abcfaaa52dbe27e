//! The Drift pane: the latest runs and a page of the chosen category's items,
//! its keys and their reads; its commands (fix, flag, accept, run now) go
//! through the one gate and are carried out in `drift_commands.rs`.

use std::collections::BTreeSet;

use crossterm::event::KeyCode;
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::keys::{Binding, Key::*, bind, moves, write};
use super::list::{Numbered, Window, by_number};
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{self, Apply, Op, Read};
use super::state::{Mode, State};
use crate::engine::operator::handle::EngineHandle;
use crate::model::{DriftCategory, RunOutcome};
use crate::store::{DriftItem, ReconcileRun, Toward};

/// The latest reconciliation, its trend, and a page of its items.
#[derive(Debug, Default)]
pub struct DriftPane {
    /// The newest runs first (complete, failed, running): the latest and its trend.
    pub runs: Vec<ReconcileRun>,
    pub next_run: Option<Timestamp>,
    /// The category whose items are listed; `None` lists them all.
    pub category: Option<DriftCategory>,
    /// The `/` filter's text: items whose employee, learner, field or values contain it.
    pub text: Option<String>,
    pub items: Window<Numbered<DriftItem>>,
    /// The run whose items `items` holds.
    pub shown_run: Option<i64>,
}

impl DriftPane {
    fn complete(&self) -> impl Iterator<Item = &ReconcileRun> {
        self.runs.iter().filter(|r| r.outcome == RunOutcome::Complete)
    }

    /// The newest complete run: the one whose items are shown.
    pub fn latest(&self) -> Option<&ReconcileRun> {
        self.complete().next()
    }

    /// The complete run before it, for the change per category.
    pub fn previous(&self) -> Option<&ReconcileRun> {
        self.complete().nth(1)
    }

    /// The newest run when it is running or failed after the latest complete one.
    pub fn newer_unfinished(&self) -> Option<&ReconcileRun> {
        let newest = self.runs.first()?;
        (newest.outcome != RunOutcome::Complete).then_some(newest)
    }

    pub fn under_way(&self) -> Option<&ReconcileRun> {
        self.newer_unfinished()
            .filter(|r| r.outcome == RunOutcome::Running)
    }

    /// Items listed in the chosen category of the latest run.
    pub fn listed(&self) -> usize {
        let Some(run) = self.latest() else { return 0 };
        match self.category {
            Some(category) => run.count(category) as usize,
            None => run.total() as usize,
        }
    }

    /// The marked items, else the one under the cursor.
    pub fn targets(&self) -> Vec<i64> {
        self.items.targets()
    }
}

pub struct DriftView;

/// A read of the latest run's items in the chosen category; `fresh` when the
/// run shown changes (the selection goes with it).
fn items(state: &mut State, op: Op) -> Option<Read> {
    let pane = &mut state.panes.drift;
    let run = pane.latest()?.id;
    let (category, text) = (pane.category, pane.text.clone());
    // The run's counts give the total, unless a filter narrows it.
    let known = text.is_none().then(|| pane.listed());
    let fetch = move |h: &EngineHandle, from: Option<i64>, toward: Toward, limit: usize| {
        let text = text.as_deref();
        let total = match known {
            Some(total) => total,
            None => h.drift_items_count(run, category, text)?,
        };
        by_number(total, |offset, limit| {
            h.drift_items(run, category, text, offset, limit)
        })(from, toward, limit)
    };
    read::list(Pane::Drift, &mut pane.items, op, fetch, |s, w| {
        s.panes.drift.items = w
    })
}

fn effects(read: Option<Read>) -> Vec<Effect> {
    read.into_iter().map(Effect::from).collect()
}

/// A command on the chosen items, else the one under the cursor.
fn on_chosen(state: &mut State, make: impl FnOnce(Vec<i64>) -> Command) -> Vec<Effect> {
    let ids = state.panes.drift.targets();
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
        let Some(run) = state.panes.drift.latest() else {
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
            bind(&[Char('c')], "c", "category", Action::CycleCategory),
            write(&[Char('x')], "x", "fix", Action::Fix),
            write(&[Char('f')], "f", "flag", Action::Flag),
            write(&[Char('a')], "a", "accept", Action::Accept),
            write(&[Char('R')], "R", "run now", Action::RunReconcile),
        ]);
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let item = state.panes.drift.items.selected_row();
        match action {
            Action::Open | Action::ToggleSelect | Action::Flag | Action::Accept => item.is_some(),
            Action::Fix => {
                !state.panes.drift.items.marked.is_empty() || item.is_some_and(|i| i.category.can_fix())
            }
            Action::RunReconcile => state.panes.drift.under_way().is_none(),
            _ => true,
        }
    }

    /// The page of items in view: the same rows again, or a new run's from the top.
    fn refresh(&self, state: &mut State) -> Option<Read> {
        let pane = &mut state.panes.drift;
        let Some(latest) = pane.latest().map(|r| r.id) else {
            pane.items = Default::default();
            pane.shown_run = None;
            return None;
        };
        if pane.shown_run == Some(latest) {
            items(state, Op::Refresh)
        } else {
            pane.items.unmark();
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
                let Some(id) = state.panes.drift.items.selected_row().map(|i| i.id) else {
                    return Vec::new();
                };
                vec![Effect::Read(Read::detail(Pane::Drift, move |h| {
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
            Action::CycleCategory => {
                let pane = &mut state.panes.drift;
                pane.category = super::update::cycle(DriftCategory::ALL, pane.category);
                pane.items.unmark();
                if pane.latest().is_none() {
                    return Vec::new();
                }
                let read = items(state, Op::Newest);
                let name = state
                    .panes
                    .drift
                    .category
                    .map_or("every category", |c| c.describe());
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
                let under_way = state.panes.drift.under_way().map(|run| {
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

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.drift.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.drift.text = text;
        effects(items(state, Op::Newest))
    }

    fn marks<'s>(&self, state: &'s State) -> Option<&'s BTreeSet<i64>> {
        Some(&state.panes.drift.items.marked)
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        items(state, op)
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .drift
                .items
                .selected_row()
                .map(|i| i.row.employee_id.clone()),
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        let item = state.panes.drift.items.selected_row()?;
        Some(serde_json::to_string(&item.row).unwrap_or_default())
    }

    fn keep_visible(&self, state: &mut State) {
        let (rows, _) = super::layout::review_list_rows(state.width, state.height);
        state.panes.drift.items.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::drift::pane(state, frame, area);
    }
}
