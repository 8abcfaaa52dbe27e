//! The Contract pane: the mapping table, value tables and rules read from the
//! checked contract in force, its editor, and the line diff shown before an
//! edited one is applied.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use similar::{ChangeTag, TextDiff};
use tui_textarea::TextArea;

use super::action::Action;
use super::keys::{Binding, Key::*, bind, write};
use super::panes::{Effect, PaneView};
use super::read::Read;
use super::sanitise::{visible, visible_string};
use super::state::{Mode, State};

use crate::engine::operator::handle::{
    Contract, EmptyRule, FieldType, LeaveAction, OnExit, Owner, TriggerWhen, check_contract,
};

/// The contract in force, as text and as display lines, and an apply under way.
#[derive(Debug, Default)]
pub struct ContractPane {
    /// The contract text in force, if the console knows it.
    pub text: Option<String>,
    /// The text as display lines (tables and rules), rebuilt when the text changes.
    pub lines: Vec<String>,
    pub scroll: u16,
    /// Where the last apply stands: "waiting for the engine", "in force".
    pub pending_version: Option<String>,
    /// The edited contract under review (Ctrl-S) and its impact preview.
    pub review: Option<super::review::Review>,
}

pub struct ContractView;

impl PaneView for ContractView {
    fn title(&self) -> &'static str {
        "Contract"
    }

    fn short_title(&self) -> &'static str {
        "Contr"
    }

    fn keys(&self) -> Vec<Binding> {
        vec![
            bind(&[Char('j'), Code(KeyCode::Down)], "j/k", "scroll", Action::Down),
            bind(&[Char('k'), Code(KeyCode::Up)], "", "", Action::Up),
            bind(
                &[Code(KeyCode::PageDown), Ctrl('d')],
                "PgDn/PgUp",
                "page",
                Action::PageDown,
            ),
            bind(&[Code(KeyCode::PageUp), Ctrl('u')], "", "", Action::PageUp),
            write(&[Char('e')], "e", "edit", Action::EditContract),
        ]
    }

    /// The text comes with the header's read: nothing of its own to read.
    fn refresh(&self, _state: &mut State) -> Option<Read> {
        None
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        let delta = match action {
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -state.page_rows(),
            Action::PageDown => state.page_rows(),
            Action::EditContract => {
                edit(state);
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        let contract = &mut state.panes.contract;
        let last = contract.lines.len().saturating_sub(1) as i64;
        let to = (contract.scroll as i64 + delta as i64).clamp(0, last.max(0));
        contract.scroll = u16::try_from(to).unwrap_or(u16::MAX);
        Vec::new()
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.panes.contract.text.clone()
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        let mut shown: Vec<Line> = state
            .panes
            .contract
            .lines
            .iter()
            .skip(state.panes.contract.scroll as usize)
            .map(|l| {
                // The contract's values and its problems can quote anything.
                let l = visible(l);
                if l.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && *l == l.to_uppercase() {
                    Line::styled(l, state.palette.accent())
                } else {
                    Line::raw(l)
                }
            })
            .collect();
        if let Some(version) = &state.panes.contract.pending_version {
            shown.insert(
                0,
                Line::styled(
                    visible_string(format!(
                        "⧗ applied {version}; waiting for the engine to take it up"
                    )),
                    state.palette.warn(),
                ),
            );
        }
        frame.render_widget(Paragraph::new(shown), area);
    }
}

/// Opens the editor on the contract in force.
fn edit(state: &mut State) {
    let Some(text) = state.panes.contract.text.clone() else {
        state.warn("the contract in force is not known to this console (attach with --contract FILE)");
        return;
    };
    state.mode = Mode::EditContract {
        editor: TextArea::new(text.lines().map(str::to_string).collect()),
        problems: Vec::new(),
    };
}

/// Display lines for the contract text in force (or why there is none to show).
pub fn lines(text: Option<&str>) -> Vec<String> {
    let Some(text) = text else {
        return vec![
            "The contract in force is not known to this console.".into(),
            "In one process it is the file the engine started with; attached, pass".into(),
            "`hrsync console --attach --contract FILE`, or apply one from here.".into(),
        ];
    };
    match check_contract(text) {
        Ok(contract) => describe(&contract),
        Err(problems) => {
            let mut out = vec!["The contract text in the store does not check:".to_string()];
            out.extend(problems.iter().map(|p| format!("  {p}")));
            out
        }
    }
}

fn kind(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "string",
        FieldType::Email => "email",
        FieldType::Date => "date",
        FieldType::Enum => "enum",
        FieldType::Number => "number",
        FieldType::Bool => "bool",
    }
}

fn empty(rule: EmptyRule) -> &'static str {
    match rule {
        EmptyRule::Skip => "skip",
        EmptyRule::Empty => "empty",
        EmptyRule::Null => "null",
        EmptyRule::Reject => "reject",
    }
}

fn describe(c: &Contract) -> Vec<String> {
    let mut out = vec![
        format!(
            "Contract version {} · time zone {} · fields {} · value tables {} · triggers {}",
            c.version,
            c.time_zone_name,
            c.fields.len(),
            c.value_tables.len(),
            c.triggers.len()
        ),
        String::new(),
        "MAPPING".into(),
    ];
    let name_width = c
        .fields
        .iter()
        .map(|f| f.name.chars().count() + if f.key { 6 } else { 0 })
        .max()
        .unwrap_or(5);
    let hris_width = c.fields.iter().map(|f| f.hris.chars().count()).max().unwrap_or(4);
    let values_width = c
        .fields
        .iter()
        .map(|f| f.values.as_deref().map_or(1, |v| v.chars().count()))
        .max()
        .unwrap_or(6);
    let row = |name: &str,
               hris: &str,
               kind: &str,
               req: &str,
               owner: &str,
               empty: &str,
               values: &str,
               scim: &str| {
        format!(
            "  {name:<name_width$} {hris:<hris_width$} {kind:<6} {req:<3} {owner:<5} {empty:<6} {values:<values_width$} {scim}"
        )
    };
    out.push(row(
        "field",
        "HRIS",
        "type",
        "req",
        "owner",
        "empty",
        "values",
        "LMS (SCIM path)",
    ));
    for f in &c.fields {
        let owner = match f.owner {
            Owner::Hris => "hris",
            Owner::Lms => "lms",
        };
        let name = if f.key {
            format!("{} (key)", f.name)
        } else {
            f.name.clone()
        };
        out.push(row(
            &name,
            &f.hris,
            kind(f.kind),
            if f.required { "yes" } else { "no" },
            owner,
            empty(f.empty),
            f.values.as_deref().unwrap_or("-"),
            f.scim.as_deref().unwrap_or("(not in the LMS)"),
        ));
        if let Some(fallback) = &f.empty_expr {
            out.push(format!("    when empty: {}", fallback.source()));
        }
    }
    out.push(String::new());
    out.push("VALUE TABLES (HRIS → LMS)".into());
    for (name, table) in &c.value_tables {
        out.push(format!("  {name}"));
        for (from, to) in &table.entries {
            out.push(format!("    {from:?} → {to:?}"));
        }
    }
    out.push(String::new());
    out.push("INCLUSION (all must hold)".into());
    for rule in &c.inclusion {
        out.push(format!("  {}", rule.describe()));
    }
    let l = &c.lifecycle;
    out.push(String::new());
    out.push("LIFECYCLE".into());
    out.push(format!(
        "  status field {}: active [{}], on leave [{}] ({}), terminated [{}]",
        l.status_field,
        l.active.join(", "),
        l.on_leave.join(", "),
        match l.on_leave_action {
            LeaveAction::StayActive => "stay active",
            LeaveAction::Deactivate => "deactivate",
        },
        l.terminated.join(", ")
    ));
    out.push(format!(
        "  hire date {}, manager {}",
        l.hire_date_field,
        l.manager_field.as_deref().unwrap_or("-")
    ));
    out.push(String::new());
    out.push("ENROLMENT TRIGGERS".into());
    for t in &c.triggers {
        let when = match &t.when {
            TriggerWhen::Hire { within_days } => format!("hired within {within_days} days"),
            TriggerWhen::FieldMatches { field, pattern } => format!("{field} matches /{pattern}/"),
            TriggerWhen::FieldValue { field } => format!("each value of {field}"),
        };
        // A trigger written with only a condition matches every learner on its own.
        let when = match (&t.condition, &t.when) {
            (Some(c), TriggerWhen::FieldMatches { pattern, .. }) if pattern.as_str().is_empty() => {
                format!("when {}", c.source())
            }
            (Some(c), _) => format!("{when} and when {}", c.source()),
            (None, _) => when,
        };
        let exit = match t.on_exit {
            OnExit::Keep => "",
            OnExit::Remove => ", left when it no longer holds",
        };
        out.push(format!("  {}: {when} → group {:?}{exit}", t.name, t.group));
    }
    if let Some(w) = &c.writeback {
        out.push(String::new());
        out.push("WRITE-BACK (LMS → HRIS)".into());
        out.push(format!(
            "  verbs [{}]{}; course → training type by table {:?}, credits by {}",
            w.verbs.join(", "),
            if w.record_failed {
                ", failures recorded"
            } else {
                ""
            },
            w.courses,
            match &w.credits_expr {
                Some(expr) => format!("expression {}", expr.source()),
                None => w.credits.as_deref().unwrap_or("-").to_string(),
            }
        ));
        if let Some(hours) = &w.hours_expr {
            out.push(format!("  hours by expression {}", hours.source()));
        }
        out.push(format!(
            "  credentials from extension {} into HRIS table {:?}",
            w.credential_extension, w.credential_table
        ));
    }
    out
}

/// The change from `old` to `new` as unified-diff lines (`-`, `+`, and a little context).
pub fn diff(old: &str, new: &str) -> Vec<String> {
    let diff = TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for group in diff.grouped_ops(2) {
        if let Some(first) = group.first() {
            out.push(format!("@@ line {} @@", first.new_range().start + 1));
        }
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                out.push(format!("{sign} {}", change.value().trim_end_matches('\n')));
            }
        }
    }
    if out.is_empty() {
        out.push("(no change)".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_contract_reads_as_tables() {
        let text = include_str!("../../assets/contract.toml");
        let shown = lines(Some(text)).join("\n");
        assert!(shown.contains("MAPPING"), "{shown}");
        assert!(shown.contains("employee_id (key)"), "{shown}");
    }

    #[test]
    fn expressions_in_scope_and_triggers_read_as_written() {
        let text = include_str!("../../assets/contract.expressions.toml");
        let shown = lines(Some(text)).join("\n");
        assert!(shown.contains("when hris.department != \"Board\""), "{shown}");
        assert!(!shown.contains(" in []"), "{shown}");
        assert!(
            shown.contains("when years_between(date(hris.hireDate), today) >= 10"),
            "{shown}"
        );
        assert!(!shown.contains("matches //"), "{shown}");
        assert!(shown.contains("left when it no longer holds"), "{shown}");
        assert!(
            shown.contains("    when empty: hris.firstName + \" \" + hris.lastName"),
            "{shown}"
        );
        assert!(
            shown.contains("  hours by expression lookup(\"course_hours\", statement.object.id)"),
            "{shown}"
        );
    }

    #[test]
    fn a_diff_names_the_changed_line() {
        let shown = diff("a = 1\nb = 2\n", "a = 1\nb = 3\n");
        assert!(shown.contains(&"- b = 2".to_string()), "{shown:?}");
        assert!(shown.contains(&"+ b = 3".to_string()), "{shown:?}");
    }
}
