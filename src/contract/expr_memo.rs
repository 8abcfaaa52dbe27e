//! An expression's results by the values it read, so that one evaluated over
//! many records meets each distinct input once: `upper(trim(hris.location))`
//! reads a few dozen locations in a million records, `years_between(
//! hris.hireDate, today)` a few thousand days. Only for an expression that
//! reads nothing but the record's fields and `today` (its functions are pure
//! and its value tables fixed with it). Bounded, and given up for an
//! expression whose inputs rarely repeat (a login from each name): after
//! `TRIAL` lookups it stays on only if at least half of them were found.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use cel::Value;
use jiff::civil::Date;
use parking_lot::Mutex;

/// Lookups before deciding whether the memo pays.
const TRIAL: u64 = 16_384;
/// Distinct inputs kept at most.
const CAPACITY: usize = 16_384;

/// What one evaluation read: each field's text in the order the expression
/// reads them, and the day when it reads `today`.
pub(super) struct Inputs<'r> {
    pub values: Vec<Option<Cow<'r, str>>>,
    pub today: Option<Date>,
}

impl Inputs<'_> {
    fn same(&self, kept: &Kept) -> bool {
        self.today == kept.today
            && self.values.len() == kept.values.len()
            && (self.values.iter().zip(&kept.values)).all(|(a, b)| a.as_deref() == b.as_deref())
    }

    fn hash_with(&self, state: &RandomState) -> u64 {
        let mut hasher = state.build_hasher();
        for value in &self.values {
            value.as_deref().hash(&mut hasher);
        }
        self.today.hash(&mut hasher);
        hasher.finish()
    }
}

struct Kept {
    values: Vec<Option<String>>,
    today: Option<Date>,
    result: Value,
}

#[derive(Default)]
struct Table {
    /// By the inputs' hash; a collision keeps both.
    kept: HashMap<u64, Vec<Kept>>,
    len: usize,
    looked: u64,
    found: u64,
    given_up: bool,
}

#[derive(Default)]
pub(super) struct Memo {
    state: RandomState,
    table: Mutex<Table>,
}

impl Memo {
    /// The result kept for `inputs`, else `evaluate`'s (kept when it is a value).
    pub fn get_or<E>(
        &self,
        inputs: &Inputs<'_>,
        evaluate: impl FnOnce() -> Result<Value, E>,
    ) -> Result<Value, E> {
        let hash = inputs.hash_with(&self.state);
        {
            let mut table = self.table.lock();
            if table.given_up {
                drop(table);
                return evaluate();
            }
            table.looked += 1;
            let found = (table.kept.get(&hash))
                .and_then(|bucket| bucket.iter().find(|kept| inputs.same(kept)))
                .map(|kept| kept.result.clone());
            if let Some(result) = found {
                table.found += 1;
                return Ok(result);
            }
            if table.looked >= TRIAL && table.found * 2 < table.looked {
                // Its inputs rarely repeat: keeping them costs more than it saves.
                *table = Table {
                    given_up: true,
                    ..Table::default()
                };
            }
        }
        let result = evaluate()?;
        let mut table = self.table.lock();
        if !table.given_up && table.len < CAPACITY {
            table.len += 1;
            table.kept.entry(hash).or_default().push(Kept {
                values: (inputs.values.iter())
                    .map(|value| value.as_deref().map(str::to_string))
                    .collect(),
                today: inputs.today,
                result: result.clone(),
            });
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn inputs(value: &str) -> Inputs<'_> {
        Inputs {
            values: vec![Some(Cow::Borrowed(value)), None],
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
                memo.get_or(&inputs("berlin"), || upper("berlin")),
                Ok(Value::from("BERLIN"))
            );
        }
        assert_eq!(
            memo.get_or(&inputs("london"), || upper("london")),
            Ok(Value::from("LONDON"))
        );
        assert_eq!(evaluated.get(), 2, "once per distinct input");
        // Another day is another input.
        let tomorrow = Inputs {
            today: Some(jiff::civil::date(2026, 3, 30)),
            ..inputs("berlin")
        };
        assert_eq!(
            memo.get_or(&tomorrow, || upper("berlin")),
            Ok(Value::from("BERLIN"))
        );
        assert_eq!(evaluated.get(), 3);
        // A failure is not kept: the next lookup evaluates again.
        let failed = |_: &str| Err::<Value, _>("not a date".to_string());
        assert!(memo.get_or(&inputs("x"), || failed("x")).is_err());
        assert_eq!(memo.get_or(&inputs("x"), || upper("x")), Ok(Value::from("X")));
    }

    #[test]
    fn inputs_that_never_repeat_make_it_give_up_and_let_go() {
        let memo = Memo::default();
        for n in 0..=TRIAL {
            let text = n.to_string();
            assert_eq!(
                memo.get_or(&inputs(&text), || Ok::<_, String>(Value::from(text.clone()))),
                Ok(Value::from(text.clone()))
            );
        }
        let table = memo.table.lock();
        assert!(table.given_up && table.kept.is_empty() && table.len == 0);
    }
}
