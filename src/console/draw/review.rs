//! The review of an edited contract: the text diff beside (on a narrow terminal,
//! above) what it would do to the HRIS population, as `hrsync contract preview`
//! prints it, with the `[safety]` mark first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::flow::wrap;
use super::lists::clock;
use crate::console::review::{Previewed, override_word};
use crate::console::sanitise::{visible, visible_string};
use crate::console::state::State;
use crate::engine::operator::handle::PulledBy;

/// An edited contract under review: the text diff beside its impact on the
/// HRIS population (below it on a narrow terminal). A change deactivating more
/// than `[safety]` allows is marked in the error colour, first, where it cannot
/// be missed; applying it asks for a typed word.
pub fn review(state: &State, diff: &[String], frame: &mut Frame, area: Rect) {
    let trips = state
        .panes
        .contract
        .review
        .as_ref()
        .and_then(|r| r.trips_safety());
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let answer = match trips {
        Some(_) => "y: type the word · n/Esc: back to the edit",
        None => "y/Enter: yes · n/Esc: back to the edit",
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                "Really apply the edited contract?  ",
                state.palette.accent().add_modifier(Modifier::BOLD),
            ),
            Span::styled(answer, state.palette.dim()),
        ])),
        title,
    );
    let wide = rest.width >= 120;
    let change: Vec<Line> = diff
        .iter()
        .map(|l| {
            let style = match l.chars().next() {
                Some('+') => state.palette.good(),
                Some('-') => state.palette.bad(),
                _ => Style::default(),
            };
            Line::styled(visible(l).into_owned(), style)
        })
        .collect();
    let impact = impact_lines(state, wide, if wide { rest.width * 3 / 5 } else { rest.width });
    let [left, right] = if wide {
        // The impact's examples are the longer lines.
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
            .spacing(2)
            .areas(rest)
    } else {
        // Below: the diff as long as it is, but a third of the rows at most.
        let most = (rest.height / 3).max(4);
        let height = (change.len() as u16 + 1).min(most);
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(rest)
    };
    let section = |title: &'static str| {
        Block::default()
            .borders(Borders::TOP)
            .title(Span::styled(title, state.palette.accent()))
    };
    frame.render_widget(Paragraph::new(change).block(section("CHANGE")), left);
    frame.render_widget(
        Paragraph::new(impact).block(section("IMPACT ON THE HRIS POPULATION")),
        right,
    );
}

/// The impact, as the CLI's `contract preview` prints it, its safety mark first.
fn impact_lines(state: &State, wide: bool, width: u16) -> Vec<Line<'static>> {
    let Some(review) = &state.panes.contract.review else {
        return vec![Line::styled("no impact counted", state.palette.dim())];
    };
    let preview = match &review.preview {
        Previewed::Counting => {
            return vec![Line::styled(
                "counting what it does to the HRIS population…",
                state.palette.dim(),
            )];
        }
        Previewed::Failed(why) => {
            return vec![
                Line::styled(
                    visible_string(format!("impact unknown: {why}")),
                    state.palette.warn(),
                ),
                Line::raw("The engine's [safety] still holds mass deactivations for an operator."),
            ];
        }
        Previewed::Ready(preview) => preview,
    };
    let impact = &preview.impact;
    let mut lines = Vec::new();
    if let Some(mark) = review.trips_safety() {
        let bad = state.palette.bad().add_modifier(Modifier::BOLD);
        // Whole, on as many lines as it takes: it is what the operator must not miss.
        let marked = wrap(&format!("✗ {}", impact.safety_line()), width as usize);
        lines.extend(marked.into_iter().map(|l| Line::styled(l, bad)));
        lines.push(Line::styled(
            format!("  applying it asks you to type \"{}\"", override_word(mark)),
            state.palette.bad(),
        ));
    } else {
        lines.push(Line::styled(impact.safety_line(), state.palette.good()));
    }
    lines.push(Line::raw(impact.summary()));
    let pulled = match preview.pulled_by {
        PulledBy::Kept => "kept from the last pull",
        PulledBy::Fresh => "pulled for this review",
    };
    lines.push(Line::styled(
        format!("HRIS list of {}, {pulled}", clock(preview.pulled_at)),
        state.palette.dim(),
    ));
    // Narrow, every row counts: the sections go without blank lines between them.
    lines.extend(
        (impact.lines(visible).into_iter())
            .filter(|l| wide || !l.is_empty())
            .map(|l| {
                let heading = l.starts_with("learner field")
                    || l.starts_with("population ")
                    || l.starts_with("enrolled in group");
                if heading {
                    Line::styled(l, state.palette.dim())
                } else {
                    Line::raw(l)
                }
            }),
    );
    lines
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::console::action::Command;
    use crate::console::palette::Palette;
    use crate::console::review::{Previewed, Review};
    use crate::console::state::{Mode, State};
    use crate::engine::operator::handle::{
        Affected, ContractPreview, Example, FieldImpact, Impact, PulledBy, SafetyMark,
    };

    /// An impact quoting HRIS values a terminal would act on.
    fn hostile() -> Impact {
        let example = |id: &str, before: &str, after: &str| Example {
            employee_id: id.into(),
            before: before.into(),
            after: after.into(),
        };
        Impact {
            employees: 2,
            learners_before: 2,
            learners_after: 1,
            fields: vec![FieldImpact {
                field: "department".into(),
                learners: 1,
                examples: vec![example("E1\x1b]52;c;aGk=\x07", "IT\u{202e}", "Tech\x1b[2J")],
            }],
            deactivated: Affected {
                count: 1,
                examples: vec![example("E2\x1b[2J", "", "out of scope\x07")],
            },
            safety: SafetyMark {
                deactivations: 1,
                allowed: 0,
                trips_safety: true,
            },
            ..Impact::default()
        }
    }

    #[test]
    fn every_value_from_the_hris_is_escaped_and_the_safety_mark_shows() {
        let mut state = State::new(false, Palette::from_env(true), "alice".into(), true);
        let text = "version = 2\n".to_string();
        state.panes.contract.review = Some(Review {
            text: text.clone(),
            preview: Previewed::Ready(Box::new(ContractPreview {
                impact: hostile(),
                pulled_at: jiff::Timestamp::now(),
                pulled_by: PulledBy::Fresh,
            })),
        });
        state.mode = Mode::Confirm {
            command: Command::ApplyContract(text),
            body: vec!["+ version = 2".into()],
        };
        for (width, height) in [(80, 24), (160, 48), (20, 5)] {
            let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
            // Painted without the sweep: the review escapes on its own.
            terminal
                .draw(|frame| crate::console::paint(&state, frame))
                .unwrap();
            let shown: String = (terminal.backend().buffer().content.iter())
                .map(|c| c.symbol())
                .collect();
            assert!(
                !shown.contains(['\x1b', '\x07', '\u{202e}']),
                "{width}×{height}: {shown}"
            );
            if width >= 80 {
                assert!(shown.contains("E1␛]52;c;aGk=␇"), "{shown}");
                assert!(shown.contains("✗ SAFETY: 1 deactivations"), "{shown}");
            }
        }
    }
}
