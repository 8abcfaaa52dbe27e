//! Store reads off the UI loop. A pane or the shell asks for a [`Read`]; the loop
//! runs it on a blocking thread (tests run it at once) and hands the result back
//! as [`Action::Loaded`], which `update` applies unless something newer was asked
//! for the same pane since, or the pane is no longer in front.

use std::sync::{Arc, Mutex};

use super::action::Action;
use super::list::{Keyed, Window};
use super::panes::Pane;
use super::state::State;
use crate::engine::operator::handle::{EngineHandle, HandleError};
use crate::store::Toward;

/// What a finished read does to the state.
pub type Apply = Box<dyn FnOnce(&mut State) + Send>;

type Job = Box<dyn FnOnce(&EngineHandle) -> Result<Apply, HandleError> + Send>;

/// A read waiting to run: for a pane (`Some`) or for the header and tabs (`None`).
pub struct Read {
    pub pane: Option<Pane>,
    /// Set by the console when the read is asked for; newer tickets make it stale.
    pub ticket: u64,
    /// After the header's read, the pane in front reads its rows (they depend on it).
    pub then_refresh: bool,
    /// It opens a detail over the pane: a read of its own, which the list's
    /// reads neither make stale nor wait for.
    pub detail: bool,
    job: Job,
}

impl Read {
    pub fn new(
        pane: Option<Pane>,
        job: impl FnOnce(&EngineHandle) -> Result<Apply, HandleError> + Send + 'static,
    ) -> Read {
        Read {
            pane,
            ticket: 0,
            then_refresh: false,
            detail: false,
            job: Box::new(job),
        }
    }

    /// A read that opens a detail of a row of `pane` (see [`Read::detail`]).
    pub fn detail(
        pane: Pane,
        job: impl FnOnce(&EngineHandle) -> Result<Apply, HandleError> + Send + 'static,
    ) -> Read {
        Read {
            detail: true,
            ..Read::new(Some(pane), job)
        }
    }

    /// Runs the read (on a blocking thread in the console's loop).
    pub fn run(self, handle: &EngineHandle) -> Action {
        Action::Loaded(Loaded {
            pane: self.pane,
            ticket: self.ticket,
            then_refresh: self.then_refresh,
            detail: self.detail,
            result: Arc::new(Mutex::new(Some((self.job)(handle)))),
        })
    }
}

/// A read's result on its way back into `update`.
#[derive(Clone)]
pub struct Loaded {
    pub pane: Option<Pane>,
    pub ticket: u64,
    pub then_refresh: bool,
    pub detail: bool,
    result: Arc<Mutex<Option<Result<Apply, HandleError>>>>,
}

impl Loaded {
    /// The result, once: a cloned `Loaded` shares it.
    pub fn take(&self) -> Option<Result<Apply, HandleError>> {
        self.result.lock().ok()?.take()
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Loaded({:?}, ticket {})", self.pane, self.ticket)
    }
}

impl PartialEq for Loaded {
    fn eq(&self, other: &Loaded) -> bool {
        Arc::ptr_eq(&self.result, &other.result)
    }
}

/// What a list read does with the window it copied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Newest,
    Oldest,
    Refresh,
    Move(isize),
    /// Space: mark the row under the cursor, or unmark it (no read).
    Mark,
    /// Esc: let every mark go (no read).
    Unmark,
    /// `A`: mark every row the list's filter matches (read off the loop).
    MarkAll,
}

impl Op {
    /// The list read a cursor key stands for (`page`: rows a page key moves by).
    pub fn of_move(action: &Action, page: isize) -> Option<Op> {
        Some(match action {
            Action::Up => Op::Move(-1),
            Action::Down => Op::Move(1),
            Action::PageUp => Op::Move(-page),
            Action::PageDown => Op::Move(page),
            Action::Top => Op::Newest,
            Action::Bottom => Op::Oldest,
            _ => return None,
        })
    }

    /// Whether `op` on `window` can be done without reading: a mark, or a move
    /// inside the rows held, short of the probe at the top.
    pub fn local<T: Keyed + Clone>(self, window: &mut Window<T>) -> bool {
        match self {
            Op::Mark => window.toggle_mark(),
            Op::Unmark => window.unmark(),
            _ => {}
        }
        let Op::Move(delta) = self else {
            return matches!(self, Op::Mark | Op::Unmark);
        };
        if !window.loaded {
            return false;
        }
        let target = window.selected as isize + delta;
        let beyond =
            (target >= window.rows.len() as isize && !window.at_oldest) || (target <= 0 && !window.at_newest);
        if beyond {
            return false;
        }
        let last = window.rows.len().saturating_sub(1) as isize;
        window.selected = target.clamp(0, last.max(0)) as usize;
        true
    }
}

/// A read of a list in view: the window is copied, paged with `fetch` off the
/// loop, and `put` back. A move within the rows held is done at once, unread.
pub fn list<T>(
    pane: Pane,
    window: &mut Window<T>,
    op: Op,
    mut fetch: impl FnMut(&EngineHandle, Option<i64>, Toward, usize) -> Result<Vec<T>, HandleError>
    + Send
    + 'static,
    put: impl FnOnce(&mut State, Window<T>) + Send + 'static,
) -> Option<Read>
where
    T: Keyed + Clone + Send + 'static,
{
    if op.local(window) {
        return None;
    }
    let mut window = window.clone();
    Some(Read::new(Some(pane), move |handle| {
        let mut fetch = |from, toward, limit| fetch(handle, from, toward, limit);
        match op {
            Op::Newest => window.load_newest(&mut fetch)?,
            Op::Oldest => window.load_oldest(&mut fetch)?,
            Op::Refresh => window.refresh(&mut fetch)?,
            Op::Move(delta) => window.move_by(delta, &mut fetch)?,
            Op::MarkAll => window.mark_all(&mut fetch)?,
            Op::Mark | Op::Unmark => {}
        }
        Ok(Box::new(move |state: &mut State| {
            if let (Op::MarkAll, Some(complete)) = (op, window.marked_all) {
                let n = window.marked.len();
                state.say(match complete {
                    true => format!("marked all {n} rows the filter matches (Esc unmarks)"),
                    false => format!("marked the first {n} rows the filter matches, the most A marks"),
                });
            }
            put(state, window)
        }) as Apply)
    }))
}
