//! What decided each field's value for one record: the HRIS value, the value
//! table entry or empty rule that applied, and the value the LMS gets, for
//! `hrsync trace`. It runs the mapping's own check (`map::check_value`), so the
//! explanation cannot drift from what is written.

use serde::Serialize;
use serde_json::Value;

use super::map::{Checked, FieldSource, Today, check_value, fallback_text, sent_text, text_of};
use super::{Contract, EmptyRule, Owner};

/// One contract field for one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldExplained {
    pub field: String,
    /// The HRIS field it is read from.
    pub hris: String,
    /// The SCIM attribute it is written to; none for a field only rules read.
    pub scim: Option<String>,
    /// The HRIS value as sent; `None` when absent or empty.
    pub hris_value: Option<String>,
    /// What decided the LMS value: "as sent", "value table T: A → B", "empty: skip".
    pub rule: String,
    /// The value the LMS gets; `None` when the field is left out of the write.
    pub lms_value: Option<Value>,
    /// Why the value breaks the contract, if it does.
    pub problem: Option<String>,
    /// The contract line of the field's rule.
    pub line: usize,
}

/// Every field the contract maps, in the contract's order.
pub fn explain_fields<R: FieldSource + ?Sized>(contract: &Contract, record: &R) -> Vec<FieldExplained> {
    let today = Today::new(contract);
    contract
        .fields
        .iter()
        .enumerate()
        .map(|(at, rule)| {
            // A plain field shows the HRIS value as sent; a computed one what it computed.
            let raw = match &rule.expr {
                None => Ok(record.field(at, &rule.hris)),
                Some(_) => sent_text(&today, at, rule, record),
            };
            let hris_value = raw
                .as_ref()
                .ok()
                .and_then(|raw| raw.as_deref().map(str::to_string));
            let mut explained = FieldExplained {
                field: rule.name.clone(),
                hris: rule.hris.clone(),
                scim: rule.scim.clone(),
                hris_value,
                rule: String::new(),
                lms_value: None,
                problem: None,
                line: rule.line,
            };
            if rule.owner == Owner::Lms {
                explained.rule = "owned by the LMS: not written from the HRIS".into();
                return explained;
            }
            let raw = match raw {
                Ok(raw) if rule.expr.is_none() => text_of(raw),
                Ok(raw) => raw,
                Err(reason) => {
                    explained.rule = "expression failed".into();
                    explained.problem = Some(reason);
                    return explained;
                }
            };
            // An empty source falls back to the field's `empty_expr`, as the mapping does.
            let fell_back = raw.is_none() && rule.empty_expr.is_some();
            let raw = match raw {
                None => match fallback_text(&today, rule, record) {
                    Ok(raw) => raw,
                    Err(reason) => {
                        explained.rule = "empty_expr failed".into();
                        explained.problem = Some(reason);
                        return explained;
                    }
                },
                raw => raw,
            };
            match check_value(contract, rule, raw) {
                Ok(Checked::Value { hris, lms }) => {
                    let table = rule.values.as_ref().map(|name| {
                        let entry = contract
                            .value_tables
                            .get(name)
                            .and_then(|t| t.entries.get(&*hris));
                        match entry {
                            Some(to) => format!("value table {name}: {hris} → {to}"),
                            None => format!("value table {name} has no entry for {hris}: as sent"),
                        }
                    });
                    let source = match &rule.expr {
                        _ if fell_back => "empty, computed by empty_expr",
                        Some(_) => "computed",
                        None => "as sent",
                    };
                    explained.rule =
                        table.unwrap_or_else(|| format!("{source} ({:?})", rule.kind).to_lowercase());
                    explained.lms_value = rule.scim.is_some().then(|| lms.to_value());
                }
                Ok(Checked::Empty(sent)) => {
                    explained.rule = format!(
                        "empty: {}",
                        match rule.empty {
                            EmptyRule::Skip => "skip (left out of the write)",
                            EmptyRule::Empty => "empty (an empty string is sent)",
                            EmptyRule::Null => "null (the LMS value is cleared)",
                            EmptyRule::Reject => "reject",
                        }
                    );
                    explained.lms_value = sent.filter(|_| rule.scim.is_some()).map(|w| w.to_value());
                }
                Err(reason) => {
                    explained.rule = "refused".into();
                    explained.problem = Some(reason);
                }
            }
            explained
        })
        .collect()
}
