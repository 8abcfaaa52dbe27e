use std::time::Duration;

use super::*;

const CREDENTIAL: &str = "https://hrsync.dev/xapi/extensions/credential";

fn shape() -> ReportShape {
    let columns = [
        ("Employee", "employee_id"),
        ("Course", "course_id"),
        ("Done", "completed_at"),
        ("Score", "score"),
        ("Result", "passed"),
        ("Credential", "credential_name"),
        ("Expires", "credential_expires"),
    ];
    ReportShape {
        columns: columns
            .iter()
            .map(|(c, f)| (c.to_string(), f.to_string()))
            .collect(),
        account_home_page: Some("https://hris.acme.example".into()),
        credential_extension: CREDENTIAL.into(),
    }
}

const REPORT: &str = "Employee,Course,Done,Score,Result,Credential,Expires\n\
                      E1,https://lms.example.com/courses/first-aid,2026-03-01T09:30:00Z,88,Passed,First Aid,2027-03-01\n\
                      E2,https://lms.example.com/courses/first-aid,2026-03-02,,Completed,,\n\
                      E3,https://lms.example.com/courses/first-aid,someday,,,,\n";

fn reports(dir: &std::path::Path) -> ReportFiles {
    let arrivals = Arrivals {
        inbox: dir.display().to_string(),
        pattern: "*.csv".into(),
        settle: Duration::ZERO,
        done_suffix: None,
        outbox: dir.join("outbox"),
        keep: Duration::from_secs(86_400),
        scan_every: Duration::from_millis(10),
        sftp: Default::default(),
    };
    ReportFiles::new(arrivals, Arc::new(|| Some(shape())))
}

#[test]
fn a_row_becomes_the_statement_the_write_back_reads() {
    let stored: Timestamp = "2026-03-03T00:00:00Z".parse().unwrap();
    let mut rows = Vec::new();
    let spec = ReportSpec {
        columns: shape().columns,
    };
    read_report(REPORT.as_bytes(), &spec, |row| rows.push(row)).unwrap();
    let passed = statement(&rows[0], &shape(), "r.csv", stored);
    assert_eq!(passed["id"], json!(row_key(&rows[0])));
    assert_eq!(passed["verb"]["id"], "http://adlnet.gov/expapi/verbs/passed");
    assert_eq!(
        passed["actor"]["account"],
        json!({"name": "E1", "homePage": "https://hris.acme.example"})
    );
    assert_eq!(
        passed["object"]["id"],
        "https://lms.example.com/courses/first-aid"
    );
    assert_eq!(
        passed["result"],
        json!({"completion": true, "success": true, "score": {"raw": 88.0}})
    );
    assert_eq!(
        passed["context"]["extensions"][CREDENTIAL],
        json!({"name": "First Aid", "issued": "2026-03-01", "expires": "2027-03-01"})
    );
    assert_eq!(
        passed["context"]["extensions"][REPORT_EXTENSION],
        json!({"file": "r.csv", "line": 2})
    );
    assert_eq!(passed["timestamp"], "2026-03-01T09:30:00Z");
    assert_eq!(passed["stored"], "2026-03-03T00:00:00Z");

    // "Completed" says nothing of the outcome: no success, the completed verb.
    let completed = statement(&rows[1], &shape(), "r.csv", stored);
    assert_eq!(
        completed["verb"]["id"],
        "http://adlnet.gov/expapi/verbs/completed"
    );
    assert!(completed["result"].get("success").is_none(), "{completed}");
    assert_ne!(completed["id"], passed["id"]);
}

#[tokio::test]
async fn a_report_moves_away_with_its_rejects_only_once_journaled() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.csv"), REPORT).unwrap();
    let reports = reports(dir.path());
    let page = reports
        .stored_since(Some(Timestamp::UNIX_EPOCH), 500)
        .await
        .unwrap();
    assert_eq!(page.statements.len(), 2);
    assert_eq!(page.files, ["r.csv"]);
    assert!(
        dir.path().join("r.csv").exists(),
        "not moved before it is journaled"
    );
    assert!(!dir.path().join("outbox/r.csv.rejects.csv").exists());

    reports.journaled(&page.files).await.unwrap();
    assert!(dir.path().join("processed/r.csv").exists());
    assert!(!dir.path().join("r.csv").exists());
    let rejects = std::fs::read_to_string(dir.path().join("outbox/r.csv.rejects.csv")).unwrap();
    assert!(rejects.contains("4,E3,completed_at"), "{rejects}");

    // Taken reports are read again only when everything is asked for.
    let page = reports
        .stored_since(Some(Timestamp::UNIX_EPOCH), 500)
        .await
        .unwrap();
    assert!(page.statements.is_empty() && page.files.is_empty());
    let everything = reports.stored_since(None, 500).await.unwrap();
    assert_eq!(everything.statements.len(), 2);
    assert!(everything.files.is_empty(), "a taken report is not taken again");
}

#[tokio::test]
async fn a_report_without_a_required_column_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.csv"), "Employee,Course\nE1,C1\n").unwrap();
    let reports = reports(dir.path());
    let page = reports
        .stored_since(Some(Timestamp::UNIX_EPOCH), 500)
        .await
        .unwrap();
    assert!(page.statements.is_empty());
    reports.journaled(&page.files).await.unwrap();
    assert!(dir.path().join("refused/bad.csv").exists());
    let rejects = std::fs::read_to_string(dir.path().join("outbox/bad.csv.rejects.csv")).unwrap();
    assert!(
        rejects.contains("bad.csv") && rejects.contains("Done"),
        "{rejects}"
    );
}
