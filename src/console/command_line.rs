//! The `:` command line, k9s style: `:retry 123`, `:skip 123 reason…`,
//! `:filter status=rejected`, `:pane drift`, `:reconcile`, `:pause`. Tab
//! completes the word being typed and the line below says what fits. A command
//! that writes becomes the same [`Command`] a key would, and passes the same
//! gate (read-only, reason, confirmation).

use super::action::{Action, Command};
use super::panes::Pane;
use super::read::Op;
use super::state::Mode;
use super::update::Console;
use crate::engine::operator::handle::HandleError;
use crate::model::{Direction, EventId, EventStatus};

/// What a command line asks for, once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Entered {
    /// A write, through the one gate.
    Request(Command),
    Go(Pane),
    /// The Events pane's filters (`None`: leave as is; `Some(None)`: clear).
    FilterEvents(EventsFilter),
    /// The `/` filter of the pane in front (`None`: clear it).
    FilterText(Option<String>),
    Help,
    Quit,
}

/// Changes to the Events pane's filters, field by field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsFilter {
    pub status: Option<Option<EventStatus>>,
    pub direction: Option<Option<Direction>>,
    pub employee: Option<Option<String>>,
    pub text: Option<Option<String>>,
}

/// The commands, with what each takes, in the order completion lists them.
const COMMANDS: &[(&str, &str)] = &[
    ("retry", "retry <id>[,<id>…]: try events again now"),
    ("skip", "skip <id>[,<id>…] <reason…>: close without applying"),
    (
        "flag",
        "flag <id>[,<id>…] <note…>: close and hand to the HRIS admin",
    ),
    ("confirm", "confirm <id>[,<id>…]: let held deactivations go ahead"),
    ("reject", "reject <id>[,<id>…] <reason…>: close held events"),
    (
        "filter",
        "filter status=… direction=… employee=… text=… (or a text; empty clears)",
    ),
    (
        "pane",
        "pane <name>: events, failed, drift, dups, contract, audit, held, creds",
    ),
    ("reconcile", "reconcile: run a reconciliation now"),
    ("pause", "pause: ask the engine to pause"),
    ("resume", "resume: ask the engine to go on"),
    (
        "shadow",
        "shadow leave <reason…>: leave shadow mode; the engine writes from now on",
    ),
    ("help", "help: every key"),
    ("quit", "quit: leave the console"),
];

const FILTER_KEYS: &[&str] = &["status=", "direction=", "employee=", "text="];

/// The one of `names` that `word` is, or is the start of.
fn resolve(word: &str, names: &[String], what: &str) -> Result<String, String> {
    let word = word.to_lowercase();
    if let Some(exact) = names.iter().find(|n| **n == word) {
        return Ok(exact.clone());
    }
    match complete_word(&word, names.iter().cloned())
        .unwrap_or_default()
        .as_slice()
    {
        [one] => Ok(one.clone()),
        [] => Err(format!("{word:?} is not a {what}: {}", names.join(", "))),
        many => Err(format!("{word:?} could be {}", many.join(" or "))),
    }
}

/// The pane a name or its start stands for: its title, or "duplicates", "credentials".
fn pane_named(word: &str) -> Result<Pane, String> {
    let mut names = pane_names();
    names.extend(["duplicates".to_string(), "credentials".to_string()]);
    let name = resolve(word, &names, "pane")?;
    let pane = match name.as_str() {
        "duplicates" => Pane::Duplicates,
        "credentials" => Pane::Credentials,
        title => *Pane::ALL
            .iter()
            .find(|p| p.title().to_lowercase() == title)
            .unwrap_or(&Pane::Events),
    };
    Ok(pane)
}

fn pane_names() -> Vec<String> {
    Pane::ALL.iter().map(|p| p.title().to_lowercase()).collect()
}

/// "123", "123,124" or "#123": event ids.
fn ids(word: &str) -> Result<Vec<EventId>, String> {
    let ids: Result<Vec<EventId>, String> = word
        .split(',')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.trim_start_matches('#')
                .parse::<i64>()
                .map(EventId)
                .map_err(|_| format!("{w:?} is not an event id"))
        })
        .collect();
    match ids? {
        none if none.is_empty() => Err("which event? give its id".into()),
        some => Ok(some),
    }
}

/// The rest of the line after the ids, as a reason: `None` lets the gate ask for it.
fn reason(words: &[&str]) -> Option<String> {
    let text = words.join(" ");
    (!text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The command a line stands for, or why it stands for none.
pub fn parse(line: &str) -> Result<Entered, String> {
    let line = line.trim().trim_start_matches(':');
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&verb, rest)) = words.split_first() else {
        return Err("type a command; Tab lists them".into());
    };
    let first = || rest.first().copied().unwrap_or("");
    let commands: Vec<String> = COMMANDS.iter().map(|(c, _)| c.to_string()).collect();
    let verb = resolve(verb, &commands, "command")?;
    Ok(match verb.as_str() {
        "retry" => Entered::Request(Command::Retry(ids(&rest.join(","))?)),
        "skip" => Entered::Request(Command::Skip {
            ids: ids(first())?,
            reason: reason(rest.get(1..).unwrap_or_default()),
        }),
        "flag" => Entered::Request(Command::Flag {
            ids: ids(first())?,
            reason: reason(rest.get(1..).unwrap_or_default()),
        }),
        "confirm" => Entered::Request(Command::ConfirmHeld(ids(&rest.join(","))?)),
        "reject" => Entered::Request(Command::RejectHeld {
            ids: ids(first())?,
            reason: reason(rest.get(1..).unwrap_or_default()),
        }),
        "filter" => filter(rest)?,
        "pane" => Entered::Go(pane_named(first())?),
        "reconcile" => Entered::Request(Command::RequestReconcile),
        "pause" => Entered::Request(Command::Pause),
        "resume" => Entered::Request(Command::Resume),
        "shadow" if first() == "leave" => Entered::Request(Command::LeaveShadow {
            reason: reason(rest.get(1..).unwrap_or_default()),
        }),
        "shadow" => return Err("shadow leave <reason…>: the one shadow command".into()),
        "help" => Entered::Help,
        _ => Entered::Quit,
    })
}

/// `filter status=rejected employee=E001`, or a bare text for the pane in front.
fn filter(words: &[&str]) -> Result<Entered, String> {
    if words.iter().all(|w| !w.contains('=')) {
        return Ok(Entered::FilterText(reason(words)));
    }
    let mut change = EventsFilter::default();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "{word:?}: give key=value (status, direction, employee, text)"
            ));
        };
        let value = (!value.is_empty()).then_some(value);
        match key {
            "status" => {
                change.status = Some(value.map(parse_status).transpose()?);
            }
            "direction" => {
                change.direction = Some(value.map(parse_direction).transpose()?);
            }
            "employee" => change.employee = Some(value.map(str::to_string)),
            "text" => change.text = Some(value.map(str::to_string)),
            other => {
                return Err(format!(
                    "{other:?}: filter by status, direction, employee or text"
                ));
            }
        }
    }
    Ok(Entered::FilterEvents(change))
}

fn parse_status(value: &str) -> Result<EventStatus, String> {
    EventStatus::parse(&value.replace(' ', "_")).ok_or_else(|| {
        let all: Vec<&str> = EventStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("{value:?} is not a status: {}", all.join(", "))
    })
}

fn parse_direction(value: &str) -> Result<Direction, String> {
    match value {
        "lms" | "hris_to_lms" | "to_lms" => Ok(Direction::HrisToLms),
        "hris" | "lms_to_hris" | "to_hris" => Ok(Direction::LmsToHris),
        other => Err(format!(
            "{other:?}: direction lms (HRIS → LMS) or hris (LMS → HRIS)"
        )),
    }
}

/// The candidates that start with `word`.
fn complete_word(word: &str, candidates: impl IntoIterator<Item = String>) -> Option<Vec<String>> {
    let found: Vec<String> = candidates.into_iter().filter(|c| c.starts_with(word)).collect();
    (!found.is_empty()).then_some(found)
}

/// The longest start the candidates share.
fn common_start(candidates: &[String]) -> String {
    let Some(first) = candidates.first() else {
        return String::new();
    };
    let mut end = first.len();
    for other in &candidates[1..] {
        end = first
            .char_indices()
            .zip(other.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(end);
    }
    first[..end].to_string()
}

/// What the word being typed may become, and the start of the line before it.
fn candidates(line: &str) -> (String, String, Vec<String>) {
    let (before, word) = match line.rfind(' ') {
        Some(at) => (&line[..=at], &line[at + 1..]),
        None => ("", line),
    };
    let verb = line.split_whitespace().next().unwrap_or("");
    let all: Vec<String> = if before.is_empty() {
        COMMANDS.iter().map(|(c, _)| c.to_string()).collect()
    } else if verb == "pane" {
        pane_names()
    } else if verb == "filter" {
        match word.split_once('=') {
            Some(("status", _)) => EventStatus::ALL
                .iter()
                .map(|s| format!("status={}", s.as_str()))
                .collect(),
            Some(("direction", _)) => vec!["direction=lms".into(), "direction=hris".into()],
            Some(_) => Vec::new(),
            None => FILTER_KEYS.iter().map(|k| k.to_string()).collect(),
        }
    } else {
        Vec::new()
    };
    let found = complete_word(word, all).unwrap_or_default();
    (before.to_string(), word.to_string(), found)
}

/// Tab: the line with the word being typed completed as far as it is certain.
pub fn complete(line: &str) -> String {
    let (before, word, found) = candidates(line);
    match found.as_slice() {
        [] => line.to_string(),
        [one] if one.ends_with('=') => format!("{before}{one}"),
        [one] => format!("{before}{one} "),
        many => {
            let start = common_start(many);
            format!("{before}{}", if start.len() > word.len() { start } else { word })
        }
    }
}

/// The line below the command line: what the word being typed may become, or
/// what the command takes.
pub fn hint(line: &str) -> String {
    let (_, _, found) = candidates(line);
    let verb = line.split_whitespace().next().unwrap_or("");
    let usage = COMMANDS
        .iter()
        .find(|(c, _)| *c == verb && line.contains(' '))
        .map(|(_, usage)| *usage);
    match (usage, found.len()) {
        (Some(usage), 0) => usage.to_string(),
        (_, 0) => "no such command; Backspace and Tab list them".to_string(),
        _ => found.join(" · "),
    }
}

impl Console {
    /// A command line entered: refused with the prompt kept open when it
    /// stands for nothing, else done as its keys would do it.
    pub(super) fn run_command_line(&mut self, line: String) -> Result<(), HandleError> {
        let entered = match parse(&line) {
            Ok(entered) => entered,
            Err(why) => {
                self.prompt(super::state::Prompt::Command, line);
                if let Mode::Prompt { refusal, .. } = &mut self.state.mode {
                    *refusal = Some(why);
                }
                return Ok(());
            }
        };
        match entered {
            Entered::Request(command) => self.request(command)?,
            Entered::Go(pane) => self.update(Action::GoPane(pane)),
            Entered::Help => self.state.mode = Mode::Help,
            Entered::Quit => self.state.quit = true,
            Entered::FilterText(text) => {
                if self.state.pane.view().text_filter(&self.state).is_none() {
                    self.state
                        .warn(format!("the {} pane has no text filter", self.state.pane.title()));
                    return Ok(());
                }
                self.filter_text(text)?;
            }
            Entered::FilterEvents(change) => {
                let filter = &mut self.state.panes.events.filter;
                if let Some(status) = change.status {
                    filter.status = status;
                }
                if let Some(direction) = change.direction {
                    filter.direction = direction;
                }
                if let Some(employee) = change.employee {
                    filter.employee_id = employee;
                }
                if let Some(text) = change.text {
                    filter.text = text;
                }
                if self.state.pane != Pane::Events {
                    self.update(Action::GoPane(Pane::Events));
                }
                let read = Pane::Events.view().list(&mut self.state, Op::Newest);
                self.effects(read.into_iter().map(super::panes::Effect::Read).collect())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_into_what_the_keys_ask_for() {
        assert_eq!(
            parse(":retry 12,13 14"),
            Ok(Entered::Request(Command::Retry(vec![
                EventId(12),
                EventId(13),
                EventId(14)
            ])))
        );
        assert_eq!(
            parse("skip 7 superseded by a later change"),
            Ok(Entered::Request(Command::Skip {
                ids: vec![EventId(7)],
                reason: Some("superseded by a later change".into())
            }))
        );
        assert_eq!(
            parse("skip 7"),
            Ok(Entered::Request(Command::Skip {
                ids: vec![EventId(7)],
                reason: None
            }))
        );
        assert_eq!(parse("pan dr"), Ok(Entered::Go(Pane::Drift)));
        assert_eq!(parse("pane duplicates"), Ok(Entered::Go(Pane::Duplicates)));
        assert_eq!(parse("rec"), Ok(Entered::Request(Command::RequestReconcile)));
        assert_eq!(parse("p"), Err("\"p\" could be pane or pause".into()));
        assert!(parse("pane d").unwrap_err().contains("drift or dups"));
        assert!(parse("retry twelve").unwrap_err().contains("not an event id"));
        assert!(parse("launch").unwrap_err().contains("not a command: retry"));
        let Ok(Entered::FilterEvents(f)) = parse("filter status=rejected employee=E001 text=") else {
            panic!("a filter");
        };
        assert_eq!(f.status, Some(Some(EventStatus::Rejected)));
        assert_eq!(f.employee, Some(Some("E001".into())));
        assert_eq!(f.text, Some(None));
        assert_eq!(f.direction, None);
        assert!(parse("filter status=lost").unwrap_err().contains("not a status"));
        assert_eq!(
            parse("filter Fire Safety"),
            Ok(Entered::FilterText(Some("Fire Safety".into())))
        );
    }

    #[test]
    fn tab_completes_as_far_as_is_certain() {
        assert_eq!(complete("re"), "re");
        assert_eq!(complete("rec"), "reconcile ");
        assert_eq!(complete("pane d"), "pane d");
        assert_eq!(complete("pane dr"), "pane drift ");
        assert_eq!(complete("filter st"), "filter status=");
        assert_eq!(complete("filter status=dead"), "filter status=dead_letter ");
        assert_eq!(complete("skip 12 "), "skip 12 ");
        assert_eq!(hint("re"), "retry · reject · reconcile · resume");
        assert!(hint("skip 12").starts_with("skip <id>"));
    }
}
