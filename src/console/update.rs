//! `update`: an action changes the state. The shell's actions (panes, modes,
//! tickets of the reads out) are handled here, writes and prompts in `gate`, and
//! the rest go to the pane in front ([`super::panes::PaneView::handle`]). Store
//! reads are asked for as [`Read`]s and come back as [`Action::Loaded`].

use std::collections::{HashMap, VecDeque};

use crossterm::event::KeyEvent;
use tui_textarea::TextArea;

use super::action::{Action, Command};
use super::contract_view;
use super::keys;
use super::panes::Effect;
use super::read::{Apply, Loaded, Op, Read};
use super::sanitise::visible;
use super::state::{Mode, Pane, Prompt, State};
use super::{ConsoleOptions, palette::Palette};
use crate::engine::operator::handle::{EngineHandle, EngineState, HandleError};
use crate::store::{DuplicateCounts, FileTotals, HeldCounts, ReconcileRun, StoreCounts};

/// Runs read for the drift trend: the latest complete one and those before it.
const RUNS_SHOWN: usize = 12;

/// The console: its state, the handle it reads and commands the engine through,
/// and the reads asked for and not yet back.
pub struct Console {
    pub state: State,
    pub(super) handle: EngineHandle,
    /// Reads asked for, not yet started.
    reads: VecDeque<Read>,
    /// Run each read as soon as it is asked for (tests, scripts) rather than
    /// leaving it to the loop's blocking threads.
    inline: bool,
    next_ticket: u64,
    /// The newest read asked for, per pane (`None`: the header's) and per kind
    /// (`true`: a detail's, which the list's reads do not make stale).
    latest: HashMap<(Option<Pane>, bool), u64>,
    /// Moves pressed while the pane in front reads, and keys on the cursor's row
    /// pressed after them: done when the read is back, in the order pressed.
    queued: VecDeque<Action>,
    /// A move's read of the front pane's list is out: the cursor is not yet
    /// where the operator put it.
    moving: bool,
    /// The store changed while a move's read was out: the rows are read again
    /// once it is back, rather than the move's read being made stale.
    refresh_after: bool,
}

/// What the header, the tabs and the open detail show, read in one go.
struct Snapshot {
    counts: StoreCounts,
    status: Option<crate::engine::operator::handle::EngineStatus>,
    pause_requested: bool,
    contract_text: Option<String>,
    runs: Vec<ReconcileRun>,
    next_run: Option<jiff::Timestamp>,
    duplicates: DuplicateCounts,
    held: HeldCounts,
    files: FileTotals,
    detail: Option<crate::store::EventDetail>,
    drift_item: Option<crate::store::DriftItem>,
}

impl Console {
    /// A console that reads the store at once on every action (the loop hands
    /// its reads to blocking threads instead: see [`Console::reads_off_loop`]).
    pub fn new(handle: EngineHandle, options: &ConsoleOptions) -> Console {
        let palette = Palette::from_env(options.no_color);
        let state = State::new(
            options.read_only,
            palette,
            handle.operator().to_string(),
            handle.is_in_process(),
        );
        let mut console = Console {
            state,
            handle,
            reads: VecDeque::new(),
            inline: true,
            next_ticket: 0,
            latest: HashMap::new(),
            queued: VecDeque::new(),
            moving: false,
            refresh_after: false,
        };
        console.update(Action::StoreChanged);
        console
    }

    pub fn handle(&self) -> &EngineHandle {
        &self.handle
    }

    /// From now on reads wait in [`Console::take_reads`] for the loop to run them.
    pub fn reads_off_loop(&mut self) {
        self.inline = false;
    }

    /// The reads asked for since the last call, to run off the UI loop.
    pub fn take_reads(&mut self) -> Vec<Read> {
        self.reads.drain(..).collect()
    }

    /// A key press, through the key table.
    pub fn key(&mut self, event: KeyEvent) {
        if let Some(action) = keys::action_for(&self.state, event) {
            self.update(action);
        }
    }

    pub fn update(&mut self, action: Action) {
        if let Action::Loaded(loaded) = action {
            self.loaded(loaded);
        } else if self.waits_its_turn(&action) {
            self.queued.push_back(action);
        } else if is_move(&action) {
            self.move_cursor(action);
        } else {
            self.operator(action);
        }
        self.run_inline();
    }

    fn operator(&mut self, action: Action) {
        let from_operator = !matches!(action, Action::Tick | Action::StoreChanged | Action::Resize(..));
        if from_operator {
            self.state.flash = None;
        }
        if action.is_write() && self.writes_refused() {
            return;
        }
        if let Err(error) = self.apply(action) {
            self.state.warn(format!("{error}"));
        }
        self.keep_visible();
    }

    // --- reads ---

    /// Asks for a read: it runs now (inline) or when the loop takes it.
    fn ask(&mut self, mut read: Read) {
        self.next_ticket += 1;
        read.ticket = self.next_ticket;
        self.latest.insert((read.pane, read.detail), read.ticket);
        self.reads.push_back(read);
    }

    fn run_inline(&mut self) {
        while self.inline
            && let Some(read) = self.reads.pop_front()
        {
            let action = read.run(&self.handle);
            self.update(action);
        }
    }

    /// Whether `action` waits its turn: a move, or a key on the cursor's row
    /// (Enter, Space, a command), while an earlier move's read is out or queued,
    /// so each acts where the moves before it put the cursor. A read that only
    /// refreshes the rows holds nothing back: the row under the cursor is the
    /// one the operator sees, even as the Events pane follows the tail.
    fn waits_its_turn(&self, action: &Action) -> bool {
        matches!(self.state.mode, Mode::Normal)
            && (is_move(action) || on_cursor_row(action))
            && (self.moving || !self.queued.is_empty())
    }

    /// A move, done now. One that needs a page is `moving` until it is back;
    /// one within the rows held while the rows are being refreshed asks for the
    /// refresh again, from where the cursor now is (the one out would put it
    /// back, or, following the tail, on the newest row).
    fn move_cursor(&mut self, action: Action) {
        let front = (Some(self.state.pane), false);
        let refreshing = self.latest.get(&front).copied();
        let detail = !matches!(self.state.mode, Mode::Normal);
        self.operator(action);
        if detail {
            return;
        }
        match self.latest.get(&front).copied() {
            asked if asked != refreshing => {
                self.moving = true;
                self.refresh_after |= refreshing.is_some();
            }
            Some(_) => self.refresh_front(),
            None => {}
        }
    }

    /// A read is back: applied unless stale (a newer read for the same pane was
    /// asked for, or the pane is no longer in front).
    fn loaded(&mut self, loaded: Loaded) {
        let slot = (loaded.pane, loaded.detail);
        if self.latest.get(&slot) != Some(&loaded.ticket) {
            return;
        }
        self.latest.remove(&slot);
        let front_list = loaded.pane == Some(self.state.pane) && !loaded.detail;
        if loaded.pane.is_some_and(|pane| pane != self.state.pane) {
            return;
        }
        match loaded.take() {
            Some(Ok(apply)) => apply(&mut self.state),
            Some(Err(error)) => self.state.warn(format!("{error}")),
            None => {}
        }
        if loaded.then_refresh {
            self.refresh_front();
        }
        self.keep_visible();
        if front_list {
            self.moving = false;
            for action in std::mem::take(&mut self.queued) {
                self.update(action);
            }
            if std::mem::take(&mut self.refresh_after) {
                self.refresh_front();
            }
        }
    }

    /// The store changed: the header's figures (and an open detail) are read
    /// again, then the rows of the pane in front.
    pub(super) fn store_changed(&mut self) {
        let detail = match &self.state.mode {
            Mode::Detail { detail, .. } => Some(detail.event.id),
            _ => None,
        };
        let drift_item = match &self.state.mode {
            Mode::DriftDetail { item, .. } => Some(item.id),
            _ => None,
        };
        let mut read = Read::new(None, move |h| {
            let snapshot = Snapshot {
                counts: h.counts()?,
                status: h.status()?,
                pause_requested: h.pause_requested()?,
                runs: h.reconcile_runs(RUNS_SHOWN)?,
                next_run: h.next_reconcile()?,
                duplicates: h.duplicate_counts()?,
                held: h.held_counts()?,
                files: h.export_file_totals()?,
                contract_text: h.contract_text()?,
                detail: detail.map(|id| h.event(id)).transpose()?.flatten(),
                drift_item: drift_item.map(|id| h.drift_item(id)).transpose()?.flatten(),
            };
            Ok(Box::new(move |state: &mut State| take_snapshot(state, snapshot)) as Apply)
        });
        read.then_refresh = true;
        self.ask(read);
    }

    fn refresh_front(&mut self) {
        if self.moving {
            self.refresh_after = true;
            return;
        }
        if let Some(read) = self.state.pane.view().refresh(&mut self.state) {
            self.ask(read);
        }
    }

    fn go(&mut self, pane: Pane) {
        self.state.pane = pane;
        self.queued.clear();
        self.moving = false;
        self.refresh_after = false;
        self.refresh_front();
    }

    fn keep_visible(&mut self) {
        for pane in Pane::ALL {
            pane.view().keep_visible(&mut self.state);
        }
    }

    /// What a pane asked for.
    pub(super) fn effects(&mut self, effects: Vec<Effect>) -> Result<(), HandleError> {
        for effect in effects {
            match effect {
                Effect::Read(read) => self.ask(read),
                Effect::Request(command) => self.request(command)?,
                Effect::Prompt(prompt, text) => self.prompt(prompt, text),
            }
        }
        Ok(())
    }

    /// The one gate for writes: read-only attach mode refuses them all here.
    pub(super) fn writes_refused(&mut self) -> bool {
        if self.state.read_only {
            self.state
                .warn("read-only console: no changes can be made from here");
        }
        self.state.read_only
    }

    fn apply(&mut self, action: Action) -> Result<(), HandleError> {
        let detail = matches!(
            self.state.mode,
            Mode::Detail { .. } | Mode::DriftDetail { .. } | Mode::Trace { .. }
        );
        match action {
            Action::Quit => self.state.quit = true,
            Action::Tick => self.state.now = jiff::Timestamp::now(),
            Action::Resize(w, h) => (self.state.width, self.state.height) = (w, h),
            Action::StoreChanged => self.store_changed(),
            Action::Loaded(loaded) => self.loaded(loaded),
            Action::GoPane(pane) => self.go(pane),
            Action::NextPane => self.go(self.state.pane.next()),
            Action::PrevPane => self.go(self.state.pane.prev()),
            Action::Up | Action::Down | Action::PageUp | Action::PageDown if detail => {
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -self.state.page_rows(),
                    _ => self.state.page_rows(),
                };
                if let Mode::Detail { scroll, .. }
                | Mode::DriftDetail { scroll, .. }
                | Mode::Trace { scroll, .. } = &mut self.state.mode
                {
                    *scroll = scroll.saturating_add_signed(delta as i16);
                }
                if let Mode::Trace { lines, scroll, .. } = &mut self.state.mode {
                    // Wrapped at the screen's width, the last row at most at the top.
                    let width = self.state.width.max(1) as usize;
                    let rows: usize = lines
                        .iter()
                        .map(|l| {
                            ratatui::text::Line::raw(l.as_str())
                                .width()
                                .div_ceil(width)
                                .max(1)
                        })
                        .sum();
                    *scroll = (*scroll).min(rows as u16);
                }
            }
            Action::Back if !matches!(self.state.mode, Mode::Normal) => self.back(),
            Action::Help => self.state.mode = Mode::Help,
            Action::Trace => self.trace(),
            Action::Copy => self.copy(),
            Action::TogglePause => {
                let paused = self.state.pause_requested
                    || self
                        .state
                        .status
                        .as_ref()
                        .is_some_and(|s| s.state == EngineState::Paused);
                self.request(if paused { Command::Resume } else { Command::Pause })?;
            }
            Action::Request(command) => self.request(command)?,
            Action::Input(key) => self.input(key),
            Action::Submit => self.submit()?,
            Action::Yes if matches!(self.state.mode, Mode::DiscardEdit { .. }) => self.discard_edit(true),
            Action::No if matches!(self.state.mode, Mode::DiscardEdit { .. }) => self.discard_edit(false),
            Action::Yes => {
                if let Mode::Confirm { command, body } = std::mem::take(&mut self.state.mode) {
                    self.confirmed(command, body)?;
                }
            }
            Action::No => match std::mem::take(&mut self.state.mode) {
                // Back to the edit, not lost: the operator may only want to change it more.
                Mode::Confirm {
                    command: Command::ApplyContract(text),
                    ..
                } => {
                    let editor = TextArea::new(text.lines().map(str::to_string).collect());
                    self.state.panes.contract.review = None;
                    self.state.mode = Mode::EditContract {
                        editor,
                        problems: Vec::new(),
                    };
                    self.state.say("not applied; still editing");
                }
                Mode::Confirm { .. } => self.state.say("cancelled; nothing was changed"),
                other => self.state.mode = other,
            },
            Action::CommandLine => self.prompt(Prompt::Command, String::new()),
            Action::Complete => self.complete(),
            Action::FilterText if self.state.pane.view().text_filter(&self.state).is_some() => {
                let now = self.state.pane.view().text_filter(&self.state).flatten();
                self.prompt(Prompt::Filter, now.unwrap_or_default().to_string());
            }
            // Marks are kept in the list window, the same way in every pane that marks rows.
            Action::ToggleSelect | Action::MarkAll | Action::Unmark
                if self.state.pane.view().marks(&self.state).is_some() =>
            {
                let op = match action {
                    Action::ToggleSelect => Op::Mark,
                    Action::MarkAll => Op::MarkAll,
                    _ => Op::Unmark,
                };
                if let Some(read) = self.state.pane.view().list(&mut self.state, op) {
                    self.ask(read);
                }
            }
            // Everything else is the pane's.
            other => {
                let effects = self.state.pane.view().handle(&mut self.state, &other);
                self.effects(effects)?;
            }
        }
        Ok(())
    }

    /// The `/` filter answered: marks made under the old filter go (`A` marks
    /// what the filter matches), and the list is read again from the top.
    pub(super) fn filter_text(&mut self, text: Option<String>) -> Result<(), HandleError> {
        let view = self.state.pane.view();
        if view.marks(&self.state).is_some() {
            view.list(&mut self.state, Op::Unmark);
        }
        let effects = view.set_text_filter(&mut self.state, text);
        self.effects(effects)
    }

    fn back(&mut self) {
        match &self.state.mode {
            Mode::EditContract { .. } => self.leave_editor(),
            Mode::DiscardEdit { .. } => self.discard_edit(false),
            Mode::Prompt {
                prompt: Prompt::TypeToConfirm { command, .. },
                ..
            } => {
                let command = command.clone();
                self.back_to_review(&command);
                self.state.say("nothing applied; the review again");
            }
            _ => self.state.mode = Mode::Normal,
        }
    }

    /// `T`: the employee the row under the cursor names, traced off the loop as
    /// `hrsync trace` does (a few HTTP reads): "tracing …" until it is back.
    fn trace(&mut self) {
        let view = self.state.pane.view();
        let employee = match view.employee(&self.state) {
            Some(Some(employee)) => employee,
            Some(None) => return self.state.warn("T traces an employee: the row here names none"),
            None => {
                let panes: Vec<&str> = Pane::ALL
                    .iter()
                    .filter(|p| p.view().employee(&self.state).is_some())
                    .map(|p| p.title())
                    .collect();
                return self.state.warn(format!(
                    "T traces the employee a row names; {} rows name none (try {})",
                    view.title(),
                    panes.join(", ")
                ));
            }
        };
        self.state.mode = Mode::Trace {
            employee: employee.clone(),
            lines: vec![format!("tracing employee {} …", visible(&employee))],
            scroll: 0,
        };
        self.ask(Read::detail(self.state.pane, move |h| {
            let traced = h.trace(&employee);
            Ok(Box::new(move |state: &mut State| {
                // Closed meanwhile, or another employee's trace asked for since: dropped.
                let Mode::Trace {
                    employee: open,
                    lines,
                    ..
                } = &mut state.mode
                else {
                    return;
                };
                if *open != employee {
                    return;
                }
                match traced {
                    Ok(trace) => *lines = trace.lines(|s| visible(s).into_owned()),
                    Err(error) => {
                        state.mode = Mode::Normal;
                        state.warn(error.to_string());
                    }
                }
            }) as Apply)
        }));
    }

    fn copy(&mut self) {
        let text = match &self.state.mode {
            Mode::Detail { detail, .. } => {
                Some(serde_json::to_string_pretty(&detail.event.payload).unwrap_or_default())
            }
            Mode::DriftDetail { item, .. } => Some(serde_json::to_string_pretty(item).unwrap_or_default()),
            Mode::Trace { lines, .. } => Some(lines.join("\n")),
            _ => self.state.pane.view().copy(&self.state),
        };
        let Some(text) = text else { return };
        self.state
            .say(format!("copied {} bytes to the clipboard (OSC 52)", text.len()));
        self.state.clipboard = Some(text);
    }
}

/// any → first → … → last → any.
pub(super) fn cycle<T: Copy + PartialEq>(all: &[T], now: Option<T>) -> Option<T> {
    match now {
        None => all.first().copied(),
        Some(current) => {
            let at = all.iter().position(|v| *v == current)?;
            all.get(at + 1).copied()
        }
    }
}

/// A key that acts on the row under the cursor.
fn on_cursor_row(action: &Action) -> bool {
    matches!(
        action,
        Action::Open
            | Action::ToggleSelect
            | Action::Copy
            | Action::Left
            | Action::Right
            | Action::Retry
            | Action::Skip
            | Action::Flag
            | Action::ConfirmHeld
            | Action::RejectHeld
            | Action::Fix
            | Action::Accept
            | Action::NotDuplicate
            | Action::Link
            | Action::Trace
    )
}

/// A cursor move: while the pane in front is reading, it waits its turn.
fn is_move(action: &Action) -> bool {
    matches!(
        action,
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
    )
}

/// The header's read, applied: figures, tabs' counts, the contract in force,
/// and the open detail brought up to date.
fn take_snapshot(state: &mut State, snapshot: Snapshot) {
    state.now = jiff::Timestamp::now();
    state.counts = snapshot.counts;
    state.status = snapshot.status;
    state.pause_requested = snapshot.pause_requested;
    state.panes.drift.runs = snapshot.runs;
    state.panes.drift.next_run = snapshot.next_run;
    state.panes.duplicates.counts = snapshot.duplicates;
    state.panes.held.counts = snapshot.held;
    state.panes.files.totals = snapshot.files;
    let text = snapshot.contract_text;
    if text != state.panes.contract.text {
        state.panes.contract.lines = contract_view::lines(text.as_deref());
        state.panes.contract.text = text;
    }
    if let (Some(pending), Some(status)) = (&state.panes.contract.pending_version, &state.status)
        && &status.contract_version == pending
    {
        state.panes.contract.pending_version = None;
    }
    if let Mode::Detail { detail, .. } = &mut state.mode
        && let Some(fresh) = snapshot.detail
    {
        **detail = fresh;
    }
    if let Mode::DriftDetail { item, .. } = &mut state.mode
        && let Some(fresh) = snapshot.drift_item
    {
        **item = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Direction, NewEvent, Source};
    use crate::store::Store;

    /// A console off the loop over a journal of `n` events, its first reads done.
    fn console(n: usize) -> (tempfile::TempDir, Console) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        let events: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent {
                idempotency_key: format!("k{i}"),
                source: Source::Webhook,
                direction: Direction::HrisToLms,
                employee_id: format!("E{i}"),
                kind: "Updated".into(),
                occurred_at: jiff::Timestamp::now(),
                payload: serde_json::json!({}),
            })
            .collect();
        store.append(&events).unwrap();
        let mut console = Console::new(EngineHandle::on_store(store), &ConsoleOptions::default());
        console.reads_off_loop();
        (dir, console)
    }

    /// Runs the reads asked for so far, as the loop's blocking threads do, without applying them.
    fn run(console: &mut Console) -> Vec<Action> {
        let reads = console.take_reads();
        reads.into_iter().map(|read| read.run(&console.handle)).collect()
    }

    fn selected(console: &Console) -> i64 {
        console.state.panes.events.list.selected_row().unwrap().id.0
    }

    #[test]
    fn a_read_for_a_pane_no_longer_in_front_or_asked_again_is_dropped() {
        let (_dir, mut console) = console(10);
        console.update(Action::GoPane(Pane::Failed));
        let failed = run(&mut console);
        console.update(Action::GoPane(Pane::Audit));
        let first = run(&mut console);
        console.update(Action::GoPane(Pane::Audit));
        let second = run(&mut console);
        for action in failed.into_iter().chain(first) {
            console.update(action);
        }
        assert!(!console.state.panes.failed.list.loaded, "not in front: dropped");
        assert!(!console.state.panes.audit.list.loaded, "asked again: dropped");
        for action in second {
            console.update(action);
        }
        assert!(
            console.state.panes.audit.list.loaded,
            "the newest read is applied"
        );
    }

    #[test]
    fn moves_within_the_rows_held_need_no_read_and_the_rest_wait_their_turn() {
        let (_dir, mut console) = console(250);
        assert_eq!(selected(&console), 250);
        console.update(Action::Down);
        assert!(console.take_reads().is_empty(), "a row held: no read");
        assert_eq!(selected(&console), 249);
        console.update(Action::Bottom);
        let oldest = run(&mut console);
        assert_eq!(oldest.len(), 1);
        // Pressed while the oldest page is read: done after it, in order.
        console.update(Action::Up);
        console.update(Action::Up);
        assert_eq!(selected(&console), 249, "not moved yet");
        for action in oldest {
            console.update(action);
        }
        assert_eq!(selected(&console), 3);
    }
}
