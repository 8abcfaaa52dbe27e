//! A reconciliation's full lists held compactly: every record's values packed
//! into one arena in column order, and the values a column repeats
//! (departments, titles, statuses, group sets) stored once. A million employees
//! and a million learners fit in a few hundred megabytes this way, where the same
//! lists as JSON values take several gigabytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use serde_json::{Map, Value};

use crate::connectors::{GroupMembers, ScimUser};
use crate::contract::Contract;
use crate::contract::ScimPath;
use crate::contract::map::FieldSource;

/// Distinct values a column stores once before it checks that its values repeat:
/// past this, a column goes on storing new values once only while at most one
/// record in `REPEATS` has brought one (a manager or a hire date column does;
/// an id or an email column stops here).
const SHARED_PER_COLUMN: usize = 4_096;

/// See `SHARED_PER_COLUMN`.
const REPEATS: usize = 4;

/// The shared index of a value a column did not store once.
pub const NOT_SHARED: u32 = u32::MAX;

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

/// A tag's kinds (its low two bits). A shared value past the column's first
/// `SHARED_PER_COLUMN` keeps its text in the record too, so reading it does not
/// look it up: its tag is `MISSING` with the text's length plus one, then its
/// shared index.
const MISSING: u64 = 0;
const TEXT: u64 = 1;
const SHARED: u64 = 2;
const JSON: u64 = 3;

/// The values one column has stored once.
#[derive(Default)]
struct Shared {
    /// Each value's place in `values`, by the value.
    index: HashTable<u32>,
    values: Vec<Box<str>>,
    /// Past the limit, new values came too often: no more are stored once.
    stopped: bool,
}

/// Records with the same columns, packed: per value a tag (kind and length, or
/// the index of a value stored once) and, apart, the text itself, so reading a
/// value back needs no UTF-8 check.
pub struct Packed {
    columns: Vec<String>,
    tags: Vec<u8>,
    text: String,
    /// Per record: where its tags and its text start.
    starts: Vec<(usize, usize)>,
    shared: Vec<Shared>,
    /// Hashes the values stored once.
    state: foldhash::fast::RandomState,
    /// Distinct values a column stores once before it checks that they repeat.
    shared_limit: usize,
    /// Whether a column whose values repeat goes on past `shared_limit` (only
    /// tests turn it off).
    repeating: bool,
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
            repeating: true,
        }
    }

    /// Stores `limit` distinct values per column once before checking that they
    /// repeat, and past it goes on only if `repeating` (tests use a few, so every
    /// kind of cell is read).
    #[cfg(test)]
    pub fn share_at_most(&mut self, limit: usize, repeating: bool) {
        self.shared_limit = limit;
        self.repeating = repeating;
    }

    /// The values column `column` stores once; a cell's shared index is its place here.
    pub fn shared_values(&self, column: usize) -> &[Box<str>] {
        &self.shared[column].values
    }

    /// The shared index of `text` in column `column`, if the column stores it once.
    pub fn shared_index(&self, column: usize, text: &str) -> Option<u32> {
        let shared = &self.shared[column];
        (shared.index)
            .find(self.state.hash_one(text), |&at| {
                &*shared.values[at as usize] == text
            })
            .copied()
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
            match cell {
                Cell::Missing => put_varint(&mut self.tags, MISSING),
                Cell::Json(json) => {
                    put_varint(&mut self.tags, (json.len() as u64) << 2 | JSON);
                    self.text.push_str(json);
                }
                Cell::Text(text) => {
                    let shared = &mut self.shared[column];
                    let records = self.starts.len();
                    let hash = self.state.hash_one(text);
                    let values = &shared.values;
                    let index = match shared.index.find(hash, |&at| &*values[at as usize] == text) {
                        Some(&index) => Some(index),
                        None if shared.values.len() < self.shared_limit
                            || (self.repeating
                                && !shared.stopped
                                && shared.values.len() * REPEATS <= records) =>
                        {
                            let index = shared.values.len() as u32;
                            shared.values.push(text.into());
                            let (state, values) = (&self.state, &shared.values);
                            (shared.index)
                                .insert_unique(hash, index, |&at| state.hash_one(&values[at as usize]));
                            Some(index)
                        }
                        None => {
                            shared.stopped = true;
                            None
                        }
                    };
                    match index {
                        Some(index) if (index as usize) < self.shared_limit => {
                            put_varint(&mut self.tags, u64::from(index) << 2 | SHARED)
                        }
                        Some(index) => {
                            put_varint(&mut self.tags, (text.len() as u64 + 1) << 2 | MISSING);
                            put_varint(&mut self.tags, u64::from(index));
                            self.text.push_str(text);
                        }
                        None => {
                            put_varint(&mut self.tags, (text.len() as u64) << 2 | TEXT);
                            self.text.push_str(text);
                        }
                    }
                }
            }
        }
        assert_eq!(count, self.columns.len(), "a record gives one value per column");
    }

    /// The values of record `row`, in column order.
    pub fn row<'a>(&'a self, row: usize, into: &mut Vec<Cell<'a>>) {
        into.clear();
        self.read(row, self.columns.len(), |cell, _| into.push(cell));
    }

    /// The values of record `row` and, beside them, each one's shared index
    /// (`NOT_SHARED` for a value the column does not store once). A value that
    /// is among the first `SHARED_PER_COLUMN` a column stores once comes as
    /// `Cell::Missing` with its index beside it, and `resolved` (or `resolve`)
    /// gives its text: most comparisons need only the index, and the text is a
    /// read elsewhere in memory.
    pub fn row_shared<'a>(&'a self, row: usize, into: &mut Vec<Cell<'a>>, indices: &mut Vec<u32>) {
        let count = self.columns.len();
        into.resize(count, Cell::Missing);
        indices.resize(count, NOT_SHARED);
        let (mut at, mut text_at) = self.starts[row];
        // Written in place: a push per value costs more than the decoding.
        for (column, (cell, index)) in into.iter_mut().zip(indices.iter_mut()).enumerate() {
            (*cell, *index) = self.next::<true>(column, &mut at, &mut text_at);
        }
    }

    /// Cell `cell` of column `column` as `row_shared` read it, with its text.
    pub fn resolved<'a>(&'a self, column: usize, cell: Cell<'a>, index: u32) -> Cell<'a> {
        match cell {
            Cell::Missing if index != NOT_SHARED => Cell::Text(&self.shared[column].values[index as usize]),
            cell => cell,
        }
    }

    /// A record as `row_shared` read it, with every value's text.
    pub fn resolve<'a>(&'a self, cells: &mut [Cell<'a>], indices: &[u32]) {
        for (column, (cell, &index)) in cells.iter_mut().zip(indices).enumerate() {
            *cell = self.resolved(column, *cell, index);
        }
    }

    /// The first `count` values of record `row`.
    pub fn head<'a>(&'a self, row: usize, count: usize, into: &mut Vec<Cell<'a>>) {
        into.clear();
        self.read(row, count.min(self.columns.len()), |cell, _| into.push(cell));
    }

    /// One value of record `row`.
    pub fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let mut last = Cell::Missing;
        self.read(row, column + 1, |cell, _| last = cell);
        last
    }

    /// Hands the first `count` values of record `row` to `each`, with their
    /// shared index (or `NOT_SHARED`).
    fn read<'a>(&'a self, row: usize, count: usize, mut each: impl FnMut(Cell<'a>, u32)) {
        let (mut at, mut text_at) = self.starts[row];
        for column in 0..count {
            let (cell, index) = self.next::<false>(column, &mut at, &mut text_at);
            each(cell, index);
        }
    }

    /// The value of column `column` whose tag is at `at` and text at `text_at`,
    /// with its shared index; moves both past it. If `LAZY`, a value that takes
    /// a look-up comes as `Cell::Missing` (see `row_shared`).
    #[inline(always)]
    fn next<'a, const LAZY: bool>(
        &'a self,
        column: usize,
        at: &mut usize,
        text_at: &mut usize,
    ) -> (Cell<'a>, u32) {
        let tag = get_varint(&self.tags, at);
        let payload = (tag >> 2) as usize;
        match tag & 3 {
            MISSING if payload == 0 => (Cell::Missing, NOT_SHARED),
            MISSING => {
                let index = get_varint(&self.tags, at) as u32;
                let text = &self.text[*text_at..*text_at + payload - 1];
                *text_at += payload - 1;
                (Cell::Text(text), index)
            }
            SHARED if LAZY => (Cell::Missing, payload as u32),
            SHARED => (Cell::Text(&self.shared[column].values[payload]), payload as u32),
            kind => {
                let text = &self.text[*text_at..*text_at + payload];
                *text_at += payload;
                if kind == TEXT {
                    (Cell::Text(text), NOT_SHARED)
                } else {
                    (Cell::Json(text), NOT_SHARED)
                }
            }
        }
    }

    /// Gives back what the arena grew by but does not use (once every record is in).
    pub fn shrink_to_fit(&mut self) {
        self.tags.shrink_to_fit();
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    /// Bytes held (tags, text, the row starts and the values stored once).
    pub fn heap_bytes(&self) -> usize {
        self.tags.capacity()
            + self.text.capacity()
            + self.starts.capacity() * std::mem::size_of::<(usize, usize)>()
            + (self.shared.iter())
                .map(|s| {
                    // A value's text and its box; its place in the index and a control byte.
                    s.values.iter().map(|v| v.len()).sum::<usize>()
                        + s.values.capacity() * std::mem::size_of::<Box<str>>()
                        + s.index.capacity() * (std::mem::size_of::<u32>() + 1)
                })
                .sum::<usize>()
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
    // Most tags take one byte: that case first, out of the loop.
    let first = bytes[*at];
    *at += 1;
    if first < 0x80 {
        return u64::from(first);
    }
    let mut value = u64::from(first & 0x7f);
    let mut shift = 7;
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

fn cell_of(value: Option<&Value>) -> Cell<'_> {
    match value {
        None | Some(Value::Null) => Cell::Missing,
        Some(Value::String(text)) => Cell::Text(text),
        Some(_) => unreachable!("non-strings are written through json_cell"),
    }
}

/// Packs a JSON value: strings as text, anything else as its JSON text in `scratch`.
fn push_value<'v>(value: Option<&'v Value>, scratch: &'v mut String) -> Cell<'v> {
    match value {
        None | Some(Value::Null) | Some(Value::String(_)) => cell_of(value),
        Some(other) => {
            scratch.clear();
            scratch.push_str(&other.to_string());
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
}

/// One packed employee seen through its (sorted) column names, as the contract reads it.
pub struct Record<'a> {
    pub columns: &'a [String],
    pub cells: &'a [Cell<'a>],
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
        match self.get(field) {
            Cell::Missing => None,
            Cell::Text(text) => Some(Cow::Borrowed(text)),
            Cell::Json(json) => Some(Cow::Borrowed(json)),
        }
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
    /// Each contract field the LMS holds, and the column of its path.
    by_field: Vec<(String, usize)>,
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
        let mut by_field = Vec::new();
        for rule in &contract.fields {
            let Some(path) = rule.scim_path.as_ref() else {
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
            by_field.push((rule.name.clone(), column));
        }
        Learners {
            rows: Packed::new(columns),
            fixed_paths,
            paths,
            by_field,
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

    /// The column holding the values of contract field `field`.
    pub fn field_column(&self, field: &str) -> Option<usize> {
        self.by_field
            .iter()
            .find(|(f, _)| f == field)
            .map(|&(_, column)| column)
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
    fn values_read_back_as_written_past_the_shared_limit() {
        let mut packed = Packed::new(vec!["id".into(), "dept".into(), "flag".into()]);
        let rows = SHARED_PER_COLUMN + 10;
        for n in 0..rows {
            let id = format!("é{n}");
            let flag = if n % 2 == 0 {
                Cell::Json("true")
            } else {
                Cell::Missing
            };
            packed.push([
                Cell::Text(&id),
                Cell::Text(if n % 3 == 0 { "Sales" } else { "" }),
                flag,
            ]);
        }
        let mut cells = Vec::new();
        for n in [0, 1, 2, SHARED_PER_COLUMN - 1, SHARED_PER_COLUMN, rows - 1] {
            packed.row(n, &mut cells);
            assert_eq!(cells[0], Cell::Text(&format!("é{n}")), "row {n}");
            assert_eq!(cells[1], Cell::Text(if n % 3 == 0 { "Sales" } else { "" }));
            assert_eq!(
                packed.cell(n, 2),
                if n % 2 == 0 {
                    Cell::Json("true")
                } else {
                    Cell::Missing
                }
            );
        }
        // Shared indices beside the cells: "é0".."é4095" and "Sales"/"" are stored
        // once, ids past the limit are not, and flags are JSON.
        let mut indices = Vec::new();
        packed.row_shared(SHARED_PER_COLUMN + 3, &mut cells, &mut indices);
        assert_eq!(indices, [NOT_SHARED, 1, NOT_SHARED]);
        packed.row_shared(3, &mut cells, &mut indices);
        assert_eq!(indices, [3, 0, NOT_SHARED]);
        // Values among the first stored once come without their text, until resolved.
        assert_eq!(cells, [Cell::Missing, Cell::Missing, Cell::Missing]);
        packed.resolve(&mut cells, &indices);
        assert_eq!(cells, [Cell::Text("é3"), Cell::Text("Sales"), Cell::Missing]);
        assert_eq!(&*packed.shared_values(0)[3], "é3");
        assert_eq!(packed.shared_index(1, "Sales"), Some(0));
        assert_eq!(packed.shared_index(0, "é4097"), None);
        assert_eq!(packed.len(), rows);
        assert_eq!(Cell::Json("true").to_value(), Value::Bool(true));
    }

    #[test]
    fn a_column_whose_values_repeat_goes_on_storing_them_once_past_the_limit() {
        let mut packed = Packed::new(vec!["id".into(), "manager".into()]);
        packed.share_at_most(4, true);
        // Ids never repeat; each manager comes five times (one record in five
        // brings a new one, within `REPEATS`).
        for n in 0..100 {
            packed.push([Cell::Text(&format!("e{n}")), Cell::Text(&format!("m{}", n / 5))]);
        }
        let (mut cells, mut indices) = (Vec::new(), Vec::new());
        for n in [0, 3, 4, 19, 20, 21, 50, 99] {
            packed.row_shared(n, &mut cells, &mut indices);
            // The managers past the first four keep their text in the record.
            assert_eq!(cells[1] == Cell::Missing, n < 20, "row {n}");
            packed.resolve(&mut cells, &indices);
            assert_eq!(
                cells,
                [Cell::Text(&format!("e{n}")), Cell::Text(&format!("m{}", n / 5))]
            );
            let id = if n < 4 { n as u32 } else { NOT_SHARED };
            assert_eq!(indices, [id, (n / 5) as u32], "row {n}");
        }
        assert_eq!(packed.shared_values(0).len(), 4, "the ids stopped at the limit");
        assert_eq!(packed.shared_values(1).len(), 20);
        assert_eq!(packed.shared_index(1, "m19"), Some(19));
        assert_eq!(packed.cell(99, 1), Cell::Text("m19"));
    }

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
            assert_eq!(learners.field_column(field), Some(column), "{field}");
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

    #[test]
    fn a_packed_employee_reads_like_the_record() {
        let record: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "id": "7", "firstName": "Ærø", "supervisorEId": null, "hours": 12
        }))
        .unwrap();
        let mut employees = Employees::new(&["supervisorEId", "id", "hours", "firstName", "id"]);
        employees.push(&record);
        let mut cells = Vec::new();
        employees.rows.row(0, &mut cells);
        let packed = Record {
            columns: employees.rows.columns(),
            cells: &cells,
        };
        for field in ["id", "firstName", "supervisorEId", "hours", "unknown"] {
            assert_eq!(packed.text(field), record.text(field), "{field}");
        }
        assert_eq!(packed.to_map()["hours"], Value::from(12));
    }
}
