//! Bounded fuzzing of the contract loader (proptest, in `cargo test`): any text,
//! and the shipped contract with lines dropped, repeated or garbled, is either
//! accepted or refused with problems that each name a line in the file; the
//! loader never panics.

use proptest::prelude::*;

use super::parse;

const SHIPPED: &str = include_str!("../../assets/contract.toml");

fn check_answer(text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    if let Err(problems) = parse(text) {
        prop_assert!(!problems.is_empty(), "a refusal names at least one problem");
        for problem in problems {
            prop_assert!(
                problem.line >= 1 && problem.line <= lines + 1,
                "line {} of {lines}",
                problem.line
            );
            prop_assert!(!problem.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_accepted_or_refused_by_line(text in "\\PC{0,300}") {
        check_answer(&text)?;
    }

    #[test]
    fn a_damaged_contract_is_refused_by_line(
        edits in prop::collection::vec((0usize..400, 0u8..4, "\\PC{0,12}"), 1..6)
    ) {
        let mut lines: Vec<String> = SHIPPED.lines().map(str::to_string).collect();
        for (at, how, text) in edits {
            let at = at % lines.len().max(1);
            match how {
                0 => { lines.remove(at); }
                1 => { let copy = lines[at].clone(); lines.insert(at, copy); }
                2 => lines[at].push_str(&text),
                _ => lines[at] = text,
            }
            if lines.is_empty() {
                lines.push(String::new());
            }
        }
        check_answer(&lines.join("\n"))?;
    }
}
