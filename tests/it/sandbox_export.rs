//! The sandbox's nightly-style CSV exports, read back with the `csv` crate: a
//! full export holds every current employee once, as the HRIS API serves them,
//! and passes the shipped contract; truncated, stale and malformed ones are
//! broken exactly as asked; `hrsync sandbox --export-every` writes again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hrsync::sandbox::export::{EXPORT_COLUMNS, REPORT_COLUMNS, UNMAPPED_COLUMNS, write_completions_report};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::common::CONTRACT;

const BOM: &[u8] = b"\xEF\xBB\xBF";

async fn start(employees: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        employees,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// `POST /_sandbox/export`: its status and answer.
async fn export(sandbox: &Sandbox, body: Value) -> (StatusCode, Value) {
    let url = format!("{}/export", sandbox.credentials().admin_url);
    let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// An export the sandbox wrote: its raw bytes, header and rows.
struct ExportFile {
    path: PathBuf,
    raw: Vec<u8>,
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl ExportFile {
    fn read(path: &Path) -> ExportFile {
        let raw = std::fs::read(path).unwrap();
        assert!(raw.starts_with(BOM), "{} starts with a UTF-8 BOM", path.display());
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&raw[BOM.len()..]);
        let header = reader.headers().unwrap().iter().map(str::to_string).collect();
        let rows = reader.records().map(Result::unwrap).collect();
        ExportFile {
            path: path.to_path_buf(),
            raw,
            header,
            rows,
        }
    }

    fn column(&self, header: &str) -> usize {
        self.header.iter().position(|h| h == header).unwrap()
    }

    fn ids(&self) -> Vec<String> {
        let at = self.column("Employee ID");
        self.rows.iter().map(|row| row[at].to_string()).collect()
    }

    /// A full-length row by its mapped columns: BambooHR name → value, empty as null.
    fn record(&self, row: &csv::StringRecord) -> Map<String, Value> {
        EXPORT_COLUMNS
            .iter()
            .map(|(header, field)| {
                let text = &row[self.column(header)];
                let value = if text.is_empty() { Value::Null } else { json!(text) };
                (field.to_string(), value)
            })
            .collect()
    }

    /// The physical line a row starts on. csv's own `line()` is one short after
    /// a CRLF (BurntSushi/rust-csv#395), and its byte offset points at the LF
    /// that ends the previous record, so the LF is stepped over here.
    fn line(&self, row: &csv::StringRecord) -> u64 {
        let text = &self.raw[BOM.len()..];
        let byte = row.position().unwrap().byte() as usize;
        let start = byte + usize::from(text[byte] == b'\n');
        1 + text[..start].iter().filter(|&&b| b == b'\n').count() as u64
    }

    fn mtime(&self) -> Timestamp {
        let modified = std::fs::metadata(&self.path).unwrap().modified().unwrap();
        Timestamp::try_from(modified).unwrap()
    }

    /// The time in `hris-YYYYMMDD-HHMMSS.csv`.
    fn name_time(&self) -> Timestamp {
        let name = self.path.file_name().unwrap().to_str().unwrap();
        let stamp = name.split_once('-').unwrap().1.trim_end_matches(".csv");
        jiff::civil::DateTime::strptime("%Y%m%d-%H%M%S", stamp)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    }

    fn assert_done(&self) {
        let mut marker = self.path.clone().into_os_string();
        marker.push(".done");
        assert!(
            Path::new(&marker).is_file(),
            "{} has a .done marker",
            self.path.display()
        );
    }
}

fn path_of(answer: &Value) -> PathBuf {
    PathBuf::from(answer["path"].as_str().unwrap())
}

/// The directory's ids: the HRIS's current employees.
async fn directory_ids(sandbox: &Sandbox) -> Vec<String> {
    let credentials = sandbox.credentials();
    let directory: Value = reqwest::Client::new()
        .get(format!("{}/employees/directory", credentials.hris_api()))
        .basic_auth(&credentials.hris_api_key, Some("x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let employees = directory["employees"].as_array().unwrap();
    employees
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every employee's mapped fields as the custom report serves them, by id.
async fn report(sandbox: &Sandbox) -> HashMap<String, Map<String, Value>> {
    let credentials = sandbox.credentials();
    let fields: Vec<&str> = EXPORT_COLUMNS.iter().map(|(_, field)| *field).collect();
    let report: Value = reqwest::Client::new()
        .post(format!("{}/reports/custom?format=JSON", credentials.hris_api()))
        .basic_auth(&credentials.hris_api_key, Some("x"))
        .json(&json!({"fields": fields}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let employees = report["employees"].as_array().unwrap();
    employees
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e.as_object().unwrap().clone(),
            )
        })
        .collect()
}

#[test]
fn the_columns_cover_every_field_the_shipped_contract_reads() {
    let contract = hrsync::contract::parse(CONTRACT).unwrap();
    let exported: HashSet<&str> = EXPORT_COLUMNS.iter().map(|(_, field)| *field).collect();
    for rule in &contract.fields {
        assert!(
            exported.contains(rule.hris.as_str()),
            "{} has a column",
            rule.hris
        );
    }
    for field in &exported {
        assert!(
            hrsync::sandbox::hris::employee::FIELDS.contains(field),
            "{field} is an HRIS field"
        );
    }
}

#[tokio::test]
async fn a_full_export_holds_every_current_employee_once_as_the_api_serves_them() {
    let sandbox = start(300).await;
    let dir = tempfile::tempdir().unwrap();
    let (status, answer) = export(&sandbox, json!({"kind": "full", "dir": dir.path()})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let file = ExportFile::read(&path_of(&answer));
    file.assert_done();
    assert_eq!(answer["rows"], file.rows.len());

    let mut expected_header: Vec<&str> = EXPORT_COLUMNS.iter().map(|(h, _)| *h).collect();
    expected_header.extend(UNMAPPED_COLUMNS);
    let mut header: Vec<&str> = file.header.iter().map(String::as_str).collect();
    header.sort_unstable();
    expected_header.sort_unstable();
    assert_eq!(header, expected_header);

    // Every record ends in CRLF; the only bare line feeds are inside quotes.
    let line_feeds = file.raw.iter().filter(|&&b| b == b'\n').count();
    let crlf = file.raw.windows(2).filter(|w| w == b"\r\n").count();
    let quoted_line_feeds: usize = file
        .rows
        .iter()
        .flat_map(|r| r.iter())
        .map(|f| f.matches('\n').count())
        .sum();
    assert_eq!(crlf, file.rows.len() + 1, "one CRLF per record and the header");
    assert!(quoted_line_feeds > 0, "some value holds a quoted line break");
    assert_eq!(line_feeds, crlf + quoted_line_feeds);
    let legal_name = file.column("Legal Name");
    assert!(file.rows.iter().all(|row| row[legal_name].contains(", ")));

    let mut ids = file.ids();
    let mut directory = directory_ids(&sandbox).await;
    assert_eq!(
        ids.len(),
        ids.iter().collect::<HashSet<_>>().len(),
        "each employee once"
    );
    ids.sort_unstable();
    directory.sort_unstable();
    assert_eq!(ids, directory);

    let served = report(&sandbox).await;
    let contract = hrsync::contract::parse(CONTRACT).unwrap();
    for row in &file.rows {
        assert_eq!(row.len(), file.header.len());
        let record = file.record(row);
        let id = record["id"].as_str().unwrap();
        assert_eq!(&record, &served[id], "employee {id} as the API serves them");
        let mapped = hrsync::contract::map::map_employee(&contract, &record).unwrap();
        assert!(mapped.problems.is_empty(), "{id}: {:?}", mapped.problems);
    }

    let age = Timestamp::now().duration_since(file.mtime());
    assert!(age.as_secs() < 60, "written now: {age:?}");
    assert_eq!(file.mtime(), file.name_time());
}

#[tokio::test]
async fn truncated_stale_and_malformed_exports_are_broken_exactly_as_asked() {
    let sandbox = start(200).await;
    let dir = tempfile::tempdir().unwrap();
    let written = |answer: &Value| ExportFile::read(&path_of(answer));
    let (_, full) = export(&sandbox, json!({"kind": "full", "dir": dir.path()})).await;
    let full = written(&full);

    let (status, truncated) = export(&sandbox, json!({"kind": "truncated", "dir": dir.path()})).await;
    assert_eq!(status, StatusCode::OK, "{truncated}");
    let truncated = written(&truncated);
    truncated.assert_done();
    assert_eq!(truncated.rows.len(), full.rows.len().div_ceil(10));
    assert_eq!(truncated.ids(), full.ids()[..truncated.rows.len()]);

    let (_, stale) = export(&sandbox, json!({"kind": "stale", "dir": dir.path()})).await;
    let stale = written(&stale);
    stale.assert_done();
    assert_eq!(stale.rows.len(), full.rows.len());
    let two_days = Duration::from_secs(48 * 3600);
    let age = Timestamp::now().duration_since(stale.mtime()).unsigned_abs();
    assert!(
        age >= two_days && age < two_days + Duration::from_secs(60),
        "{age:?}"
    );
    assert_eq!(stale.mtime(), stale.name_time());

    let (status, answer) = export(&sandbox, json!({"kind": "malformed", "dir": dir.path()})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let malformed = written(&answer);
    malformed.assert_done();
    assert_eq!(malformed.rows.len(), full.rows.len() + 1);
    assert_eq!(answer["rows"], malformed.rows.len());
    let found = bad_rows(&malformed);
    let listed: Vec<(u64, String, String)> = answer["bad_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bad| {
            let text = |key: &str| bad[key].as_str().unwrap().to_string();
            (
                bad["line"].as_u64().unwrap(),
                text("employee_id"),
                text("problem"),
            )
        })
        .collect();
    assert_eq!(found, listed);
    let problems: Vec<&str> = listed.iter().map(|(_, _, problem)| problem.as_str()).collect();
    assert_eq!(
        problems,
        [
            "missing field",
            "Work Email is not an email",
            "duplicate Employee ID"
        ]
    );
}

/// What is wrong in an export, found by reading it: (line, id, problem) per
/// short row, repeated id (its second row) and email without '@'.
fn bad_rows(file: &ExportFile) -> Vec<(u64, String, String)> {
    let (id_at, email_at) = (file.column("Employee ID"), file.column("Work Email"));
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for row in &file.rows {
        let line = file.line(row);
        let id = row[id_at].to_string();
        let problem = if row.len() != file.header.len() {
            "missing field"
        } else if !seen.insert(id.clone()) {
            "duplicate Employee ID"
        } else if !row[email_at].contains('@') {
            "Work Email is not an email"
        } else {
            continue;
        };
        found.push((line, id, problem.to_string()));
    }
    found
}

#[tokio::test]
async fn an_export_request_without_a_usable_folder_is_refused() {
    let sandbox = start(10).await;
    let (status, answer) = export(&sandbox, json!({"kind": "full"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().contains("--export-dir"),
        "{answer}"
    );
    let (status, _) = export(&sandbox, json!({"kind": "full", "dir": "relative"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = export(&sandbox, json!({"kind": "sideways", "dir": "/tmp"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_completion_report_has_a_row_per_completion_and_pass() {
    let sandbox = start(50).await;
    let url = format!("{}/completions", sandbox.credentials().admin_url);
    let client = reqwest::Client::new();
    let body = json!({"count": 60, "employee_ids": ["3", "7", "11"]});
    let stored: Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids = stored["ids"].as_array().unwrap();

    // What the LRS says happened, by statement, over xAPI.
    let credentials = sandbox.credentials();
    let mut successes = 0;
    for id in ids {
        let statement: Value = client
            .get(format!("{}/statements", credentials.xapi_url))
            .query(&[("statementId", id.as_str().unwrap())])
            .basic_auth(&credentials.xapi_user, Some(&credentials.xapi_password))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let verb = statement["verb"]["id"].as_str().unwrap();
        successes += usize::from(!verb.ends_with("/failed"));
    }
    assert!(
        successes > 0 && successes < 60,
        "some passed, some failed: {successes}"
    );

    let dir = tempfile::tempdir().unwrap();
    let written = write_completions_report(sandbox.shared(), dir.path(), Timestamp::now()).unwrap();
    let file = ExportFile::read(&written.path);
    file.assert_done();
    assert!(
        file.path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("completions-")
    );
    assert_eq!(file.header, REPORT_COLUMNS);
    assert_eq!(file.rows.len(), successes);
    assert_eq!(written.rows, successes);
    let crlf = file.raw.windows(2).filter(|w| w == b"\r\n").count();
    assert_eq!(crlf, successes + 1);
    for row in &file.rows {
        assert!(["3", "7", "11"].contains(&&row[0]), "{row:?}");
        assert!(row[1].starts_with("https://lms.example.com/courses/"), "{row:?}");
        row[2].parse::<Timestamp>().unwrap();
        match &row[4] {
            "Passed" => assert!(row[3].parse::<u32>().unwrap() >= 70, "{row:?}"),
            "Completed" => assert_eq!(&row[3], "", "{row:?}"),
            other => panic!("result {other}"),
        }
        // A credential comes whole: name, number and a date it expires.
        assert_eq!(row[5].is_empty(), row[6].is_empty(), "{row:?}");
        if !row[5].is_empty() {
            row[7].parse::<jiff::civil::Date>().unwrap();
        }
    }
}

/// `hrsync sandbox`, killed when the test ends however it ends.
struct SandboxProcess(Child);

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The marked-done files of `stem` in `dir`.
fn done_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.starts_with(&format!("{stem}-")) && name.ends_with(".csv.done")
        })
        .map(|marker| marker.with_extension(""))
        .collect();
    files.sort();
    files
}

#[test]
fn the_sandbox_command_exports_at_start_and_again_every_few_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .arg("--log-file")
        .arg(dir.path().join("hrsync.log"))
        .args([
            "sandbox",
            "--employees",
            "40",
            "--export-every",
            "1",
            "--export-dir",
        ])
        .arg(&exports)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = SandboxProcess(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while done_files(&exports, "hris").len() < 2 || done_files(&exports, "completions").len() < 2 {
        assert!(Instant::now() < deadline, "two exports of each within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let files = done_files(&exports, "hris");
    let (first, second) = (ExportFile::read(&files[0]), ExportFile::read(&files[1]));
    assert!(first.name_time() < second.name_time());
    assert_eq!(first.ids(), second.ids(), "nothing changed between them");
    assert_eq!(second.mtime(), second.name_time());
    let report = ExportFile::read(&done_files(&exports, "completions")[0]);
    assert_eq!(report.header, REPORT_COLUMNS);
}
