//! Flow 2 through the contract: one xAPI statement becomes a completion for an
//! HRIS employee (training type, date in the contract's time zone, hours, credits,
//! score and pass/fail for the notes, credential), or the reasons it cannot. Pure.

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::Contract;
use crate::model::FieldReason;
use crate::model::files::ReportShape;

/// The `[writeback]` section, checked.
#[derive(Clone, Debug)]
pub struct Writeback {
    /// Verbs written back, by the last segment of the verb IRI (`completed`).
    pub verbs: Vec<String>,
    /// Whether a failed attempt becomes a training record (noted as failed).
    pub record_failed: bool,
    /// When set, only actors with an account on this home page are employees.
    pub account_home_page: Option<String>,
    /// The value table: course IRI → HRIS training type id.
    pub courses: String,
    /// The value table: course IRI → credits, if the HRIS wants them.
    pub credits: Option<String>,
    /// The credits computed from the statement (`credits_expr`), instead of the table.
    pub credits_expr: Option<std::sync::Arc<super::expr::Expr>>,
    /// The hours computed from the statement (`hours_expr`), instead of `result.duration`.
    pub hours_expr: Option<std::sync::Arc<super::expr::Expr>>,
    /// Where a credential sits in `result.extensions` or `context.extensions`.
    pub credential_extension: String,
    /// The HRIS custom table credentials go to.
    pub credential_table: String,
    /// A completion report's columns (`[writeback.report_columns]`): (header,
    /// field), the field one of `REPORT_FIELDS`; empty when reports are not read.
    pub report_columns: Vec<(String, String)>,
    pub line: usize,
}

impl Writeback {
    /// How a completion report's rows become statements this section writes back.
    pub fn report_shape(&self) -> ReportShape {
        ReportShape {
            columns: self.report_columns.clone(),
            account_home_page: self.account_home_page.clone(),
            credential_extension: self.credential_extension.clone(),
        }
    }
}

/// A credential awarded with a completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Credential {
    pub name: String,
    pub number: Option<String>,
    pub issued: Date,
    pub expires: Option<Date>,
}

/// One completion, ready to be written back.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub statement_id: String,
    pub employee_id: String,
    pub verb: String,
    pub course_iri: String,
    pub course_name: Option<String>,
    pub at: Timestamp,
    /// The day it happened, in the contract's time zone.
    pub completed: Date,
    pub training_type: u32,
    pub hours: Option<f64>,
    pub credits: Option<f64>,
    pub score_raw: Option<f64>,
    /// `result.score.max`: what the raw score is out of.
    pub score_max: Option<f64>,
    pub score_scaled: Option<f64>,
    pub success: Option<bool>,
    pub credential: Option<Credential>,
}

/// The assessment a training record's notes carry (see [`Completion::notes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NotedScore {
    pub raw: Option<f64>,
    pub max: Option<f64>,
    pub scaled: Option<f64>,
    pub success: Option<bool>,
}

/// What a statement comes to under the contract.
#[derive(Clone, Debug, PartialEq)]
pub enum StatementMapping {
    /// Write it back.
    Completion(Box<Completion>),
    /// Not ours to write (another verb, or a failed attempt not recorded): why.
    Ignored(String),
}

fn reason(field: &str, text: impl Into<String>) -> FieldReason {
    FieldReason {
        field: field.into(),
        reason: text.into(),
    }
}

/// The value at a path of plain keys: `Value::pointer` without unescaping (and
/// allocating for) each step, which a statement's mapping did a dozen times.
fn path<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(value, |value, key| value.get(key))
}

/// The last segment of a verb IRI: `http://adlnet.gov/expapi/verbs/passed` → `passed`.
pub fn verb_name(statement: &Value) -> Option<&str> {
    let id = path(statement, &["verb", "id"])?.as_str()?;
    id.rsplit(['/', '#']).next().filter(|s| !s.is_empty())
}

/// The employee id a statement is about: `actor.account.name`.
pub fn actor_employee(statement: &Value) -> Option<&str> {
    path(statement, &["actor", "account", "name"])?
        .as_str()
        .filter(|s| !s.trim().is_empty())
}

/// Maps one statement; the reasons name each field that is wrong.
pub fn map_statement(
    contract: &Contract,
    wb: &Writeback,
    statement: &Value,
) -> Result<StatementMapping, Vec<FieldReason>> {
    let mut reasons = Vec::new();
    let verb = match verb_name(statement) {
        Some(verb) => verb.to_string(),
        None => return Err(vec![reason("verb.id", "the statement has no verb id")]),
    };
    if !wb.verbs.iter().any(|v| v == &verb) {
        return Ok(StatementMapping::Ignored(format!(
            "verb {verb} is not written back (contract: {})",
            wb.verbs.join(", ")
        )));
    }
    let success = path(statement, &["result", "success"]).and_then(Value::as_bool);
    if (verb == "failed" || success == Some(false)) && !wb.record_failed {
        return Ok(StatementMapping::Ignored(
            "a failed attempt is not a completion (contract: record_failed = false)".into(),
        ));
    }
    let statement_id = statement["id"].as_str().unwrap_or_default().to_string();
    if statement_id.is_empty() {
        reasons.push(reason("id", "the statement has no id"));
    }
    let employee_id = actor_employee(statement).unwrap_or_default().to_string();
    if employee_id.is_empty() {
        reasons.push(reason(
            "actor.account.name",
            "the actor has no account name (the HRIS employee id)",
        ));
    }
    if let Some(home) = &wb.account_home_page {
        let given = path(statement, &["actor", "account", "homePage"]).and_then(Value::as_str);
        if given.map(|g| g.trim_end_matches('/')) != Some(home.trim_end_matches('/')) {
            reasons.push(reason(
                "actor.account.homePage",
                format!("expected {home}, got {}", given.unwrap_or("nothing")),
            ));
        }
    }
    let course_iri = path(statement, &["object", "id"])
        .and_then(Value::as_str)
        .unwrap_or_default();
    let training_type = contract
        .value_tables
        .get(&wb.courses)
        .and_then(|t| t.entries.get(course_iri))
        .and_then(|id| id.trim().parse::<u32>().ok());
    if course_iri.is_empty() {
        reasons.push(reason("object.id", "the statement names no course"));
    } else if training_type.is_none() {
        reasons.push(reason(
            "object.id",
            format!(
                "course {course_iri} has no HRIS training type in the value table {}",
                wb.courses
            ),
        ));
    }
    let at = statement["timestamp"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok());
    if at.is_none() {
        reasons.push(reason("timestamp", "missing or not an ISO 8601 time"));
    }
    let credential = match credential_of(statement, &wb.credential_extension) {
        Ok(credential) => credential,
        Err(problem) => {
            reasons.push(problem);
            None
        }
    };
    let score_raw = path(statement, &["result", "score", "raw"]).and_then(Value::as_f64);
    if score_raw.is_some_and(|s| s < 0.0) {
        reasons.push(reason("result.score.raw", "a score below 0 cannot be recorded"));
    }
    // `None`: no expression (or it failed, a reason then); `Some`: what it computed.
    let mut computed = |field: &str, expr: &Option<std::sync::Arc<super::expr::Expr>>| {
        let expr = expr.as_deref()?;
        quantity_of(contract, expr, statement)
            .map_err(|why| reasons.push(reason(field, why)))
            .ok()
    };
    let hours = computed("hours", &wb.hours_expr);
    let credits = computed("credits", &wb.credits_expr);
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let at = at.expect("checked above");
    let credits = credits.unwrap_or_else(|| {
        wb.credits
            .as_ref()
            .and_then(|table| contract.value_tables.get(table))
            .and_then(|t| t.entries.get(course_iri))
            .and_then(|c| c.trim().parse::<f64>().ok())
    });
    let hours = hours.unwrap_or_else(|| {
        path(statement, &["result", "duration"])
            .and_then(Value::as_str)
            .and_then(hours_of)
    });
    Ok(StatementMapping::Completion(Box::new(Completion {
        statement_id,
        employee_id,
        verb,
        course_iri: course_iri.to_string(),
        course_name: path(statement, &["object", "definition", "name"])
            .and_then(|names| names.get("en-US").or_else(|| names.as_object()?.values().next()))
            .and_then(Value::as_str)
            .map(str::to_string),
        at,
        completed: at.to_zoned(contract.time_zone.clone()).date(),
        training_type: training_type.expect("checked above"),
        hours,
        credits,
        score_raw,
        score_max: path(statement, &["result", "score", "max"]).and_then(Value::as_f64),
        score_scaled: path(statement, &["result", "score", "scaled"]).and_then(Value::as_f64),
        success,
        credential,
    })))
}

/// What a write-back expression computes from the statement, as a number of
/// hours or credits: a number at least 0 (or its text), or `None` for null or
/// empty. Err names the expression and the values it read.
fn quantity_of(
    contract: &Contract,
    expr: &super::expr::Expr,
    statement: &Value,
) -> Result<Option<f64>, String> {
    let today = expr.today_in(&contract.time_zone);
    let failed = |why: String| format!("expression `{}` {why}", expr.source());
    let value = expr
        .eval(&super::expr::Vars {
            hris: &|_, _| None,
            today,
            before: None,
            lms: None,
            statement: Some(statement),
            reports: None,
        })
        .map_err(|error| failed(format!("failed: {error}")))?;
    let Some(text) = super::expr::value_text(&value).map_err(failed)? else {
        return Ok(None);
    };
    match text.trim().parse::<f64>() {
        Ok(number) if number.is_finite() && number >= 0.0 => Ok(Some(number)),
        _ => Err(failed(format!("yields {text:?}, not a number at least 0"))),
    }
}

/// An ISO 8601 duration (`PT1H30M`) in hours, rounded to a hundredth.
fn hours_of(duration: &str) -> Option<f64> {
    let span: jiff::Span = duration.parse().ok()?;
    let seconds = span
        .total((jiff::Unit::Second, jiff::civil::date(2000, 1, 1)))
        .ok()?;
    Some((seconds / 36.0).round() / 100.0)
}

fn credential_of(statement: &Value, extension: &str) -> Result<Option<Credential>, FieldReason> {
    let found = [["result", "extensions"], ["context", "extensions"]]
        .iter()
        .find_map(|at| path(statement, at).and_then(|e| e.get(extension)));
    let Some(found) = found else { return Ok(None) };
    let field = format!("extensions[{extension}]");
    let date = |key: &str| -> Result<Option<Date>, FieldReason> {
        match found.get(key).and_then(Value::as_str) {
            None => Ok(None),
            Some(text) => text.parse::<Date>().map(Some).map_err(|_| {
                reason(
                    &field,
                    format!("{key} must be a date as YYYY-MM-DD, got {text:?}"),
                )
            }),
        }
    };
    let name = found
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| reason(&field, "a credential needs a name"))?;
    let issued = date("issued")?.ok_or_else(|| reason(&field, "a credential needs its issued date"))?;
    let expires = date("expires")?;
    if expires.is_some_and(|e| e < issued) {
        return Err(reason(&field, "the credential expires before it was issued"));
    }
    Ok(Some(Credential {
        name: name.to_string(),
        number: found.get("number").and_then(Value::as_str).map(str::to_string),
        issued,
        expires,
    }))
}

impl Completion {
    /// The same completion reported twice (a re-posted statement under a new id)
    /// has the same key, so it is journaled once.
    pub fn idempotency_key(&self) -> String {
        format!(
            "xapi:{}:{}:{}:{}",
            self.employee_id, self.course_iri, self.verb, self.at
        )
    }

    /// The training record's notes. BambooHR's record has no score field, so the
    /// assessment goes here, in a form [`NotedScore::parse`] reads back; keep it
    /// stable, since records already written carry it:
    ///
    /// `[{course name}: ]{verb} via hrsync[; {assessment}][ (xAPI statement {id})]`
    ///
    /// The assessment is a score, an outcome or both, joined by `, `: the score
    /// is `score {raw}[/{max}][ ({scaled})]`, or `score ({scaled})` without a raw
    /// one; the outcome is `passed` or `failed` (`result.success`). Numbers are
    /// printed as Rust prints an f64 (`88`, `0.88`), so they parse back exactly.
    /// E.g. `Data Protection Essentials: passed via hrsync; score 88/100 (0.88),
    /// passed (xAPI statement 6f1c…)`.
    pub fn notes(&self) -> String {
        let mut notes = String::new();
        if let Some(name) = &self.course_name {
            notes.push_str(&format!("{name}: "));
        }
        notes.push_str(&format!("{} via hrsync", self.verb));
        let mut assessment = Vec::new();
        match (self.score_raw, self.score_scaled) {
            (Some(raw), scaled) => {
                let mut score = format!("score {raw}");
                if let Some(max) = self.score_max {
                    score.push_str(&format!("/{max}"));
                }
                if let Some(scaled) = scaled {
                    score.push_str(&format!(" ({scaled})"));
                }
                assessment.push(score);
            }
            (None, Some(scaled)) => assessment.push(format!("score ({scaled})")),
            (None, None) => {}
        }
        match self.success {
            Some(true) => assessment.push("passed".into()),
            Some(false) => assessment.push("failed".into()),
            None => {}
        }
        if !assessment.is_empty() {
            notes.push_str("; ");
            notes.push_str(&assessment.join(", "));
        }
        if !self.statement_id.is_empty() {
            notes.push_str(&format!(" (xAPI statement {})", self.statement_id));
        }
        notes
    }

    /// The BambooHR training record for it: what the API takes (no score, no
    /// expiry: a renewable type's due date is the HRIS's to compute).
    pub fn training_record(&self) -> Value {
        let mut record = json!({
            "completed": self.completed.to_string(),
            "type": self.training_type,
            "notes": self.notes(),
        });
        if let Some(hours) = self.hours {
            record["hours"] = json!(hours);
        }
        if let Some(credits) = self.credits {
            record["credits"] = json!(credits);
        }
        record
    }

    /// The credential table's row for its credential, if it carries one: the
    /// only place its expiry goes.
    pub fn certification_row(&self) -> Option<Value> {
        let c = self.credential.as_ref()?;
        let mut row = json!({ "name": c.name, "issued": c.issued.to_string() });
        if let Some(number) = &c.number {
            row["number"] = json!(number);
        }
        if let Some(expires) = c.expires {
            row["expires"] = json!(expires.to_string());
        }
        Some(row)
    }

    /// Whether the HRIS already holds this completion (ours, or a legacy import):
    /// a record of the same training type on the same day, or one whose notes
    /// name this statement (ours, whatever day the HRIS shows). The type may come
    /// back as a number or a string, the day with a time after it.
    pub fn recorded_in(&self, records: &[Value]) -> bool {
        let day = self.completed.to_string();
        let ours = (!self.statement_id.is_empty()).then(|| format!("(xAPI statement {})", self.statement_id));
        records.iter().any(|r| {
            let same_type = match &r["type"] {
                Value::Number(n) => n.as_u64() == Some(u64::from(self.training_type)),
                Value::String(s) => s.trim().parse::<u32>().ok() == Some(self.training_type),
                _ => false,
            };
            let same_day = r["completed"]
                .as_str()
                .is_some_and(|c| c.get(..10) == Some(day.as_str()));
            let noted = ours
                .as_deref()
                .is_some_and(|ours| r["notes"].as_str().is_some_and(|n| n.contains(ours)));
            same_type && (same_day || noted)
        })
    }

    /// Whether the HRIS already holds this credential row (same name and issue date;
    /// a different expiry is a different row: a renewal).
    pub fn credential_in(&self, rows: &[Value]) -> bool {
        let Some(c) = &self.credential else { return true };
        rows.iter().any(|r| {
            r["name"].as_str() == Some(c.name.as_str())
                && r["issued"].as_str() == Some(&c.issued.to_string())
                && r["expires"].as_str().map(str::to_string) == c.expires.map(|e| e.to_string())
        })
    }
}

impl NotedScore {
    /// The assessment in notes written by [`Completion::notes`]; `None` when
    /// they carry none (another writer's record, or a completion without one).
    pub fn parse(notes: &str) -> Option<NotedScore> {
        // Anchored on our own words, so a course name with "; " in it is no trouble.
        let (_, rest) = notes.split_once(" via hrsync; ")?;
        let part = rest
            .rsplit_once(" (xAPI statement ")
            .map_or(rest, |(part, _)| part);
        let mut noted = NotedScore {
            raw: None,
            max: None,
            scaled: None,
            success: None,
        };
        for item in part.split(", ") {
            match item {
                "passed" => noted.success = Some(true),
                "failed" => noted.success = Some(false),
                _ => {
                    let score = item.strip_prefix("score ")?;
                    let (numbers, scaled) = match score.split_once('(') {
                        Some((numbers, scaled)) => (numbers.trim(), Some(scaled.strip_suffix(')')?)),
                        None => (score.trim(), None),
                    };
                    noted.scaled = scaled.map(str::parse).transpose().ok()?;
                    if !numbers.is_empty() {
                        let (raw, max) = match numbers.split_once('/') {
                            Some((raw, max)) => (raw, Some(max.parse().ok()?)),
                            None => (numbers, None),
                        };
                        noted.raw = Some(raw.parse().ok()?);
                        noted.max = max;
                    }
                }
            }
        }
        Some(noted)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn contract() -> Contract {
        crate::contract::parse(include_str!("../../assets/contract.toml"))
            .expect("the shipped contract is valid")
    }

    fn statement(verb: &str) -> Value {
        json!({
            "id": "6f1c1f9e-0000-4000-8000-000000000001",
            "actor": {"objectType": "Agent", "account": {"homePage": "https://hris.acme.example", "name": "1042"}},
            "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
            "object": {"id": "https://lms.example.com/courses/data-protection",
                       "definition": {"name": {"en-US": "Data Protection Essentials"}}},
            "result": {"success": verb != "failed", "completion": true, "duration": "PT1H30M",
                       "score": {"raw": 88, "min": 0, "max": 100, "scaled": 0.88}},
            "context": {"extensions": {"https://hrsync.dev/xapi/extensions/credential":
                {"name": "Data Protection Certificate", "number": "DPC-000042",
                 "issued": "2026-11-20", "expires": "2027-11-20"}}},
            "timestamp": "2026-11-20T23:30:00Z",
        })
    }

    fn mapped(statement: &Value) -> Result<StatementMapping, Vec<FieldReason>> {
        let contract = contract();
        let wb = contract
            .writeback
            .clone()
            .expect("the shipped contract writes back");
        map_statement(&contract, &wb, statement)
    }

    fn completion(statement: &Value) -> Completion {
        match mapped(statement) {
            Ok(StatementMapping::Completion(c)) => *c,
            other => panic!("not a completion: {other:?}"),
        }
    }

    #[test]
    fn a_passed_course_becomes_a_training_record_and_a_credential() {
        let c = completion(&statement("passed"));
        assert_eq!(c.employee_id, "1042");
        assert_eq!(c.training_type, 3);
        assert_eq!(c.hours, Some(1.5));
        assert_eq!(c.credits, Some(1.0));
        assert_eq!(c.score_raw, Some(88.0));
        // 23:30 UTC is the next morning in the contract's zone only if it is east of UTC.
        let local = c.at.to_zoned(contract().time_zone.clone()).date();
        assert_eq!(c.completed, local);
        let record = c.training_record();
        assert_eq!(record["type"], 3);
        assert_eq!(record["completed"], local.to_string());
        assert_eq!(record["hours"], 1.5);
        assert_eq!(
            record["notes"],
            "Data Protection Essentials: passed via hrsync; score 88/100 (0.88), passed \
             (xAPI statement 6f1c1f9e-0000-4000-8000-000000000001)"
        );
        // Only what BambooHR's training record takes: no score, no expiry.
        let mut keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["completed", "credits", "hours", "notes", "type"]);
        let row = c.certification_row().expect("a credential");
        assert_eq!(
            row,
            json!({"name": "Data Protection Certificate", "number": "DPC-000042",
                               "issued": "2026-11-20", "expires": "2027-11-20"})
        );
    }

    #[test]
    fn the_notes_carry_the_assessment_and_read_back() {
        let c = completion(&statement("passed"));
        let noted = NotedScore::parse(&c.notes()).expect("an assessment");
        let expected = NotedScore {
            raw: Some(88.0),
            max: Some(100.0),
            scaled: Some(0.88),
            success: Some(true),
        };
        assert_eq!(noted, expected);

        // Every shape the format allows reads back as it was written.
        let mut c = completion(&statement("completed"));
        c.course_name = Some("Safety; part 2: (xAPI statement x)".into());
        let shapes = [
            (Some(7.5), None, Some(-0.25), Some(false)),
            (Some(40.0), Some(50.0), None, None),
            (None, None, Some(0.6), Some(true)),
            (None, None, None, Some(false)),
        ];
        for shape in shapes {
            (c.score_raw, c.score_max, c.score_scaled, c.success) = shape;
            let notes = c.notes();
            let noted = NotedScore::parse(&notes).unwrap_or_else(|| panic!("{notes}"));
            assert_eq!(
                (noted.raw, noted.max, noted.scaled, noted.success),
                shape,
                "{notes}"
            );
        }
        (c.score_raw, c.score_max, c.score_scaled, c.success) = (None, None, None, None);
        let bare = c.notes();
        assert_eq!(NotedScore::parse(&bare), None, "{bare}");
        assert_eq!(NotedScore::parse("legacy import"), None);
    }

    #[test]
    fn the_credential_is_read_from_result_or_context() {
        let mut s = statement("completed");
        let credential = s["context"]["extensions"].take();
        s["context"] = json!({});
        s["result"]["extensions"] = credential;
        assert!(completion(&s).credential.is_some());
        s["result"]["extensions"] = json!({});
        assert!(completion(&s).credential.is_none());
    }

    #[test]
    fn failed_attempts_and_other_verbs_are_ignored_with_a_reason() {
        match mapped(&statement("failed")).unwrap() {
            StatementMapping::Ignored(why) => assert!(why.contains("record_failed"), "{why}"),
            other => panic!("{other:?}"),
        }
        match mapped(&statement("attempted")).unwrap() {
            StatementMapping::Ignored(why) => assert!(why.contains("attempted"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_wrong_field_is_named() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "/object/id",
                json!("https://lms.example.com/courses/unknown"),
                "object.id",
            ),
            ("/actor/account/name", json!(""), "actor.account.name"),
            (
                "/actor/account/homePage",
                json!("https://elsewhere.example"),
                "actor.account.homePage",
            ),
            ("/timestamp", json!("yesterday"), "timestamp"),
            ("/result/score/raw", json!(-1), "result.score.raw"),
            (
                "/context/extensions/https:~1~1hrsync.dev~1xapi~1extensions~1credential/expires",
                json!("2020-01-01"),
                "extensions[",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut s = statement("passed");
            *s.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value.clone();
            let reasons = mapped(&s).expect_err(pointer);
            assert!(
                reasons.iter().any(|r| r.field.starts_with(field)),
                "{pointer}: {reasons:?}"
            );
        }
    }

    #[test]
    fn a_repost_under_a_new_id_has_the_same_key() {
        let a = completion(&statement("passed"));
        let mut s = statement("passed");
        s["id"] = json!("6f1c1f9e-0000-4000-8000-000000000002");
        let b = completion(&s);
        assert_eq!(a.idempotency_key(), b.idempotency_key());
        s["timestamp"] = json!("2026-11-21T08:00:00Z");
        assert_ne!(a.idempotency_key(), completion(&s).idempotency_key());
    }

    #[test]
    fn what_the_hris_already_holds_is_recognised() {
        let c = completion(&statement("passed"));
        let day = c.completed.to_string();
        assert!(c.recorded_in(&[json!({"type": 3, "completed": day})]));
        assert!(!c.recorded_in(&[json!({"type": 4, "completed": day})]));
        assert!(!c.recorded_in(&[json!({"type": 3, "completed": "2001-01-01"})]));
        // As BambooHR may show it: the type as a string, the day with a time.
        assert!(c.recorded_in(&[json!({"type": "3", "completed": format!("{day} 00:00:00")})]));
        assert!(!c.recorded_in(&[json!({"type": "4", "completed": day})]));
        // Ours, by the statement in its notes, even if the HRIS shows another day.
        let ours = json!({"type": 3, "completed": "2001-01-01", "notes": c.notes()});
        assert!(c.recorded_in(std::slice::from_ref(&ours)));
        let mut other_type = ours;
        other_type["type"] = json!(4);
        assert!(!c.recorded_in(&[other_type]));
        let row = c.certification_row().unwrap();
        assert!(c.credential_in(std::slice::from_ref(&row)));
        let mut renewed = row;
        renewed["expires"] = json!("2028-11-20");
        assert!(!c.credential_in(&[renewed]), "a different expiry is a renewal");
    }

    #[test]
    fn the_credential_table_must_be_a_custom_table() {
        let shipped = include_str!("../../assets/contract.toml");
        let wb = contract().writeback.unwrap();
        assert_eq!(wb.credential_table, "customCertifications");
        let without = shipped.replace("credential_table = \"customCertifications\"\n", "");
        assert_ne!(without, shipped);
        let wb = crate::contract::parse(&without).unwrap().writeback.unwrap();
        assert_eq!(wb.credential_table, "customCertifications", "the default");
        for bad in ["certifications", "custom"] {
            let text = shipped.replace(
                "credential_table = \"customCertifications\"",
                &format!("credential_table = \"{bad}\""),
            );
            let line = text
                .lines()
                .position(|l| l.starts_with("credential_table"))
                .unwrap()
                + 1;
            let problems = crate::contract::parse(&text).unwrap_err();
            assert!(
                problems.iter().any(|p| p.line == line
                    && p.message
                        .contains(&format!("\"{bad}\" is not a BambooHR custom table"))),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn a_writeback_naming_a_missing_table_is_refused_with_its_line() {
        let text = include_str!("../../assets/contract.toml")
            .replace(r#"courses = "courses""#, r#"courses = "nope""#);
        let problems = crate::contract::parse(&text).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("\"nope\"") && p.line > 1),
            "{problems:?}"
        );
    }
}
