use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ConfigError, LmsKind};

const EXAMPLE: &str = include_str!("../../../assets/hrsync.example.toml");

fn env(var: &str) -> Option<String> {
    Some(format!("value-of-{var}"))
}

/// The example with its `[lms]` table swapped for `lms`.
fn with_lms(lms: &str) -> Result<Config, ConfigError> {
    let start = EXAMPLE.find("[lms]").unwrap();
    let end = EXAMPLE.find("[lrs]").unwrap();
    let text = format!("{}{lms}\n{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    Config::parse(Path::new("/etc/hrsync/hrsync.toml"), &text, env)
}

fn problem(lms: &str) -> String {
    with_lms(lms).unwrap_err().to_string()
}

const FEED: &str = r#"[lms]
kind = "csv"
outbox = "feed"
file_name = "users.csv"
active_words = ["Active", "Inactive"]
group_separator = ";"
every_s = 3600
upload = "sftp://hrsync@lms.example.com:2222/import"
inbox = "lms-exports"
key_env = "HRSYNC_LMS_SFTP_KEY"
known_hosts = "known_hosts"
[lms.columns]
"Username" = "userName"
"Employee" = "externalId"
"First name" = "name.givenName"
"Email" = "emails[work].value"
"Status" = "active"
"Branches" = "groups"
"#;

#[test]
fn the_csv_kind_reads_its_columns_in_file_order_and_its_upload() {
    let config = with_lms(FEED).unwrap();
    assert_eq!(config.lms.kind, LmsKind::Csv);
    assert_eq!(config.lms.scim_url, "", "no SCIM URL is needed");
    let feed = config.lms.feed.expect("the csv kind's feed");
    assert_eq!(feed.outbox, Path::new("/etc/hrsync/feed"));
    assert_eq!(feed.file_name, "users.csv");
    let headers: Vec<&str> = feed.columns.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headers,
        [
            "Username",
            "Employee",
            "First name",
            "Email",
            "Status",
            "Branches"
        ]
    );
    assert_eq!(feed.columns[3].1, r#"emails[type eq "work"].value"#);
    assert_eq!(feed.columns[4].1, "active");
    assert_eq!(feed.active_words, ("Active".into(), "Inactive".into()));
    assert_eq!(feed.group_separator, ";");
    assert_eq!(feed.every, Duration::from_secs(3600));
    assert_eq!(
        feed.upload.as_deref(),
        Some("sftp://hrsync@lms.example.com:2222/import")
    );
    assert_eq!(feed.inbox.as_deref(), Some("/etc/hrsync/lms-exports"));
    assert_eq!(
        feed.sftp.private_key.as_ref().map(|k| k.expose().to_string()),
        Some("value-of-HRSYNC_LMS_SFTP_KEY".into())
    );
    assert_eq!(
        feed.sftp.known_hosts.as_deref(),
        Some(Path::new("/etc/hrsync/known_hosts"))
    );
}

#[test]
fn the_csv_kind_has_defaults_and_the_scim_kind_stays_the_default() {
    let config =
        with_lms("[lms]\nkind = \"csv\"\noutbox = \"o\"\n[lms.columns]\n\"u\" = \"userName\"\n").unwrap();
    let feed = config.lms.feed.unwrap();
    assert_eq!(feed.file_name, "learners.csv");
    assert_eq!(feed.active_words, ("1".into(), "0".into()));
    assert_eq!(feed.group_separator, "|");
    assert_eq!(feed.every, Duration::from_secs(86_400));
    assert!(feed.upload.is_none() && feed.inbox.is_none());
    let scim = with_lms("[lms]\nscim_url = \"http://127.0.0.1:8080/scim/v2\"\ntoken_env = \"T\"\n").unwrap();
    assert_eq!(scim.lms.kind, LmsKind::Scim);
    assert!(scim.lms.feed.is_none());
}

#[test]
fn the_csv_kind_names_the_key_that_is_wrong() {
    let line_of = |text: &str, key: &str| {
        let start = EXAMPLE.find("[lms]").unwrap();
        EXAMPLE[..start].lines().count() + text.lines().position(|l| l.starts_with(key)).unwrap() + 1
    };
    let cases = [
        ("outbox = \"feed\"\n", "", "[lms] outbox is missing"),
        (
            "\"Email\" = \"emails[work].value\"",
            "\"Email\" = \"emails[.value\"",
            "[lms.columns] \"Email\" = \"emails[.value\": not a learner attribute",
        ),
        (
            "\"Branches\" = \"groups\"",
            "\"Branches\" = \"userName\"",
            "\"Branches\" and \"Username\" both name the attribute userName",
        ),
        (
            "active_words = [\"Active\", \"Inactive\"]",
            "active_words = [\"1\"]",
            "[lms] active_words must be two different words",
        ),
        (
            "upload = \"sftp://hrsync@lms.example.com:2222/import\"",
            "upload = \"sftp://hrsync:hunter2@lms.example.com/import\"",
            "[lms] upload must be sftp://user@host:port/path (no password in it",
        ),
        (
            "upload = \"sftp://hrsync@lms.example.com:2222/import\"",
            "upload = \"/srv/import\"",
            "[lms] upload must be sftp://",
        ),
        (
            "file_name = \"users.csv\"",
            "file_name = \"../users.csv\"",
            "[lms] file_name \"../users.csv\" must be a plain file name",
        ),
        (
            "every_s = 3600",
            "every_s = 0",
            "[lms] every_s must be more than 0",
        ),
        (
            "kind = \"csv\"",
            "kind = \"docebo\"",
            "[lms] kind \"docebo\" is not a known kind",
        ),
        ("kind = \"csv\"\n", "", "[lms] scim_url is missing"),
    ];
    for (from, to, expected) in cases {
        let text = FEED.replace(from, to);
        assert_ne!(text, FEED, "{from} is in the feed");
        let error = problem(&text);
        assert!(error.contains(expected), "{expected:?} in {error}");
        assert!(!error.contains("hunter2"), "{error}");
        let key = to.split([' ', '=']).next().unwrap();
        if !to.is_empty() && !key.starts_with('"') && key != "kind" {
            let line = line_of(&text, key);
            assert!(
                error.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")),
                "{error}"
            );
        }
    }
    let no_columns = problem("[lms]\nkind = \"csv\"\noutbox = \"o\"\n");
    assert!(
        no_columns.contains("[lms] [lms.columns] is missing"),
        "{no_columns}"
    );
}
