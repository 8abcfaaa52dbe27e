//! `update`: an action changes the state. Reads go to the engine handle for the
//! page in view; writes pass `request`, the one place that refuses them in
//! read-only mode, asks for a reason and asks for a yes.

use crossterm::event::KeyEvent;
use tui_textarea::TextArea;

use super::action::{Action, Command};
use super::contract_view;
use super::keys;
use super::list::Fetch;
use super::state::{Mode, Pane, Prompt, Ranked, State};
use super::{ConsoleOptions, layout, palette::Palette};
use crate::engine::handle::{ContractVerdict, EngineHandle, HandleError};
use crate::model::{AuditEntry, Direction, Event, EventStatus};
use crate::store::{AuditFilter, EventFilter};

/// Credentials the view loads: the soonest to expire (the CLI lists them all).
const CREDENTIALS_SHOWN: usize = 1000;

/// The console: its state and the handle it reads and commands the engine through.
pub struct Console {
    pub state: State,
    pub(super) handle: EngineHandle,
}

fn events_fetch<'a>(handle: &'a EngineHandle, filter: &'a EventFilter) -> Box<Fetch<'a, Event>> {
    Box::new(move |from, toward, limit| handle.events(filter, from.map(crate::model::EventId), toward, limit))
}

fn audit_fetch<'a>(handle: &'a EngineHandle, filter: &'a AuditFilter) -> Box<Fetch<'a, AuditEntry>> {
    Box::new(move |from, toward, limit| handle.audit(filter, from.map(|s| s as u64), toward, limit))
}

/// The filter of a queue pane: one status.
fn only(status: EventStatus) -> EventFilter {
    EventFilter {
        status: Some(status),
        ..EventFilter::default()
    }
}

impl Console {
    pub fn new(handle: EngineHandle, options: &ConsoleOptions) -> Console {
        let palette = Palette::from_env(options.no_color);
        let state = State::new(
            options.read_only,
            palette,
            handle.operator().to_string(),
            handle.is_in_process(),
        );
        let mut console = Console { state, handle };
        console.update(Action::StoreChanged);
        console
    }

    pub fn handle(&self) -> &EngineHandle {
        &self.handle
    }

    /// A key press, through the key table.
    pub fn key(&mut self, event: KeyEvent) {
        if let Some(action) = keys::action_for(&self.state, event) {
            self.update(action);
        }
    }

    pub fn update(&mut self, action: Action) {
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
    }

    /// The one gate for writes: read-only attach mode refuses them all here.
    fn writes_refused(&mut self) -> bool {
        if self.state.read_only {
            self.state
                .warn("read-only console: no changes can be made from here");
        }
        self.state.read_only
    }

    fn apply(&mut self, action: Action) -> Result<(), HandleError> {
        match action {
            Action::Quit => self.state.quit = true,
            Action::Tick => self.state.now = jiff::Timestamp::now(),
            Action::Resize(w, h) => {
                (self.state.width, self.state.height) = (w, h);
                self.keep_visible();
            }
            Action::StoreChanged => self.refresh()?,
            Action::GoPane(pane) => self.go(pane)?,
            Action::NextPane => self.go(self.state.pane.next())?,
            Action::PrevPane => self.go(self.state.pane.prev())?,
            Action::Up => self.move_cursor(-1)?,
            Action::Down => self.move_cursor(1)?,
            Action::PageUp => self.move_cursor(-self.state.page_rows())?,
            Action::PageDown => self.move_cursor(self.state.page_rows())?,
            Action::Top => self.jump(true)?,
            Action::Bottom => self.jump(false)?,
            Action::Open if self.state.pane == Pane::Drift => self.open_drift()?,
            Action::Open => self.open()?,
            Action::Back => self.back()?,
            Action::Help => self.state.mode = Mode::Help,
            Action::ToggleSelect if self.state.pane == Pane::Drift => self.toggle_drift_select(),
            Action::ToggleSelect => self.toggle_select(),
            Action::Copy => self.copy(),
            Action::FollowTail => {
                let events = &mut self.state.events;
                events.follow = !events.follow;
                if events.follow {
                    events
                        .list
                        .load_newest(&mut events_fetch(&self.handle, &events.filter))?;
                }
            }
            Action::FilterText => {
                let (prompt, now) = match self.state.pane {
                    Pane::Audit => (Prompt::AuditText, self.state.audit.filter.text.clone()),
                    _ => (Prompt::EventText, self.state.events.filter.text.clone()),
                };
                self.prompt(prompt, now.unwrap_or_default());
            }
            Action::FilterEmployee => {
                let now = self.state.events.filter.employee_id.clone().unwrap_or_default();
                self.prompt(Prompt::EventEmployee, now);
            }
            Action::CycleDirection => {
                let filter = &mut self.state.events.filter;
                filter.direction = cycle(Direction::ALL, filter.direction);
                self.reload_events()?;
            }
            Action::CycleStatus => {
                let filter = &mut self.state.events.filter;
                filter.status = cycle(EventStatus::ALL, filter.status);
                self.reload_events()?;
            }
            Action::ClearFilters => {
                self.state.events.filter = EventFilter::default();
                self.reload_events()?;
            }
            Action::EditContract => self.edit_contract(),
            Action::Retry => self.on_queue(Command::Retry),
            Action::RetryAll => self.request(Command::RetryAllDeadLetters)?,
            Action::Skip => self.on_queue(|ids| Command::Skip { ids, reason: None }),
            Action::Flag => match self.state.pane {
                Pane::Drift => self.on_drift(|ids| Command::FlagDrift { ids, note: None })?,
                Pane::Duplicates => self.flag_duplicate()?,
                _ => self.on_queue(|ids| Command::Flag { ids, reason: None }),
            },
            Action::Fix => self.on_drift(Command::FixDrift)?,
            Action::Accept => self.on_drift(|ids| Command::AcceptDrift {
                ids,
                reason: None,
                expires: None,
            })?,
            Action::CycleCategory => self.cycle_category()?,
            Action::RunReconcile => self.run_reconcile()?,
            Action::NotDuplicate => self.not_duplicate()?,
            Action::Link => self.link()?,
            Action::Left => self.move_column(-1),
            Action::Right => self.move_column(1),
            Action::ConfirmHeld => self.on_queue(Command::ConfirmHeld),
            Action::RejectHeld => self.on_queue(|ids| Command::RejectHeld { ids, reason: None }),
            Action::TogglePause => {
                let paused = self.state.pause_requested
                    || self
                        .state
                        .status
                        .as_ref()
                        .is_some_and(|s| s.state == crate::engine::handle::EngineState::Paused);
                self.request(if paused { Command::Resume } else { Command::Pause })?;
            }
            Action::Request(command) => self.request(command)?,
            Action::Input(key) => self.input(key),
            Action::Submit => self.submit()?,
            Action::Yes => {
                if let Mode::Confirm { command, .. } = std::mem::take(&mut self.state.mode) {
                    self.execute(command)?;
                }
            }
            Action::No => match std::mem::take(&mut self.state.mode) {
                // Back to the edit, not lost: the operator may only want to change it more.
                Mode::Confirm {
                    command: Command::ApplyContract(text),
                    ..
                } => {
                    let editor = TextArea::new(text.lines().map(str::to_string).collect());
                    self.state.mode = Mode::EditContract {
                        editor,
                        problems: Vec::new(),
                    };
                    self.state.say("not applied; still editing");
                }
                Mode::Confirm { .. } => self.state.say("cancelled; nothing was changed"),
                other => self.state.mode = other,
            },
        }
        self.keep_visible();
        Ok(())
    }

    // --- reading ---

    /// The store changed: the header's figures and the rows in view are read again.
    pub(super) fn refresh(&mut self) -> Result<(), HandleError> {
        self.state.now = jiff::Timestamp::now();
        self.state.counts = self.handle.counts()?;
        self.state.status = self.handle.status()?;
        self.state.pause_requested = self.handle.pause_requested()?;
        self.read_review_counts()?;
        let text = self.handle.contract_text()?;
        if text != self.state.contract.text {
            self.state.contract.lines = contract_view::lines(text.as_deref());
            self.state.contract.text = text;
        }
        if let (Some(pending), Some(status)) = (&self.state.contract.pending_version, &self.state.status)
            && &status.contract_version == pending
        {
            self.state.contract.pending_version = None;
        }
        if let Mode::Detail { detail, .. } = &mut self.state.mode
            && let Some(fresh) = self.handle.event(detail.event.id)?
        {
            **detail = fresh;
        }
        if let Mode::DriftDetail { item, .. } = &mut self.state.mode
            && let Some(fresh) = self.handle.drift_item(item.id)?
        {
            **item = fresh;
        }
        self.refresh_pane()
    }

    fn refresh_pane(&mut self) -> Result<(), HandleError> {
        let handle = &self.handle;
        match self.state.pane {
            Pane::Events => {
                let events = &mut self.state.events;
                let mut fetch = events_fetch(handle, &events.filter);
                if events.follow {
                    events.list.load_newest(&mut fetch)?;
                } else {
                    events.list.refresh(&mut fetch)?;
                }
            }
            Pane::Failed => {
                let filter = only(EventStatus::DeadLetter);
                self.state
                    .failed
                    .list
                    .refresh(&mut events_fetch(handle, &filter))?;
                let shown = &self.state.failed.list.rows;
                self.state
                    .failed
                    .chosen
                    .retain(|id| shown.iter().any(|e| e.id == *id));
            }
            Pane::Held => {
                let filter = only(EventStatus::Held);
                self.state.held.list.refresh(&mut events_fetch(handle, &filter))?;
                let shown = &self.state.held.list.rows;
                self.state
                    .held
                    .chosen
                    .retain(|id| shown.iter().any(|e| e.id == *id));
            }
            Pane::Audit => {
                let audit = &mut self.state.audit;
                audit.list.refresh(&mut audit_fetch(handle, &audit.filter))?;
            }
            Pane::Credentials => {
                let today = jiff::Zoned::now().date();
                let (rows, totals) = handle.credentials(today, CREDENTIALS_SHOWN)?;
                let pane = &mut self.state.credentials;
                pane.list.selected = pane.list.selected.min(rows.len().saturating_sub(1));
                pane.list.rows = rows
                    .into_iter()
                    .enumerate()
                    .map(|(rank, credential)| Ranked {
                        rank: rank as i64,
                        credential,
                    })
                    .collect();
                pane.list.at_newest = true;
                pane.list.at_oldest = true;
                pane.list.loaded = true;
                pane.totals = totals;
            }
            Pane::Drift => self.refresh_drift()?,
            Pane::Duplicates => self.refresh_duplicates()?,
            Pane::Contract => {}
        }
        Ok(())
    }

    fn go(&mut self, pane: Pane) -> Result<(), HandleError> {
        self.state.pane = pane;
        self.refresh_pane()
    }

    fn reload_events(&mut self) -> Result<(), HandleError> {
        let events = &mut self.state.events;
        events.follow = true;
        events
            .list
            .load_newest(&mut events_fetch(&self.handle, &events.filter))
    }

    fn reload_audit(&mut self) -> Result<(), HandleError> {
        let audit = &mut self.state.audit;
        audit
            .list
            .load_newest(&mut audit_fetch(&self.handle, &audit.filter))
    }

    fn move_cursor(&mut self, delta: isize) -> Result<(), HandleError> {
        if let Mode::Detail { scroll, .. } | Mode::DriftDetail { scroll, .. } = &mut self.state.mode {
            *scroll = scroll.saturating_add_signed(delta as i16);
            return Ok(());
        }
        let handle = &self.handle;
        match self.state.pane {
            Pane::Events => {
                let events = &mut self.state.events;
                events
                    .list
                    .move_by(delta, &mut events_fetch(handle, &events.filter))?;
                // Scrolling away from the newest event stops following; back on it, follows again.
                events.follow = events.list.at_top();
            }
            Pane::Failed => {
                let filter = only(EventStatus::DeadLetter);
                self.state
                    .failed
                    .list
                    .move_by(delta, &mut events_fetch(handle, &filter))?;
            }
            Pane::Held => {
                let filter = only(EventStatus::Held);
                self.state
                    .held
                    .list
                    .move_by(delta, &mut events_fetch(handle, &filter))?;
            }
            Pane::Audit => {
                let audit = &mut self.state.audit;
                audit
                    .list
                    .move_by(delta, &mut audit_fetch(handle, &audit.filter))?;
            }
            Pane::Contract => {
                let last = self.state.contract.lines.len().saturating_sub(1) as i64;
                let to = (self.state.contract.scroll as i64 + delta as i64).clamp(0, last.max(0));
                self.state.contract.scroll = u16::try_from(to).unwrap_or(u16::MAX);
            }
            Pane::Credentials => {
                // All rows shown are loaded at once: nothing more to fetch.
                let mut loaded = |_: Option<i64>, _: crate::store::Toward, _: usize| Ok(Vec::new());
                self.state.credentials.list.move_by(delta, &mut loaded)?;
            }
            Pane::Drift => self.move_drift(delta)?,
            Pane::Duplicates => self.move_duplicates(delta)?,
        }
        Ok(())
    }

    /// `g` (newest) or `G` (oldest): one page from either end, never the rows between.
    fn jump(&mut self, newest: bool) -> Result<(), HandleError> {
        let handle = &self.handle;
        macro_rules! ends {
            ($list:expr, $fetch:expr) => {
                if newest {
                    $list.load_newest(&mut $fetch)
                } else {
                    $list.load_oldest(&mut $fetch)
                }
            };
        }
        match self.state.pane {
            Pane::Events => {
                let events = &mut self.state.events;
                ends!(events.list, events_fetch(handle, &events.filter))?;
                events.follow = newest;
            }
            Pane::Failed => ends!(
                self.state.failed.list,
                events_fetch(handle, &only(EventStatus::DeadLetter))
            )?,
            Pane::Held => ends!(
                self.state.held.list,
                events_fetch(handle, &only(EventStatus::Held))
            )?,
            Pane::Audit => {
                let audit = &mut self.state.audit;
                ends!(audit.list, audit_fetch(handle, &audit.filter))?;
            }
            Pane::Contract => self.state.contract.scroll = 0,
            Pane::Credentials => {
                let list = &mut self.state.credentials.list;
                list.selected = if newest {
                    0
                } else {
                    list.rows.len().saturating_sub(1)
                };
            }
            Pane::Drift => self.jump_drift(newest)?,
            Pane::Duplicates => self.jump_duplicates(newest)?,
        }
        Ok(())
    }

    fn keep_visible(&mut self) {
        let rows = layout::list_rows(self.state.width, self.state.height);
        self.state.events.list.keep_visible(rows);
        self.state.failed.list.keep_visible(rows);
        self.state.held.list.keep_visible(rows);
        self.state.audit.list.keep_visible(rows);
        self.state.credentials.list.keep_visible(rows);
        let (width, height) = (self.state.width, self.state.height);
        let (drift, groups) = layout::review_list_rows(width, height);
        self.state.drift.items.keep_visible(drift);
        self.state.duplicates.groups.keep_visible(groups);
    }

    fn selected_event(&self) -> Option<&Event> {
        match self.state.pane {
            Pane::Events => self.state.events.list.selected_row(),
            Pane::Failed => self.state.failed.list.selected_row(),
            Pane::Held => self.state.held.list.selected_row(),
            _ => None,
        }
    }

    fn open(&mut self) -> Result<(), HandleError> {
        if self.state.pane == Pane::Audit {
            let Some(entry) = self.state.audit.list.selected_row() else {
                return Ok(());
            };
            let Some(employee) = entry.employee_id.clone() else {
                self.state.say("this entry names no employee");
                return Ok(());
            };
            self.state.audit.filter = AuditFilter {
                employee_id: Some(employee),
                ..AuditFilter::default()
            };
            return self.reload_audit();
        }
        let id = match self.state.pane {
            Pane::Credentials => self
                .state
                .credentials
                .list
                .selected_row()
                .map(|c| c.credential.event_id),
            _ => self.selected_event().map(|e| e.id),
        };
        let Some(id) = id else {
            return Ok(());
        };
        if let Some(detail) = self.handle.event(id)? {
            self.state.mode = Mode::Detail {
                detail: Box::new(detail),
                scroll: 0,
            };
        }
        Ok(())
    }

    fn back(&mut self) -> Result<(), HandleError> {
        match std::mem::take(&mut self.state.mode) {
            Mode::Normal
                if self.state.pane == Pane::Audit && self.state.audit.filter != AuditFilter::default() =>
            {
                self.state.audit.filter = AuditFilter::default();
                self.reload_audit()?;
            }
            Mode::EditContract { .. } => self
                .state
                .say("edit discarded; the contract in force is unchanged"),
            _ => {}
        }
        Ok(())
    }

    fn toggle_select(&mut self) {
        let queue = match self.state.pane {
            Pane::Failed => &mut self.state.failed,
            Pane::Held => &mut self.state.held,
            _ => return,
        };
        if let Some(id) = queue.list.selected_row().map(|e| e.id)
            && !queue.chosen.remove(&id)
        {
            queue.chosen.insert(id);
        }
    }

    fn copy(&mut self) {
        let text = match (&self.state.mode, self.state.pane) {
            (Mode::Detail { detail, .. }, _) => {
                serde_json::to_string_pretty(&detail.event.payload).unwrap_or_default()
            }
            (Mode::DriftDetail { item, .. }, _) => serde_json::to_string_pretty(item).unwrap_or_default(),
            (_, Pane::Drift) => match self.state.drift.items.selected_row() {
                Some(item) => serde_json::to_string(&item.row).unwrap_or_default(),
                None => return,
            },
            (_, Pane::Duplicates) => match self.state.duplicates.group() {
                Some(group) => serde_json::to_string(group).unwrap_or_default(),
                None => return,
            },
            (_, Pane::Audit) => match self.state.audit.list.selected_row() {
                Some(entry) => serde_json::to_string(entry).unwrap_or_default(),
                None => return,
            },
            (_, Pane::Contract) => match &self.state.contract.text {
                Some(text) => text.clone(),
                None => return,
            },
            _ => match self.selected_event() {
                Some(e) => {
                    serde_json::json!({ "id": e.id, "employee_id": e.employee_id, "payload": e.payload })
                        .to_string()
                }
                None => return,
            },
        };
        self.state
            .say(format!("copied {} bytes to the clipboard (OSC 52)", text.len()));
        self.state.clipboard = Some(text);
    }

    // --- writing ---

    /// A command on the chosen rows of the failed or held pane (else the one under the cursor).
    fn on_queue(&mut self, make: impl FnOnce(Vec<crate::model::EventId>) -> Command) {
        let queue = match self.state.pane {
            Pane::Failed => &self.state.failed,
            Pane::Held => &self.state.held,
            _ => return,
        };
        let ids = queue.targets();
        if ids.is_empty() {
            self.state.say("nothing here to act on");
            return;
        }
        if let Err(error) = self.request(make(ids)) {
            self.state.warn(format!("{error}"));
        }
    }

    /// Every write comes here: refused when read-only, then a reason if it needs one,
    /// then a yes if it is destructive, then done.
    pub(super) fn request(&mut self, command: Command) -> Result<(), HandleError> {
        if self.writes_refused() {
            return Ok(());
        }
        if command.lacks_reason() {
            self.prompt(Prompt::Reason(command), String::new());
            return Ok(());
        }
        if matches!(command, Command::AcceptDrift { expires: None, .. }) {
            self.prompt(Prompt::Expiry(command), String::new());
            return Ok(());
        }
        if command.needs_confirmation() {
            let body = self.confirmation_body(&command);
            self.state.mode = Mode::Confirm { command, body };
            return Ok(());
        }
        self.execute(command)
    }

    fn confirmation_body(&self, command: &Command) -> Vec<String> {
        let ids = match command {
            Command::Retry(ids) | Command::ConfirmHeld(ids) => ids.clone(),
            Command::Skip { ids, .. } | Command::Flag { ids, .. } | Command::RejectHeld { ids, .. } => {
                ids.clone()
            }
            Command::RetryAllDeadLetters => {
                return vec![format!(
                    "{} dead letters will be tried again now.",
                    self.state.counts.dead_letters
                )];
            }
            Command::ApplyContract(text) => {
                return contract_view::diff(self.state.contract.text.as_deref().unwrap_or(""), text);
            }
            Command::Pause | Command::Resume => return Vec::new(),
            Command::FixDrift(_)
            | Command::FlagDrift { .. }
            | Command::AcceptDrift { .. }
            | Command::RequestReconcile => return self.drift_body(command),
            Command::NotDuplicate { .. } | Command::FlagDuplicate { .. } | Command::LinkLearner { .. } => {
                return self.duplicate_body(command);
            }
        };
        let rows: Vec<&Event> = [&self.state.failed.list.rows, &self.state.held.list.rows]
            .into_iter()
            .flatten()
            .collect();
        let mut body: Vec<String> = ids
            .iter()
            .take(8)
            .map(|id| match rows.iter().find(|e| e.id == *id) {
                Some(e) => format!("event {}  {}  {}", e.id, e.employee_id, e.kind),
                None => format!("event {id}"),
            })
            .collect();
        if ids.len() > 8 {
            body.push(format!("… and {} more", ids.len() - 8));
        }
        if let Command::Skip { reason: Some(r), .. }
        | Command::Flag { reason: Some(r), .. }
        | Command::RejectHeld { reason: Some(r), .. } = command
        {
            body.push(format!("reason: {r}"));
        }
        body
    }

    fn execute(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let h = &self.handle;
        let done = match command {
            Command::FixDrift(_)
            | Command::FlagDrift { .. }
            | Command::AcceptDrift { .. }
            | Command::RequestReconcile => return self.execute_drift(command),
            Command::NotDuplicate { .. } | Command::FlagDuplicate { .. } | Command::LinkLearner { .. } => {
                return self.execute_duplicate(command);
            }
            Command::Retry(ids) => h.retry(&ids).map(|e| e.len()),
            Command::RetryAllDeadLetters => h.retry_all().map(|e| e.len()),
            Command::Skip { ids, reason } => each(&ids, |id| h.skip(id, reason.as_deref().unwrap_or(""))),
            Command::Flag { ids, reason } => each(&ids, |id| h.flag(id, reason.as_deref().unwrap_or(""))),
            Command::ConfirmHeld(ids) => h.confirm_held(&ids).map(|e| e.len()),
            Command::RejectHeld { ids, reason } => h
                .reject_held(&ids, reason.as_deref().unwrap_or(""))
                .map(|e| e.len()),
            Command::Pause => h.set_paused(true).map(|_| 1),
            Command::Resume => h.set_paused(false).map(|_| 1),
            Command::ApplyContract(text) => match h.apply_contract(&text)? {
                ContractVerdict::Applied { version } => {
                    self.state.contract.pending_version = Some(version.clone());
                    self.state.say(format!(
                        "contract {version} handed to the engine; it switches within a second"
                    ));
                    return self.refresh();
                }
                ContractVerdict::Refused(problems) => {
                    self.state.warn(format!(
                        "contract refused: {} problem(s); the old one stays",
                        problems.len()
                    ));
                    return Ok(());
                }
            },
        };
        match done {
            Ok(n) => {
                self.state.failed.chosen.clear();
                self.state.held.chosen.clear();
                self.state
                    .say(format!("done: {what} ({n} changed, in the audit log)"));
            }
            Err(error) => self.state.warn(format!("could not {what}: {error}")),
        }
        self.refresh()
    }

    // --- text ---

    pub(super) fn prompt(&mut self, prompt: Prompt, text: String) {
        // A prefill can be a value from outside (a learner's external id): the
        // operator edits and submits what they see, escapes included.
        let mut input = TextArea::new(vec![crate::console::sanitise::visible_string(text)]);
        input.move_cursor(tui_textarea::CursorMove::End);
        self.state.mode = Mode::Prompt { prompt, input };
    }

    fn edit_contract(&mut self) {
        let Some(text) = self.state.contract.text.clone() else {
            self.state
                .warn("the contract in force is not known to this console (attach with --contract FILE)");
            return;
        };
        let editor = TextArea::new(text.lines().map(str::to_string).collect());
        self.state.mode = Mode::EditContract {
            editor,
            problems: Vec::new(),
        };
    }

    fn input(&mut self, key: KeyEvent) {
        match &mut self.state.mode {
            Mode::Prompt { input, .. } => {
                // One line: Enter is Submit, so only the text's own keys get here.
                input.input(key);
            }
            Mode::EditContract { editor, .. } => {
                editor.input(key);
            }
            _ => {}
        }
    }

    fn submit(&mut self) -> Result<(), HandleError> {
        match std::mem::take(&mut self.state.mode) {
            Mode::Prompt { prompt, input } => {
                let text = input.lines().join(" ").trim().to_string();
                let value = (!text.is_empty()).then_some(text.clone());
                match prompt {
                    Prompt::EventText => {
                        self.state.events.filter.text = value;
                        self.reload_events()?;
                    }
                    Prompt::EventEmployee => {
                        self.state.events.filter.employee_id = value;
                        self.reload_events()?;
                    }
                    Prompt::AuditText => {
                        self.state.audit.filter.text = value;
                        self.reload_audit()?;
                    }
                    Prompt::Reason(command) => {
                        if text.is_empty() {
                            self.state.warn("a reason is required; nothing was changed");
                            return Ok(());
                        }
                        self.request(command.with_reason(text))?;
                    }
                    Prompt::Expiry(command) => self.submit_expiry(command, text)?,
                    Prompt::LinkEmployee(command) => self.submit_link(command, text)?,
                }
            }
            Mode::EditContract { editor, .. } => {
                let text = editor.lines().join("\n") + "\n";
                match crate::engine::handle::check_contract(&text) {
                    Err(problems) => {
                        self.state.warn(format!(
                            "contract refused: {} problem(s); the contract in force stays",
                            problems.len()
                        ));
                        self.state.mode = Mode::EditContract { editor, problems };
                    }
                    Ok(_) if Some(&text) == self.state.contract.text.as_ref() => {
                        self.state.say("no change to apply");
                    }
                    Ok(_) => self.request(Command::ApplyContract(text))?,
                }
            }
            other => self.state.mode = other,
        }
        Ok(())
    }
}

/// Runs `act` on each id, stopping at the first failure; how many succeeded.
fn each<T>(
    ids: &[crate::model::EventId],
    mut act: impl FnMut(crate::model::EventId) -> Result<T, HandleError>,
) -> Result<usize, HandleError> {
    for &id in ids {
        act(id)?;
    }
    Ok(ids.len())
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

impl Action {
    /// Starts a change to the journal or the engine.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Action::Retry
                | Action::RetryAll
                | Action::Skip
                | Action::Flag
                | Action::ConfirmHeld
                | Action::RejectHeld
                | Action::TogglePause
                | Action::EditContract
                | Action::Fix
                | Action::Accept
                | Action::RunReconcile
                | Action::NotDuplicate
                | Action::Link
                | Action::Request(_)
        )
    }
}
