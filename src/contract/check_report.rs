//! The contract's `[writeback.report_columns]`: which column of an LMS's
//! completion report holds which field, checked with the line of each problem.

use std::collections::BTreeMap;

use toml::Spanned;

use super::Checker;
use crate::model::files::{REPORT_FIELDS, REPORT_REQUIRED};

impl Checker<'_> {
    /// `[writeback.report_columns]`: each header names a report field, no field
    /// twice, and every field a report must have.
    pub(super) fn report_columns(
        &mut self,
        spanned: Option<&Spanned<BTreeMap<String, Spanned<String>>>>,
    ) -> Vec<(String, String)> {
        let Some(spanned) = spanned else {
            return Vec::new();
        };
        let fields = REPORT_FIELDS.join(", ");
        let mut columns: Vec<(String, String)> = Vec::new();
        for (header, field) in spanned.get_ref() {
            let name = field.get_ref().trim();
            if header.trim().is_empty() {
                self.problem(field, "writeback.report_columns: a column's header is empty");
            } else if !REPORT_FIELDS.contains(&name) {
                self.problem(
                    field,
                    format!(
                        "writeback.report_columns: \"{header}\" maps to \"{name}\", which is not a report \
                         field (expected one of: {fields})"
                    ),
                );
            } else if let Some((other, _)) = columns.iter().find(|(_, f)| f == name) {
                self.problem(
                    field,
                    format!(
                        "writeback.report_columns: \"{header}\" and \"{other}\" both map to \"{name}\"; \
                         a field is read from one column"
                    ),
                );
            } else {
                columns.push((header.trim().to_string(), name.to_string()));
            }
        }
        for required in &REPORT_FIELDS[..REPORT_REQUIRED] {
            if !spanned
                .get_ref()
                .values()
                .any(|f| f.get_ref().trim() == *required)
            {
                self.problem(
                    spanned,
                    format!(
                        "writeback.report_columns: no column maps to \"{required}\", which every report \
                         must have (needed: {})",
                        REPORT_FIELDS[..REPORT_REQUIRED].join(", ")
                    ),
                );
            }
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    const SHIPPED: &str = include_str!("../../assets/contract.toml");

    fn problems(columns: &str) -> Vec<crate::contract::ContractProblem> {
        let start = SHIPPED
            .find("[writeback.report_columns]")
            .expect("the shipped contract maps a report");
        let end = start + SHIPPED[start..].find("\n\n").expect("the section ends");
        let text = format!(
            "{}[writeback.report_columns]\n{columns}{}",
            &SHIPPED[..start],
            &SHIPPED[end..]
        );
        match crate::contract::parse(&text) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        }
    }

    #[test]
    fn the_shipped_report_columns_are_read() {
        let contract = crate::contract::parse(SHIPPED).unwrap();
        let columns = contract.writeback.unwrap().report_columns;
        assert!(
            columns.contains(&("Employee ID".into(), "employee_id".into())),
            "{columns:?}"
        );
        assert_eq!(columns.len(), 8);
    }

    #[test]
    fn each_wrong_mapping_is_named_with_its_line() {
        let required = "\"Who\" = \"employee_id\"\n\"What\" = \"course_id\"\n\"When\" = \"completed_at\"\n";
        assert!(problems(required).is_empty(), "{:?}", problems(required));
        let cases = [
            (
                format!("{required}\"Grade\" = \"grade\"\n"),
                "\"Grade\" maps to \"grade\", which is not a report field",
            ),
            (
                format!("{required}\"Also when\" = \"completed_at\"\n"),
                "both map to \"completed_at\"",
            ),
            (
                "\"Who\" = \"employee_id\"\n\"When\" = \"completed_at\"\n".to_string(),
                "no column maps to \"course_id\"",
            ),
        ];
        for (columns, expected) in cases {
            let found = problems(&columns);
            let problem = found
                .iter()
                .find(|p| p.message.contains(expected))
                .unwrap_or_else(|| panic!("{expected}: {found:?}"));
            let section = SHIPPED
                .lines()
                .position(|l| l == "[writeback.report_columns]")
                .unwrap()
                + 1;
            assert!(problem.line >= section, "{problem:?} is at the section or below");
        }
    }
}
