//! A reconciliation's full lists held compactly: every record's values packed
//! into one arena in column order, and the values a column repeats
//! (departments, titles, statuses, group sets) interned: stored once, and a
//! record holds their number. A million employees and a million learners fit in
//! a few hundred megabytes this way, where the same lists as JSON values take
//! several gigabytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use serde_json::{Map, Value};

use crate::connectors::roles::{GroupMembers, ScimUser};
use crate::contract::Contract;
use crate::contract::ScimPath;
use crate::contract::map::FieldSource;
use crate::contract::reports::ReportCounts;

/// Distinct values a column interns; later new values are kept in the record
/// (an id or an email column fills this and stops).
const SHARED_PER_COLUMN: usize = 4_096;

/// One value read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Absent or null.
    Missing,
    Text(&'a str),
    /// Any other JSON value, as its JSON text.
    Json(&'a str),
}

impl<'a> Cell<'a> {
    pub fn text(self) -> Option<&'a str> {
        match self {
            Cell::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The value as JSON again.
    pub fn to_value(self) -> Value {
        match self {
            Cell::Missing => Value::Null,
            Cell::Text(text) => Value::String(text.to_string()),
            Cell::Json(json) => serde_json::from_str(json).unwrap_or(Value::Null),
        }
    }
}

/// A tag's kinds (its low two bits); the rest is the text's length, or the
/// number of an interned value.
const MISSING: u64 = 0;
const TEXT: u64 = 1;
const SHARED: u64 = 2;
const JSON: u64 = 3;

/// The values one column has interned.
#[derive(Default)]
struct Shared {
    /// Each value's place in `values`, by the value.
    index: HashTable<u32>,
    values: Vec<Box<str>>,
}

/// Records with the same columns, packed: per value a tag (kind and length, or
/// the number of an interned value) and, apart, the text itself, so reading a
/// value back needs no UTF-8 check.
pub struct Packed {
    columns: Vec<String>,
    tags: Vec<u8>,
    text: String,
    /// Per record: where its tags and its text start.
    starts: Vec<(usize, usize)>,
    shared: Vec<Shared>,
    /// Hashes the interned values.
    state: foldhash::fast::RandomState,
    /// Distinct values a column interns.
    shared_limit: usize,
}

impl Packed {
    pub fn new(columns: Vec<String>) -> Packed {
        let shared = columns.iter().map(|_| Shared::default()).collect();
        Packed {
            columns,
            tags: Vec::new(),
            text: String::new(),
            starts: Vec::new(),
            shared,
            state: foldhash::fast::RandomState::default(),
            shared_limit: SHARED_PER_COLUMN,
        }
    }

    /// Interns at most `limit` distinct values per column (tests use a few, so
    /// every kind of cell is read).
    #[cfg(test)]
    pub fn share_at_most(&mut self, limit: usize) {
        self.shared_limit = limit;
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Adds one record; `cells` yields a value per column, in column order.
    pub fn push<'v>(&mut self, cells: impl IntoIterator<Item = Cell<'v>>) {
        self.starts.push((self.tags.len(), self.text.len()));
        let mut count = 0;
        for (column, cell) in cells.into_iter().enumerate() {
            count += 1;
            let tag = match cell {
                Cell::Missing => MISSING,
                Cell::Json(json) => {
                    self.text.push_str(json);
                    (json.len() as u64) << 2 | JSON
                }
                Cell::Text(text) => match self.intern(column, text) {
                    Some(index) => u64::from(index) << 2 | SHARED,
                    None => {
                        self.text.push_str(text);
                        (text.len() as u64) << 2 | TEXT
                    }
                },
            };
            put_varint(&mut self.tags, tag);
        }
        assert_eq!(count, self.columns.len(), "a record gives one value per column");
    }

    /// The number of `text` among column `column`'s interned values, interning
    /// it if the column has room.
    fn intern(&mut self, column: usize, text: &str) -> Option<u32> {
        let shared = &mut self.shared[column];
        let hash = self.state.hash_one(text);
        let values = &shared.values;
        if let Some(&index) = shared.index.find(hash, |&at| &*values[at as usize] == text) {
            return Some(index);
        }
        if shared.values.len() >= self.shared_limit {
            return None;
        }
        let index = shared.values.len() as u32;
        shared.values.push(text.into());
        let (state, values) = (&self.state, &shared.values);
        (shared.index).insert_unique(hash, index, |&at| state.hash_one(&values[at as usize]));
        Some(index)
    }

    /// The values of record `row`, in column order.
    pub fn row<'a>(&'a self, row: usize, into: &mut Vec<Cell<'a>>) {
        into.clear();
        self.read(row, self.columns.len(), |cell| into.push(cell));
    }

    /// One value of record `row`.
    pub fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let mut last = Cell::Missing;
        self.read(row, column + 1, |cell| last = cell);
        last
    }

    /// Hands the first `count` values of record `row` to `each`.
    fn read<'a>(&'a self, row: usize, count: usize, mut each: impl FnMut(Cell<'a>)) {
        let (mut at, mut text_at) = self.starts[row];
        for column in 0..count {
            let tag = get_varint(&self.tags, &mut at);
            let payload = (tag >> 2) as usize;
            each(match tag & 3 {
                MISSING => Cell::Missing,
                SHARED => Cell::Text(&self.shared[column].values[payload]),
                kind => {
                    let text = &self.text[text_at..text_at + payload];
                    text_at += payload;
                    if kind == TEXT {
                        Cell::Text(text)
                    } else {
                        Cell::Json(text)
                    }
                }
            });
        }
    }

    /// Gives back what the arena grew by but does not use (once every record is in).
    pub fn shrink_to_fit(&mut self) {
        self.tags.shrink_to_fit();
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline(always)]
fn get_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

/// Packs a JSON value: strings as text, anything else as its JSON text in `scratch`.
fn push_value<'v>(value: Option<&'v Value>, scratch: &'v mut String) -> Cell<'v> {
    match value {
        None | Some(Value::Null) => Cell::Missing,
        Some(Value::String(text)) => Cell::Text(text),
        Some(other) => {
            *scratch = other.to_string();
            Cell::Json(scratch)
        }
    }
}

/// The HRIS's employees: one column per field the contract reads.
pub struct Employees {
    pub rows: Packed,
}

impl Employees {
    pub fn new(fields: &[&str]) -> Employees {
        let mut columns: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        // Sorted, so a field is found by binary search.
        columns.sort_unstable();
        columns.dedup();
        Employees {
            rows: Packed::new(columns),
        }
    }

    pub fn push(&mut self, record: &Map<String, Value>) {
        let mut scratch: Vec<String> = vec![String::new(); self.rows.columns.len()];
        let cells: Vec<Cell<'_>> = (self.rows.columns.iter())
            .zip(scratch.iter_mut())
            .map(|(name, scratch)| push_value(record.get(name), scratch))
            .collect();
        self.rows.push(cells);
    }

    /// The column of each of the contract's fields, by its place in `fields`.
    pub fn columns_of(&self, contract: &Contract) -> Vec<Option<usize>> {
        (contract.fields.iter())
            .map(|rule| {
                (rule.plain_hris())
                    .and_then(|hris| self.rows.columns.binary_search_by(|c| c.as_str().cmp(hris)).ok())
            })
            .collect()
    }

    /// Each manager's `reports` among these employees, read through `by_rule`
    /// (`columns_of`); `None` when the contract's triggers do not read it.
    pub fn report_counts(&self, contract: &Contract, by_rule: &[Option<usize>]) -> Option<ReportCounts> {
        if !contract.reads_reports() {
            return None;
        }
        let (mut counts, mut cells) = (ReportCounts::default(), Vec::new());
        for row in 0..self.rows.len() {
            self.rows.row(row, &mut cells);
            let record = Record {
                columns: &self.rows.columns,
                cells: &cells,
                by_rule,
            };
            counts.add(contract, &record);
        }
        Some(counts)
    }
}

/// One packed employee seen through its (sorted) column names, as the contract reads it.
pub struct Record<'a> {
    pub columns: &'a [String],
    pub cells: &'a [Cell<'a>],
    /// The column of each contract field (`Employees::columns_of`), or empty: then
    /// fields are found by name.
    pub by_rule: &'a [Option<usize>],
}

impl Record<'_> {
    pub fn get(&self, field: &str) -> Cell<'_> {
        self.columns
            .binary_search_by(|c| c.as_str().cmp(field))
            .map_or(Cell::Missing, |i| self.cells[i])
    }

    /// The record as the HRIS sent it (for a finding's detail).
    pub fn to_map(&self) -> Map<String, Value> {
        self.columns
            .iter()
            .zip(self.cells)
            .map(|(name, cell)| (name.clone(), cell.to_value()))
            .collect()
    }
}

impl FieldSource for Record<'_> {
    fn text(&self, field: &str) -> Option<Cow<'_, str>> {
        key_text(self.get(field)).map(Cow::Borrowed)
    }

    fn field(&self, rule: usize, field: &str) -> Option<Cow<'_, str>> {
        match self.by_rule.get(rule) {
            Some(&column) => key_text(column.map_or(Cell::Missing, |c| self.cells[c])).map(Cow::Borrowed),
            None => self.text(field),
        }
    }
}

/// A value as text, however it is held (a number as its JSON text).
pub fn key_text(cell: Cell<'_>) -> Option<&str> {
    match cell {
        Cell::Missing => None,
        Cell::Text(text) | Cell::Json(text) => Some(text),
    }
}

/// The columns a learner keeps: who it is, what an operator compares, each
/// attribute the contract writes, and its groups.
pub const LEARNER_ID: usize = 0;
pub const LEARNER_EXTERNAL_ID: usize = 1;
pub const LEARNER_ACTIVE: usize = 2;
pub const LEARNER_USER_NAME: usize = 3;
pub const LEARNER_EMAIL: usize = 4;
pub const LEARNER_GIVEN_NAME: usize = 5;
pub const LEARNER_FAMILY_NAME: usize = 6;
pub const LEARNER_GROUPS: usize = 7;
const LEARNER_FIXED: [&str; 8] = [
    "id",
    "externalId",
    "active",
    "userName",
    "email",
    "givenName",
    "familyName",
    "groups",
];

/// The fixed columns read at a SCIM path, as a contract may name it too: a
/// contract field at one of these paths reads the fixed column (the same
/// values), so a learner does not store them twice.
const LEARNER_AT_PATH: [(usize, &str); 4] = [
    (LEARNER_EXTERNAL_ID, "externalId"),
    (LEARNER_USER_NAME, "userName"),
    (LEARNER_GIVEN_NAME, "name.givenName"),
    (LEARNER_FAMILY_NAME, "name.familyName"),
];

/// The LMS's learners: the fixed columns, then one per other SCIM path the
/// contract writes.
pub struct Learners {
    pub rows: Packed,
    /// The paths of `LEARNER_AT_PATH`, parsed.
    fixed_paths: Vec<ScimPath>,
    paths: Vec<ScimPath>,
    /// The column of each contract field's path, by its place in `fields`.
    by_rule: Vec<Option<usize>>,
    /// Group names by learner id, from `/Groups` members: servers that leave the
    /// User's `groups` empty hold membership only there.
    member_of: HashMap<String, Vec<std::sync::Arc<str>>>,
}

impl Learners {
    pub fn new(contract: &Contract) -> Learners {
        let mut columns: Vec<String> = LEARNER_FIXED.iter().map(|c| c.to_string()).collect();
        let fixed_paths: Vec<ScimPath> = (LEARNER_AT_PATH.iter())
            .map(|(_, path)| ScimPath::parse(path).expect("a fixed column's path parses"))
            .collect();
        let mut paths: Vec<ScimPath> = Vec::new();
        let mut by_rule = Vec::new();
        for rule in &contract.fields {
            let Some(path) = rule.scim_path.as_ref() else {
                by_rule.push(None);
                continue;
            };
            let same = |other: &ScimPath| same_path(other, path);
            let column = match fixed_paths.iter().position(same) {
                Some(at) => LEARNER_AT_PATH[at].0,
                None => match paths.iter().position(same) {
                    Some(at) => LEARNER_FIXED.len() + at,
                    None => {
                        paths.push(ScimPath::clone(path));
                        columns.push(rule.scim.clone().unwrap_or_default());
                        LEARNER_FIXED.len() + paths.len() - 1
                    }
                },
            };
            by_rule.push(Some(column));
        }
        Learners {
            rows: Packed::new(columns),
            fixed_paths,
            paths,
            by_rule,
            member_of: HashMap::new(),
        }
    }

    /// The LMS's groups and their members, read before the learners are pushed:
    /// a learner's groups are those its `groups` attribute names and those that
    /// list it as a member.
    pub fn set_memberships(&mut self, groups: &[GroupMembers]) {
        for group in groups {
            let name: std::sync::Arc<str> = group.display_name.as_str().into();
            for member in &group.members {
                self.member_of
                    .entry(member.clone())
                    .or_default()
                    .push(name.clone());
            }
        }
    }

    pub fn push(&mut self, user: &ScimUser) {
        let r = &user.resource;
        let email = r["emails"]
            .as_array()
            .and_then(|emails| emails.iter().find_map(|e| e["value"].as_str()));
        let mut groups: Vec<&str> = r["groups"]
            .as_array()
            .map(|groups| groups.iter().filter_map(|g| g["display"].as_str()).collect())
            .unwrap_or_default();
        if let Some(names) = self.member_of.get(&user.id) {
            groups.extend(names.iter().map(|name| &**name));
        }
        groups.sort_unstable();
        groups.dedup();
        let groups = groups.join("\n");
        let mut active = String::new();
        let mut scratch: Vec<String> = vec![String::new(); LEARNER_AT_PATH.len() + self.paths.len()];
        let (fixed, by_path) = scratch.split_at_mut(LEARNER_AT_PATH.len());
        let mut cells = vec![Cell::Missing; LEARNER_FIXED.len()];
        cells[LEARNER_ID] = Cell::Text(&user.id);
        cells[LEARNER_ACTIVE] = push_value(r.get("active"), &mut active);
        cells[LEARNER_EMAIL] = email.map_or(Cell::Missing, Cell::Text);
        if !groups.is_empty() {
            cells[LEARNER_GROUPS] = Cell::Text(&groups);
        }
        for (((column, _), path), scratch) in LEARNER_AT_PATH.iter().zip(&self.fixed_paths).zip(fixed) {
            cells[*column] = push_value(path.get(r), scratch);
        }
        for (path, scratch) in self.paths.iter().zip(by_path.iter_mut()) {
            cells.push(push_value(path.get(r), scratch));
        }
        self.rows.push(cells);
    }

    /// The column holding the values of the contract's field number `rule`.
    pub fn rule_column(&self, rule: usize) -> Option<usize> {
        self.by_rule.get(rule).copied().flatten()
    }
}

/// Two paths naming the same attribute: names match without case, as SCIM
/// says and as `ScimPath::get` reads them.
fn same_path(a: &ScimPath, b: &ScimPath) -> bool {
    let name = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a.is_none() && b.is_none(),
    };
    name(&a.schema, &b.schema)
        && a.attribute.eq_ignore_ascii_case(&b.attribute)
        && a.filter == b.filter
        && name(&a.sub_attribute, &b.sub_attribute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_at_a_fixed_columns_path_reads_that_column_whatever_the_case() {
        let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
        let mut learners = Learners::new(&contract);
        for (field, column) in [
            ("employee_id", LEARNER_EXTERNAL_ID),
            ("user_name", LEARNER_USER_NAME),
            ("first_name", LEARNER_GIVEN_NAME),
            ("last_name", LEARNER_FAMILY_NAME),
        ] {
            let rule = contract.fields.iter().position(|f| f.name == field);
            assert_eq!(learners.rule_column(rule.unwrap()), Some(column), "{field}");
        }
        // No column holds a path twice.
        let columns = learners.rows.columns();
        assert!(
            !columns[LEARNER_FIXED.len()..]
                .iter()
                .any(|c| c == "userName" || c == "externalId")
        );
        learners.push(&ScimUser {
            id: "u-1".into(),
            etag: None,
            resource: serde_json::json!({
                "ExternalID": "7", "USERNAME": "ana@acme.example",
                "Name": { "GivenName": "Ana", "familyName": 5 }, "active": false,
                "emails": [{ "type": "work", "value": "ana@acme.example" }]
            }),
        });
        let mut cells = Vec::new();
        learners.rows.row(0, &mut cells);
        assert_eq!(cells[LEARNER_ID], Cell::Text("u-1"));
        assert_eq!(cells[LEARNER_EXTERNAL_ID], Cell::Text("7"));
        assert_eq!(cells[LEARNER_USER_NAME], Cell::Text("ana@acme.example"));
        assert_eq!(cells[LEARNER_GIVEN_NAME], Cell::Text("Ana"));
        assert_eq!(cells[LEARNER_FAMILY_NAME], Cell::Json("5"));
        assert_eq!(cells[LEARNER_ACTIVE], Cell::Json("false"));
        assert_eq!(cells[LEARNER_EMAIL], Cell::Text("ana@acme.example"));
        assert_eq!(cells[LEARNER_GROUPS], Cell::Missing);
    }
}
