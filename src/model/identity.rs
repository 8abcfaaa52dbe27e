//! Who a record is, for duplicate detection: the keys two records of one person
//! would share, normalised so that case, spacing and Unicode spelling (NFKC) do
//! not hide them. Which fields feed them is the contract's business.

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// The keys two records of one person would share; empty when the record lacks them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityKeys {
    pub employee_id: String,
    /// The normalised work email, or "".
    pub email: String,
    /// The normalised "first last", or "".
    pub name: String,
    /// YYYY-MM-DD as the HRIS gives it, or "".
    pub hire_date: String,
    /// What an operator needs to tell the records apart (name, email, hire date,
    /// department, location, status, ...), by HRIS field name.
    pub display: Map<String, Value>,
}

/// Why two records are suspected to be one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateBasis {
    /// The same normalised work email.
    Email,
    /// The same normalised full name and the same hire date.
    #[serde(rename = "name_hire_date")]
    NameAndHireDate,
    /// A learner already holds the userName another employee maps to.
    UserName,
}

impl DuplicateBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateBasis::Email => "email",
            DuplicateBasis::NameAndHireDate => "name_hire_date",
            DuplicateBasis::UserName => "user_name",
        }
    }

    pub fn parse(text: &str) -> Option<DuplicateBasis> {
        match text {
            "email" => Some(DuplicateBasis::Email),
            "name_hire_date" => Some(DuplicateBasis::NameAndHireDate),
            "user_name" => Some(DuplicateBasis::UserName),
            _ => None,
        }
    }

    /// In the operator's words.
    pub fn describe(self) -> &'static str {
        match self {
            DuplicateBasis::Email => "same work email",
            DuplicateBasis::NameAndHireDate => "same name and hire date",
            DuplicateBasis::UserName => "learner already holds the userName",
        }
    }
}

impl IdentityKeys {
    /// The key this record has on `basis`, if it has one.
    pub fn key(&self, basis: DuplicateBasis) -> Option<String> {
        match basis {
            DuplicateBasis::Email => (!self.email.is_empty()).then(|| self.email.clone()),
            DuplicateBasis::NameAndHireDate => (!self.name.is_empty() && !self.hire_date.is_empty())
                .then(|| format!("{}|{}", self.name, self.hire_date)),
            // Found only by a create the LMS refused, never among HRIS records.
            DuplicateBasis::UserName => None,
        }
    }
}

/// NFKC, lower case, runs of white space as one space, trimmed.
pub fn normalise(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An email's key: normalised, with no white space at all.
pub fn normalise_email(text: &str) -> String {
    normalise(text).replace(' ', "")
}
