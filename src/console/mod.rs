//! The operations console: what the operator sees and what they asked for.
//! Elm-style: terminal input becomes an [`Action`], [`Console::update`] changes
//! the [`State`], [`draw`] paints it. Each pane is a component ([`panes::PaneView`]:
//! its reads, keys, key handling, columns, draw and state) on one line of the
//! registry below, which also declares its module. Store reads run off the UI
//! loop as [`read::Read`]s and come back as [`Action::Loaded`]; stale ones are
//! dropped. Writes pass one gate in `gate.rs` (read-only, reason, confirmation).
//! It reaches the engine only through an [`EngineHandle`], so the same console
//! runs beside an engine or attached to one.

pub mod action;
mod command_line;
pub mod draw;
mod drift_commands;
mod gate;
pub mod keys;
pub mod layout;
pub mod list;
pub mod palette;
pub mod panes;
mod queue;
pub mod read;
mod review;
pub mod sanitise;
pub mod state;
pub mod terminal;
mod update;

// The panes, in the order of their digit keys: each line declares the pane's
// module, its `Pane` variant and view, and its state in `Panes` (see panes.rs).
panes::registry! {
    Events => events::EventsView, events: events::EventsPane,
    Failed => failed::FailedView, failed: failed::FailedPane,
    Drift => drift::DriftView, drift: drift::DriftPane,
    Duplicates => duplicates::DuplicatesView, duplicates: duplicates::DuplicatesPane,
    Contract => contract_view::ContractView, contract: contract_view::ContractPane,
    Audit => audit::AuditView, audit: audit::AuditPane,
    Held => held::HeldView, held: held::HeldPane,
    Credentials => credentials::CredentialsView, credentials: credentials::CredentialsPane,
    Files => files::FilesView, files: files::FilesPane,
    Cutover => cutover::CutoverView, cutover: cutover::CutoverPane,
}

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures::{FutureExt, StreamExt};

pub use action::{Action, Command};
pub use draw::{draw, paint};
pub use state::State;
pub use update::Console;

use crate::engine::operator::handle::EngineHandle;

/// How often the store is asked whether anything changed (one PRAGMA, no rows).
const CHANGE_POLL: Duration = Duration::from_millis(250);
/// The clock tick: "12s ago" moves, a silent engine turns stale.
const TICK: Duration = Duration::from_secs(1);

/// How the console was started.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// Refuse every change (the second operator, the on-call engineer looking).
    pub read_only: bool,
    /// No colour, as with NO_COLOR.
    pub no_color: bool,
}

/// Runs the console on this terminal until the operator quits. The terminal is
/// restored on every way out, panics included.
pub async fn run_console(handle: EngineHandle, options: ConsoleOptions) -> anyhow::Result<()> {
    let mut terminal = terminal::enter()?;
    let result = run_loop(&mut terminal, handle, options).await;
    terminal::leave()?;
    result
}

fn signal(kind: tokio::signal::unix::SignalKind) -> anyhow::Result<tokio::signal::unix::Signal> {
    Ok(tokio::signal::unix::signal(kind)?)
}

async fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    handle: EngineHandle,
    options: ConsoleOptions,
) -> anyhow::Result<()> {
    let mut watch = handle.watch()?;
    watch.changed()?;
    // The first read is done before the first frame, off the runtime's threads.
    let reader = handle.clone();
    let mut console = tokio::task::spawn_blocking(move || Console::new(reader, &options)).await?;
    console.reads_off_loop();
    let (loaded_tx, mut loaded) = tokio::sync::mpsc::unbounded_channel();
    let size = terminal.size()?;
    console.update(Action::Resize(size.width, size.height));
    let mut input = EventStream::new();
    // The store's change check (a PRAGMA every 250 ms) runs on a blocking thread
    // too: a change comes back as a message, a failure ends the console.
    let (changed_tx, mut changed) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(1);
    tokio::task::spawn_blocking(move || {
        while !changed_tx.is_closed() {
            std::thread::sleep(CHANGE_POLL);
            let (message, last) = match watch.changed() {
                Ok(false) => continue,
                Ok(true) => (Ok(()), false),
                Err(error) => (Err(error.into()), true),
            };
            if last {
                // A failure must reach the loop, even behind a change not yet read.
                let _ = changed_tx.blocking_send(message);
                return;
            }
            // Full: a change is already waiting to be read, which covers this one.
            let _ = changed_tx.try_send(message);
        }
    });
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    // SIGTERM, or SIGHUP when the SSH session drops: leave as `q` does.
    let mut hangup = signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        // Store reads run on blocking threads and come back as `Action::Loaded`.
        for read in console.take_reads() {
            let (handle, done) = (handle.clone(), loaded_tx.clone());
            tokio::task::spawn_blocking(move || {
                // The console may have quit meanwhile: nobody is left to tell.
                let _ = done.send(read.run(&handle));
            });
        }
        if dirty {
            terminal.draw(|frame| draw(&console.state, frame))?;
            if let Some(text) = console.state.clipboard.take() {
                terminal::copy(&text)?;
            }
            dirty = false;
        }
        if console.state.quit {
            return Ok(());
        }
        tokio::select! {
            _ = hangup.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            next = input.next() => {
                let Some(event) = next else { return Ok(()) };
                dirty |= on_terminal(&mut console, event?);
                // Drain what is already queued (a paste, a held key), then draw once.
                while let Some(Some(event)) = input.next().now_or_never() {
                    dirty |= on_terminal(&mut console, event?);
                }
            }
            Some(action) = loaded.recv() => {
                console.update(action);
                while let Ok(action) = loaded.try_recv() {
                    console.update(action);
                }
                dirty = true;
            }
            Some(change) = changed.recv() => {
                change?;
                console.update(Action::StoreChanged);
                dirty = true;
            }
            _ = tick.tick() => {
                console.update(Action::Tick);
                dirty = true;
            }
        }
    }
}

/// Whether the event changed anything worth a redraw.
fn on_terminal(console: &mut Console, event: TermEvent) -> bool {
    match event {
        TermEvent::Key(key) => {
            console.key(key);
            true
        }
        TermEvent::Resize(width, height) => {
            console.update(Action::Resize(width, height));
            true
        }
        _ => false,
    }
}
