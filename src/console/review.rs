//! An edited contract under review (Ctrl-S in the editor): its impact on the
//! HRIS population counted off the loop, the yes, and the typed confirmation a
//! change deactivating more than `[safety]` allows asks for.

use super::action::Command;
use super::panes::Effect;
use super::read::{Apply, Read};
use super::state::{Mode, Pane, Prompt, State};
use super::update::Console;
use crate::engine::operator::handle::{ContractPreview, ContractVerdict, HandleError, SafetyMark};

/// An edited contract shown before it is applied: its text, and what it would do
/// to the HRIS population once counted.
#[derive(Debug)]
pub struct Review {
    pub text: String,
    pub preview: Previewed,
}

#[derive(Debug)]
pub enum Previewed {
    /// Being counted off the console's loop (a fresh pull can take a while).
    Counting,
    Ready(Box<ContractPreview>),
    /// It could not be counted: why.
    Failed(String),
}

impl Review {
    /// The deactivations previewed beyond `[safety]`, when they are.
    pub fn trips_safety(&self) -> Option<&SafetyMark> {
        match &self.preview {
            Previewed::Ready(preview) if preview.impact.safety.trips_safety => Some(&preview.impact.safety),
            _ => None,
        }
    }
}

/// Examples the review shows per count: a few, the screen is small.
pub const REVIEW_EXAMPLES: usize = 3;

/// What the operator types to apply a contract that trips `[safety]`.
pub fn override_word(mark: &SafetyMark) -> String {
    format!("deactivate {}", mark.deactivations)
}

/// The read that counts the impact of `text` replacing the contract in force
/// (off the loop: it may pull the HRIS); it lands in the review of that text.
pub fn preview(text: String) -> Read {
    Read::detail(Pane::Contract, move |handle| {
        let previewed = match handle.preview_contract(&text, REVIEW_EXAMPLES) {
            Ok(preview) => Previewed::Ready(Box::new(preview)),
            Err(error) => Previewed::Failed(error.to_string()),
        };
        Ok(Box::new(move |state: &mut State| {
            if let Some(review) = &mut state.panes.contract.review
                && review.text == text
            {
                review.preview = previewed;
            }
        }) as Apply)
    })
}

impl Console {
    /// What became of an edited contract handed to the engine (`overrode`: the
    /// deactivations the operator let through over `[safety]`).
    pub(super) fn contract_applied(&mut self, verdict: ContractVerdict, overrode: Option<u64>) {
        self.state.panes.contract.review = None;
        match verdict {
            ContractVerdict::Applied { version } => {
                self.state.panes.contract.pending_version = Some(version.clone());
                self.state.say(match overrode {
                    None => format!("contract {version} handed to the engine; it switches within a second"),
                    Some(n) => format!(
                        "contract {version} handed to the engine over [safety] ({n} deactivations; \
                         in the audit log)"
                    ),
                });
                self.store_changed();
            }
            ContractVerdict::Refused(problems) => self.state.warn(format!(
                "contract refused: {} problem(s); the old one stays",
                problems.len()
            )),
        }
    }

    /// Ctrl-S: the edited contract goes under review, its impact counted off the loop.
    pub(super) fn review_contract(&mut self, text: String) -> Result<(), HandleError> {
        self.state.panes.contract.review = Some(Review {
            text: text.clone(),
            preview: Previewed::Counting,
        });
        self.effects(vec![Effect::Read(preview(text))])
    }

    /// Yes to a confirmation. An edited contract goes ahead once its impact is
    /// counted; one that deactivates more than `[safety]` allows waits for the
    /// operator to type the word it asks for.
    pub(super) fn confirmed(&mut self, command: Command, body: Vec<String>) -> Result<(), HandleError> {
        let Command::ApplyContract(text) = &command else {
            return self.execute(command);
        };
        let review = self
            .state
            .panes
            .contract
            .review
            .as_ref()
            .filter(|r| &r.text == text);
        if let Some(Review {
            preview: Previewed::Counting,
            ..
        }) = review
        {
            self.state.mode = Mode::Confirm { command, body };
            self.state
                .warn("the impact is still being counted: y again once it shows (n goes back to the edit)");
            return Ok(());
        }
        let Some(mark) = review.and_then(Review::trips_safety) else {
            return self.execute(command);
        };
        let word = override_word(mark);
        let overriding = Command::OverrideSafety {
            text: text.clone(),
            deactivations: mark.deactivations,
            allowed: mark.allowed,
            typed: word.clone(),
        };
        self.prompt(
            Prompt::TypeToConfirm {
                command: overriding,
                word,
            },
            String::new(),
        );
        Ok(())
    }

    /// The word typed to apply a contract over `[safety]`: the right one applies
    /// it; anything else applies nothing and goes back to the review.
    pub(super) fn submit_typed(
        &mut self,
        command: Command,
        word: &str,
        typed: String,
    ) -> Result<(), HandleError> {
        if typed == word {
            return self.execute(command);
        }
        self.back_to_review(&command);
        self.state.warn(format!(
            "not applied: \"{typed}\" is not \"{word}\"; the contract in force stays"
        ));
        Ok(())
    }

    /// Esc (or a wrong word) at the typed confirmation: the review again, counted as it was.
    pub(super) fn back_to_review(&mut self, command: &Command) {
        if let Command::OverrideSafety { text, .. } = command {
            let command = Command::ApplyContract(text.clone());
            let body = self.confirmation_body(&command);
            self.state.mode = Mode::Confirm { command, body };
        } else {
            self.state.mode = Mode::Normal;
        }
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::Previewed;
    use crate::console::state::Mode;
    use crate::console::{Console, ConsoleOptions};
    use crate::engine::operator::handle::EngineHandle;
    use crate::store::{ControlPlane, Store};

    const CONTRACT: &str = include_str!("../../assets/contract.toml");

    fn press(console: &mut Console, code: KeyCode, modifiers: KeyModifiers) {
        console.key(KeyEvent::new(code, modifiers));
    }

    #[test]
    fn yes_waits_for_the_count_and_a_count_that_fails_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        let handle = EngineHandle::on_store(store.clone()).with_contract_text(Some(CONTRACT.into()));
        let mut console = Console::new(handle.clone(), &ConsoleOptions::default());
        // From here on, reads wait for the loop, as they do in a terminal.
        console.reads_off_loop();
        for c in "5e#".chars() {
            press(&mut console, KeyCode::Char(c), KeyModifiers::NONE);
        }
        press(&mut console, KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert!(matches!(console.state.mode, Mode::Confirm { .. }));
        let review = console.state.panes.contract.review.as_ref().unwrap();
        assert!(matches!(review.preview, Previewed::Counting));

        press(&mut console, KeyCode::Char('y'), KeyModifiers::NONE);
        assert!(
            matches!(console.state.mode, Mode::Confirm { .. }),
            "still reviewing"
        );
        let flash = console.state.flash.as_ref().unwrap();
        assert!(flash.text.contains("still being counted"), "{flash:?}");
        assert_eq!(store.contract_requested().unwrap(), None);

        // The count comes back: this handle has no HRIS to pull from.
        for read in console.take_reads() {
            let loaded = read.run(&handle);
            console.update(loaded);
        }
        let review = console.state.panes.contract.review.as_ref().unwrap();
        match &review.preview {
            Previewed::Failed(why) => assert!(why.contains("no HRIS to preview against"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Nothing counted, nothing marked: the engine's own [safety] still holds.
        press(&mut console, KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(store.contract_requested().unwrap(), Some(format!("#{CONTRACT}")));
        assert!(console.state.panes.contract.review.is_none());
    }
}
