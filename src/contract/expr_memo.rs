//! An expression's results by the values it read, so that one evaluated over
//! many records meets each distinct input once: `upper(trim(hris.location))`
//! reads a few dozen locations in a million records, `years_between(
//! hris.hireDate, today)` a few thousand days. Only for an expression that
//! reads nothing but the record's fields and `today` (its functions are pure
//! and its value tables fixed with it).
//!
//! Each thread keeps its own table: the reconciliation's threads look up
//! millions of times a second, and one table behind a lock made them queue
//! for it and pass its cache line back and forth. A table holds at most
//! `CAPACITY` inputs and starts again when full, so it keeps up with inputs
//! that drift (a new day's hires) rather than holding the first ones for
//! good. A thread gives up on an expression whose inputs rarely repeat (a
//! login from each name): after `TRIAL` lookups it stays on only while at
//! least half of them were found.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::BuildHasher;

use cel::Value;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use jiff::civil::Date;
use smallvec::SmallVec;
use thread_local::ThreadLocal;

/// Lookups before deciding whether the memo pays.
const TRIAL: u64 = 16_384;
/// Distinct inputs a thread keeps at most before it starts again.
const CAPACITY: usize = 16_384;
/// Bytes of kept inputs a thread holds at most before it starts again.
const CAPACITY_BYTES: usize = 1 << 20;

/// What one evaluation read: each field's text in the order the expression
/// reads them, and the day when it reads `today`.
pub(super) struct Inputs<'r> {
    /// On the stack for an expression reading up to four fields.
    pub values: SmallVec<[Option<Cow<'r, str>>; 4]>,
    pub today: Option<Date>,
}

impl Inputs<'_> {
    /// The inputs as bytes, each value with its length, so that two inputs
    /// are the same exactly when their bytes are.
    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        for value in &self.values {
            match value.as_deref() {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        match self.today {
            None => out.push(0),
            Some(day) => {
                out.push(1);
                out.extend_from_slice(&day.year().to_le_bytes());
                out.extend_from_slice(&[day.month() as u8, day.day() as u8]);
            }
        }
    }
}

/// A result as kept: text (most of them) in the table's bytes, right after
/// its input, so that finding an input reads its result from the same place.
pub enum Found<'a> {
    Text(&'a str),
    Value(&'a Value),
}

impl<'a> From<&'a Value> for Found<'a> {
    fn from(value: &'a Value) -> Found<'a> {
        match value {
            Value::String(text) => Found::Text(text.as_str()),
            other => Found::Value(other),
        }
    }
}

/// Where a kept input's bytes and result are in its table: `len` bytes of
/// input from `start`, then `text` bytes of its result when it is text, else
/// its place in `results`.
struct Entry {
    hash: u64,
    start: usize,
    len: usize,
    text: usize,
    result: Option<usize>,
}

/// What one thread keeps, compact: the lookups of a comparison over a
/// million records are bound by memory, not by instructions.
#[derive(Default)]
struct Kept {
    index: HashTable<Entry>,
    /// The kept inputs' bytes, each followed by its result when that is text.
    bytes: Vec<u8>,
    /// The results that are not text.
    results: Vec<Value>,
}

impl Kept {
    fn find(&self, hash: u64, input: &[u8]) -> Option<Found<'_>> {
        let entry = (self.index).find(hash, |e| {
            e.hash == hash && self.bytes[e.start..e.start + e.len] == *input
        })?;
        Some(match entry.result {
            Some(at) => Found::Value(&self.results[at]),
            None => {
                let text = &self.bytes[entry.start + entry.len..][..entry.text];
                // Kept from a `&str` in `keep`, and cut where it ends.
                Found::Text(std::str::from_utf8(text).expect("kept text is UTF-8"))
            }
        })
    }

    fn keep(&mut self, hash: u64, input: &[u8], result: &Value) {
        if self.index.len() == CAPACITY || self.bytes.len() + input.len() > CAPACITY_BYTES {
            *self = Kept::default();
        }
        let (start, len) = (self.bytes.len(), input.len());
        self.bytes.extend_from_slice(input);
        let (text, result) = match Found::from(result) {
            Found::Text(text) => {
                self.bytes.extend_from_slice(text.as_bytes());
                (text.len(), None)
            }
            Found::Value(value) => {
                self.results.push(value.clone());
                (0, Some(self.results.len() - 1))
            }
        };
        let entry = Entry {
            hash,
            start,
            len,
            text,
            result,
        };
        self.index.insert_unique(hash, entry, |e| e.hash);
    }
}

/// One thread's results, and how well they serve.
#[derive(Default)]
struct Table {
    kept: Kept,
    /// This lookup's inputs, encoded (one buffer, reused).
    scratch: Vec<u8>,
    looked: u64,
    found: u64,
    given_up: bool,
}

#[derive(Default)]
pub(super) struct Memo {
    state: RandomState,
    tables: ThreadLocal<RefCell<Table>>,
}

impl Memo {
    /// `then` of the result kept for `inputs`, else of `evaluate`'s (kept when
    /// it is a value). `then` sees it where it is kept: nothing is copied.
    pub fn get_or<R, E>(
        &self,
        inputs: &Inputs<'_>,
        evaluate: impl FnOnce() -> Result<Value, E>,
        then: impl FnOnce(Found<'_>) -> R,
    ) -> Result<R, E> {
        let cell = self.tables.get_or_default();
        let hash = {
            let mut table = cell.borrow_mut();
            if table.given_up {
                drop(table);
                return evaluate().map(|value| then(Found::from(&value)));
            }
            let table = &mut *table;
            table.looked += 1;
            inputs.encode(&mut table.scratch);
            let hash = self.state.hash_one(table.scratch.as_slice());
            if let Some(found) = table.kept.find(hash, &table.scratch) {
                table.found += 1;
                return Ok(then(found));
            }
            if table.looked >= TRIAL && table.found * 2 < table.looked {
                // Its inputs rarely repeat: keeping them costs more than it saves.
                *table = Table {
                    given_up: true,
                    ..Table::default()
                };
                return evaluate().map(|value| then(Found::from(&value)));
            }
            hash
        };
        let result = evaluate()?;
        // `evaluate` looks up no other input of this expression: the scratch
        // still holds this one.
        let table = &mut *cell.borrow_mut();
        table.kept.keep(hash, &table.scratch, &result);
        Ok(then(Found::from(&result)))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A result as the caller gets it.
    fn value(found: Found<'_>) -> Value {
        match found {
            Found::Text(text) => Value::from(text.to_string()),
            Found::Value(value) => value.clone(),
        }
    }

    fn inputs(value: &str) -> Inputs<'_> {
        Inputs {
            values: SmallVec::from_vec(vec![Some(Cow::Borrowed(value)), None]),
            today: Some(jiff::civil::date(2026, 3, 29)),
        }
    }

    #[test]
    fn the_same_values_are_evaluated_once_and_an_error_is_not_kept() {
        let memo = Memo::default();
        let evaluated = Cell::new(0);
        let upper = |text: &str| {
            evaluated.set(evaluated.get() + 1);
            Ok::<_, String>(Value::from(text.to_uppercase()))
        };
        for _ in 0..3 {
            assert_eq!(
                memo.get_or(&inputs("berlin"), || upper("berlin"), value),
                Ok(Value::from("BERLIN"))
            );
        }
        assert_eq!(
            memo.get_or(&inputs("london"), || upper("london"), value),
            Ok(Value::from("LONDON"))
        );
        assert_eq!(evaluated.get(), 2, "once per distinct input");
        // Another day is another input.
        let tomorrow = Inputs {
            today: Some(jiff::civil::date(2026, 3, 30)),
            ..inputs("berlin")
        };
        assert_eq!(
            memo.get_or(&tomorrow, || upper("berlin"), value),
            Ok(Value::from("BERLIN"))
        );
        assert_eq!(evaluated.get(), 3);
        // A failure is not kept: the next lookup evaluates again.
        let failed = |_: &str| Err::<Value, _>("not a date".to_string());
        assert!(memo.get_or(&inputs("x"), || failed("x"), value).is_err());
        assert_eq!(
            memo.get_or(&inputs("x"), || upper("x"), value),
            Ok(Value::from("X"))
        );
    }

    #[test]
    fn inputs_that_never_repeat_make_it_give_up_and_let_go() {
        let memo = Memo::default();
        for n in 0..=TRIAL {
            let text = n.to_string();
            assert_eq!(
                memo.get_or(
                    &inputs(&text),
                    || Ok::<_, String>(Value::from(text.clone())),
                    value
                ),
                Ok(Value::from(text.clone()))
            );
        }
        let table = memo.tables.get().expect("this thread's table").borrow();
        assert!(table.given_up && table.kept.index.is_empty() && table.kept.bytes.is_empty());
    }

    #[test]
    fn a_full_table_starts_again_and_keeps_the_new_inputs() {
        let memo = Memo::default();
        let evaluated = Cell::new(0);
        let lookup = |text: &str| {
            memo.get_or(
                &inputs(text),
                || {
                    evaluated.set(evaluated.get() + 1);
                    Ok::<_, String>(Value::from(text.to_string()))
                },
                value,
            )
        };
        // Each input three times, so that most are found and the memo stays on.
        for n in 0..CAPACITY {
            let text = format!("old {n}");
            for _ in 0..3 {
                lookup(&text).unwrap();
            }
        }
        assert_eq!(evaluated.get(), CAPACITY);
        // Full: the next input empties it, and is kept from then on.
        lookup("new").unwrap();
        lookup("new").unwrap();
        assert_eq!(evaluated.get(), CAPACITY + 1, "the new input is kept");
        lookup("old 0").unwrap();
        assert_eq!(evaluated.get(), CAPACITY + 2, "the old ones were let go");
        let table = memo.tables.get().expect("this thread's table").borrow();
        assert!(!table.given_up && table.kept.index.len() == 2);
    }

    #[test]
    fn each_thread_keeps_its_own_results() {
        let memo = Memo::default();
        let evaluated = std::sync::atomic::AtomicUsize::new(0);
        let upper = || {
            evaluated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, String>(Value::from("BERLIN"))
        };
        // Both threads alive at once (an ended thread's table passes to the next).
        let together = std::sync::Barrier::new(2);
        std::thread::scope(|threads| {
            for _ in 0..2 {
                threads.spawn(|| {
                    together.wait();
                    for _ in 0..3 {
                        assert_eq!(
                            memo.get_or(&inputs("berlin"), upper, value),
                            Ok(Value::from("BERLIN"))
                        );
                    }
                    together.wait();
                });
            }
        });
        assert_eq!(evaluated.into_inner(), 2, "once per thread");
    }
}
