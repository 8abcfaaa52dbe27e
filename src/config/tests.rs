use std::path::Path;

use super::{Config, ConfigError};

const EXAMPLE: &str = include_str!("../../assets/hrsync.example.toml");

fn env(var: &str) -> Option<String> {
    Some(format!("value-of-{var}"))
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/hrsync/hrsync.toml"), text, env)
}

fn problem(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn the_example_loads_with_secrets_from_the_environment() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(
        config.hris.api_base,
        "http://127.0.0.1:8080/api/gateway.php/acme/v1"
    );
    assert_eq!(config.hris.api_key.expose(), "value-of-HRSYNC_HRIS_API_KEY");
    assert_eq!(config.lms.scim_url, "http://127.0.0.1:8080/scim/v2");
    assert_eq!(config.webhook.listen.port(), 8088);
    assert_eq!(config.store_path, Path::new("/etc/hrsync/hrsync.db"));
    assert_eq!(config.contract_path, Path::new("/etc/hrsync/contract.toml"));
    assert_eq!(config.retry.attempts, 3);
    assert_eq!(config.poll_interval.as_secs(), 300);
    assert_eq!(config.notify_url, None);
    assert!(config.lrs.is_some());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = parse(EXAMPLE).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("value-of-"), "{debug}");
}

#[test]
fn a_missing_secret_names_the_variable() {
    let error = Config::parse(Path::new("h.toml"), EXAMPLE, |var| {
        (var != "HRSYNC_SCIM_TOKEN").then(|| "x".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("[lms] token_env"), "{error}");
    assert!(error.contains("HRSYNC_SCIM_TOKEN"), "{error}");
}

#[test]
fn unknown_keys_and_bad_values_name_their_line() {
    let typo = EXAMPLE.replace("attempts = 3", "atempts = 3");
    let line = typo.lines().position(|l| l.starts_with("atempts")).unwrap() + 1;
    let error = problem(&typo);
    assert!(
        error.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")),
        "{error}"
    );
    assert!(error.contains("atempts"), "{error}");

    let bad_url = EXAMPLE.replace("scim_url = \"http", "scim_url = \"ftp");
    assert!(problem(&bad_url).contains("[lms] scim_url"));

    let bad_listen = EXAMPLE.replace("127.0.0.1:8088", "localhost");
    assert!(problem(&bad_listen).contains("[webhook] listen \"localhost\""));

    let zero = EXAMPLE.replace("attempts = 3", "attempts = 0");
    assert!(problem(&zero).contains("at least 1"));

    let secret_inline = EXAMPLE.replace(
        "secret_env = \"HRSYNC_WEBHOOK_SECRET\"",
        "secret_env = \"s3cr3t!!\"",
    );
    let error = problem(&secret_inline);
    assert!(error.contains("must name an environment variable"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

#[test]
fn required_sections_are_required_and_defaults_fill_the_rest() {
    let without_store = EXAMPLE.replace("[store]\n", "[storage]\n");
    assert!(problem(&without_store).contains("store"));

    let minimal = r#"
[hris]
url = "http://h"
api_key_env = "K"
company = "c"
[lms]
scim_url = "http://l/scim/v2/"
token_env = "T"
[webhook]
listen = "127.0.0.1:0"
secret_env = "S"
[store]
path = "/var/lib/hrsync/x.db"
"#;
    let config = parse(minimal).unwrap();
    assert_eq!(config.lms.scim_url, "http://l/scim/v2");
    assert_eq!(config.retry.attempts, 3);
    assert_eq!(config.retry.interval.as_secs(), 60);
    assert_eq!(config.retry.read_attempts, 4);
    assert_eq!(config.retry.read_delay.as_millis(), 200);
    assert_eq!(config.safety.allowed(100), 50);
    assert_eq!(config.safety.allowed(10_000), 500);
    assert!(config.lrs.is_none());
    assert_eq!(config.keep_finished, crate::config::DEFAULT_KEEP_FINISHED);
}

#[test]
fn keep_days_is_a_positive_number_of_days() {
    let week = EXAMPLE.replace("keep_days = 90", "keep_days = 7");
    assert_eq!(parse(&week).unwrap().keep_finished.as_secs(), 7 * 86_400);
    let hours = EXAMPLE.replace("keep_days = 90", "keep_days = 0.25");
    assert_eq!(parse(&hours).unwrap().keep_finished.as_secs(), 6 * 3_600);
    for bad in ["0", "-1"] {
        let text = EXAMPLE.replace("keep_days = 90", &format!("keep_days = {bad}"));
        let error = problem(&text);
        assert!(
            error.contains("[store] keep_days must be a number of days > 0"),
            "{error}"
        );
    }
}

#[test]
fn the_audit_key_is_named_by_variable_and_previous_keys_are_only_names() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.audit.key_env.as_deref(), Some("HRSYNC_AUDIT_KEY"));
    assert_eq!(
        config.audit.key.as_ref().map(|k| k.expose()),
        Some("value-of-HRSYNC_AUDIT_KEY")
    );
    assert!(config.audit.previous_key_envs.is_empty());

    let rotated = EXAMPLE.replace(
        "# previous_key_envs = [\"HRSYNC_AUDIT_KEY_2025\"]",
        "previous_key_envs = [\"HRSYNC_AUDIT_KEY_2025\", \"OLDER\"]",
    );
    // Retired keys are not read at load: the engine never needs them.
    let config = Config::parse(Path::new("h.toml"), &rotated, |var| {
        (var != "HRSYNC_AUDIT_KEY_2025").then(|| "x".to_string())
    })
    .unwrap();
    assert_eq!(config.audit.previous_key_envs, ["HRSYNC_AUDIT_KEY_2025", "OLDER"]);

    let missing = Config::parse(Path::new("h.toml"), EXAMPLE, |var| {
        (var != "HRSYNC_AUDIT_KEY").then(|| "x".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(missing.contains("[audit] key_env"), "{missing}");

    let inline = EXAMPLE.replace("key_env = \"HRSYNC_AUDIT_KEY\"", "key_env = \"k3y-v@lue\"");
    let error = problem(&inline);
    assert!(error.contains("must name an environment variable"), "{error}");
    assert!(!error.contains("k3y-v@lue"), "{error}");

    let without = EXAMPLE.replace("key_env = \"HRSYNC_AUDIT_KEY\"", "");
    let config = parse(&without).unwrap();
    assert!(config.audit.key.is_none() && config.audit.key_env.is_none());
}

#[test]
fn reads_retry_as_the_retry_table_says_and_at_least_once() {
    let text = EXAMPLE.replace(
        "read_attempts = 4\nread_delay_ms = 200",
        "read_attempts = 6\nread_delay_ms = 50",
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.retry.read_attempts, 6);
    assert_eq!(config.retry.read_delay.as_millis(), 50);
    let never = EXAMPLE.replace("read_attempts = 4", "read_attempts = 0");
    assert!(
        problem(&never).contains("read_attempts must be at least 1"),
        "{}",
        problem(&never)
    );
}

/// The example with its `[hris]` table swapped for `hris`, and no `[lrs]`: an
/// HRIS read from files has no API for the write-back.
fn with_hris(hris: &str) -> String {
    let start = EXAMPLE.find("[hris]").unwrap();
    let end = EXAMPLE.find("[lms]").unwrap();
    let (lrs, webhook) = (EXAMPLE.find("[lrs]").unwrap(), EXAMPLE.find("[webhook]").unwrap());
    format!(
        "{}{hris}\n{}{}",
        &EXAMPLE[..start],
        &EXAMPLE[end..lrs],
        &EXAMPLE[webhook..]
    )
}

#[test]
fn the_csv_kind_reads_its_inbox_columns_and_login() {
    let config = parse(&with_hris(
        r#"[hris]
kind = "csv"
inbox = "sftp://hrsync@sftp.example.com:2222/exports"
pattern = "workers-*.csv"
outbox = "outbox"
settle_s = 5
done_suffix = ".done"
delimiter = ";"
key_env = "HRSYNC_SFTP_KEY"
[hris.columns]
"Employee ID" = "id"
"First Name" = "firstName"
"#,
    ))
    .unwrap();
    assert_eq!(config.hris.kind, crate::model::connections::HrisKind::Csv);
    let feed = config.hris.files.expect("the csv kind's feed");
    assert_eq!(feed.inbox, "sftp://hrsync@sftp.example.com:2222/exports");
    assert_eq!(feed.pattern, "workers-*.csv");
    assert_eq!(feed.outbox, Path::new("/etc/hrsync/outbox"));
    assert_eq!(feed.settle.as_secs(), 5);
    assert_eq!(feed.delimiter, Some(b';'));
    assert_eq!(feed.keep.as_secs(), 30 * 86_400);
    assert_eq!(
        feed.sftp.private_key.as_ref().map(|k| k.expose().to_string()),
        Some("value-of-HRSYNC_SFTP_KEY".into())
    );
    assert!(!feed.sftp.accept_new_host_key);
    let mut columns = feed.columns;
    columns.sort();
    assert_eq!(
        columns,
        [
            ("Employee ID".to_string(), "id".to_string()),
            ("First Name".to_string(), "firstName".to_string())
        ]
    );
}

#[test]
fn the_csv_kind_names_what_is_missing_or_wrong() {
    let missing_inbox = problem(&with_hris(
        "[hris]\nkind = \"csv\"\noutbox = \"o\"\n[hris.columns]\n\"Id\" = \"id\"\n",
    ));
    assert!(
        missing_inbox.contains("[hris] inbox is missing"),
        "{missing_inbox}"
    );
    let no_columns = problem(&with_hris(
        "[hris]\nkind = \"csv\"\ninbox = \"in\"\noutbox = \"o\"\n",
    ));
    assert!(no_columns.contains("[hris.columns]"), "{no_columns}");
    let password_in_url = problem(&with_hris(
        "[hris]\nkind = \"csv\"\ninbox = \"sftp://u:hunter2@h/x\"\noutbox = \"o\"\n[hris.columns]\n\"Id\" = \"id\"\n",
    ));
    assert!(password_in_url.contains("password_env"), "{password_in_url}");
    assert!(!password_in_url.contains("hunter2"), "{password_in_url}");
    let bad_pattern = problem(&with_hris(
        "[hris]\nkind = \"csv\"\ninbox = \"in\"\npattern = \"[x\"\noutbox = \"o\"\n[hris.columns]\n\"Id\" = \"id\"\n",
    ));
    assert!(
        bad_pattern.contains("is not a file-name pattern"),
        "{bad_pattern}"
    );
    let kind = problem(&with_hris("[hris]\nkind = \"workday\"\n"));
    assert!(kind.contains("\"workday\" is not a known kind"), "{kind}");
}

#[test]
fn an_hris_read_from_files_refuses_a_write_back_it_cannot_make() {
    let hris = "[hris]\nkind = \"csv\"\ninbox = \"in\"\noutbox = \"o\"\n[hris.columns]\n\"Id\" = \"id\"\n";
    let start = EXAMPLE.find("[hris]").unwrap();
    let end = EXAMPLE.find("[lms]").unwrap();
    let text = format!("{}{hris}\n{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    let refused = problem(&text);
    let line = text[..text.find("[lrs]").unwrap()].matches('\n').count() + 1;
    assert!(refused.contains(&format!(":{line}:")), "{refused}");
    assert!(refused.contains("remove [lrs]"), "{refused}");
    assert!(parse(&with_hris(hris)).is_ok(), "without [lrs] it loads");
}

fn with_lrs(lrs: &str) -> String {
    let start = EXAMPLE.find("[lrs]").unwrap();
    let end = EXAMPLE.find("[webhook]").unwrap();
    format!("{}{lrs}\n{}", &EXAMPLE[..start], &EXAMPLE[end..])
}

#[test]
fn the_lrs_csv_kind_reads_its_inbox_as_the_hris_does() {
    let config = parse(&with_lrs(
        r#"[lrs]
kind = "csv"
inbox = "sftp://hrsync@sftp.example.com:2222/completions"
pattern = "completions-*.csv"
outbox = "outbox"
settle_s = 5
done_suffix = ".done"
keep_days = 7
scan_every_s = 10
key_env = "HRSYNC_SFTP_KEY"
"#,
    ))
    .unwrap();
    let lrs = config.lrs.expect("an [lrs]");
    assert_eq!(lrs.kind, crate::model::connections::LrsKind::Csv);
    let reports = lrs.reports.expect("the csv kind's inbox");
    assert_eq!(reports.inbox, "sftp://hrsync@sftp.example.com:2222/completions");
    assert_eq!(reports.pattern, "completions-*.csv");
    assert_eq!(reports.outbox, Path::new("/etc/hrsync/outbox"));
    assert_eq!(reports.settle.as_secs(), 5);
    assert_eq!(reports.done_suffix.as_deref(), Some(".done"));
    assert_eq!(reports.keep.as_secs(), 7 * 86_400);
    assert_eq!(
        lrs.poll_interval.as_secs(),
        10,
        "the inbox is looked at every scan_every_s"
    );
    assert_eq!(
        reports.sftp.private_key.as_ref().map(|k| k.expose().to_string()),
        Some("value-of-HRSYNC_SFTP_KEY".into())
    );

    // The default stays the xAPI kind, which needs no inbox.
    let xapi = parse(EXAMPLE).unwrap().lrs.unwrap();
    assert_eq!(xapi.kind, crate::model::connections::LrsKind::Xapi);
    assert!(xapi.reports.is_none());
}

#[test]
fn the_lrs_csv_kind_names_what_is_missing_or_wrong() {
    let missing = problem(&with_lrs("[lrs]\nkind = \"csv\"\noutbox = \"o\"\n"));
    assert!(missing.contains("[lrs] inbox is missing"), "{missing}");
    let no_outbox = problem(&with_lrs("[lrs]\nkind = \"csv\"\ninbox = \"in\"\n"));
    assert!(no_outbox.contains("[lrs] outbox is missing"), "{no_outbox}");
    let bad_pattern = problem(&with_lrs(
        "[lrs]\nkind = \"csv\"\ninbox = \"in\"\noutbox = \"o\"\npattern = \"[x\"\n",
    ));
    assert!(
        bad_pattern.contains("[lrs] pattern \"[x\" is not a file-name pattern"),
        "{bad_pattern}"
    );
    let kind = problem(&with_lrs("[lrs]\nkind = \"scorm\"\n"));
    assert!(
        kind.contains("[lrs] kind \"scorm\" is not a known kind (known: xapi, csv)"),
        "{kind}"
    );
    let no_url = problem(&with_lrs("[lrs]\nuser_env = \"U\"\npassword_env = \"P\"\n"));
    assert!(no_url.contains("[lrs] url is missing"), "{no_url}");
}

#[test]
fn shadow_mode_is_off_unless_the_mode_section_says_so() {
    assert!(
        !parse(EXAMPLE).unwrap().shadow,
        "the example's [mode] is commented out"
    );
    let on = format!("{EXAMPLE}\n[mode]\nshadow = true\n");
    assert!(parse(&on).unwrap().shadow);
    let off = format!("{EXAMPLE}\n[mode]\nshadow = false\n");
    assert!(!parse(&off).unwrap().shadow);
    assert!(!parse(&format!("{EXAMPLE}\n[mode]\n")).unwrap().shadow);

    let typo = format!("{EXAMPLE}\n[mode]\nshadw = true\n");
    let line = typo.lines().position(|l| l.starts_with("shadw")).unwrap() + 1;
    let error = problem(&typo);
    assert!(
        error.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")) && error.contains("shadw"),
        "{error}"
    );
    let word = format!("{EXAMPLE}\n[mode]\nshadow = \"yes\"\n");
    let line = word.lines().position(|l| l.starts_with("shadow =")).unwrap() + 1;
    let error = problem(&word);
    assert!(
        error.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")),
        "{error}"
    );
}

#[test]
fn the_preview_age_defaults_to_an_hour_and_is_read_in_seconds() {
    use std::time::Duration;
    assert_eq!(parse(EXAMPLE).unwrap().preview.max_age, Duration::from_secs(3600));
    let without = EXAMPLE
        .replace("[preview]\n", "")
        .replace("max_age_s = 3600\n", "");
    assert_eq!(
        parse(&without).unwrap().preview.max_age,
        Duration::from_secs(3600)
    );
    let short = EXAMPLE.replace("max_age_s = 3600", "max_age_s = 90");
    assert_eq!(parse(&short).unwrap().preview.max_age, Duration::from_secs(90));
    let negative = EXAMPLE.replace("max_age_s = 3600", "max_age_s = -1");
    let line = negative.lines().position(|l| l.starts_with("max_age_s")).unwrap() + 1;
    let error = problem(&negative);
    assert!(
        error.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")) && error.contains("max_age_s"),
        "{error}"
    );
}

/// The example with its commented `[parallel]` section switched on.
fn with_parallel() -> String {
    let at = EXAMPLE
        .find("# [parallel]")
        .expect("the example shows [parallel]");
    let (head, tail) = EXAMPLE.split_at(at);
    let tail: String = tail
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => "",
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{head}{tail}\n")
}

#[test]
fn the_parallel_section_defaults_to_five_days_and_the_feed_words() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.parallel, super::ParallelConfig::default());
    assert_eq!(config.parallel.required_days, 5);
    assert_eq!(config.parallel.group_separator, "|");
    assert_eq!(config.parallel.active_words, ("1".to_string(), "0".to_string()));
}

#[test]
fn the_example_parallel_section_reads_columns_holidays_and_inbox() {
    let config = parse(&with_parallel()).unwrap();
    let parallel = &config.parallel;
    let inbox = parallel.inbox.as_ref().expect("the example has an inbox");
    assert_eq!(inbox.inbox, "/etc/hrsync/legacy");
    assert_eq!(inbox.outbox, Path::new("/etc/hrsync/legacy-rejects"));
    assert_eq!(inbox.pattern, "legacy-*.csv");
    assert_eq!(parallel.required_days, 5);
    assert_eq!(
        parallel.holidays,
        vec![jiff::civil::date(2026, 12, 25), jiff::civil::date(2026, 12, 28)]
    );
    let mut columns = parallel.columns.clone();
    columns.sort();
    assert_eq!(
        columns,
        [
            ("Active", "active"),
            ("Department", "department"),
            ("Employee Number", "employee_id"),
            ("Groups", "groups"),
        ]
        .map(|(h, f)| (h.to_string(), f.to_string()))
    );
}

#[test]
fn the_parallel_section_names_the_line_of_a_bad_value() {
    let base = with_parallel();
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    for (from, to, says) in [
        (
            "required_days = 5",
            "required_days = 0",
            "required_days must be between 1 and 365",
        ),
        (
            "holidays = [\"2026-12-25\", \"2026-12-28\"]",
            "holidays = [\"2026-12-25\", \"Christmas\"]",
            "\"Christmas\" is not a date",
        ),
        (
            "active_words = [\"1\", \"0\"]",
            "active_words = [\"1\", \"1\"]",
            "two different words",
        ),
        (
            "group_separator = \"|\"",
            "group_separator = \"\"",
            "must not be empty",
        ),
        (
            "inbox = \"legacy\"",
            "inbox = \"legacy\"\nfolder = \"x\"",
            "unknown field `folder`",
        ),
        (
            "\"Groups\" = \"groups\"",
            "\"Groups\" = \"active\"",
            "names \"active\" twice",
        ),
    ] {
        let text = base.replacen(from, to, 1);
        assert_ne!(text, base, "{from} is in the example");
        let first = to.lines().last().unwrap().split(' ').next().unwrap();
        let message = problem(&text);
        assert!(message.contains(says), "{message}");
        let line = line_of(&text, first);
        assert!(
            message.starts_with(&format!("/etc/hrsync/hrsync.toml:{line}:")),
            "{message} should name line {line}"
        );
    }
}

fn with_store(keys: &str) -> String {
    EXAMPLE.replace("[store]\n", &format!("[store]\n{keys}\n"))
}

#[test]
fn the_store_is_sqlite_unless_a_postgres_url_is_given() {
    assert!(parse(EXAMPLE).unwrap().store_url.is_none());
    let config = parse(&with_store(
        "url = \"postgres://hrsync@db.internal:5432/hrsync\"\npassword_env = \"HRSYNC_PG_PASSWORD\"",
    ))
    .unwrap();
    let postgres = config.store_url.expect("the url is read");
    assert_eq!(postgres.url, "postgres://hrsync@db.internal:5432/hrsync");
    assert_eq!(postgres.password_env.as_deref(), Some("HRSYNC_PG_PASSWORD"));
    assert_eq!(
        postgres.password.as_ref().map(|p| p.expose()),
        Some("value-of-HRSYNC_PG_PASSWORD")
    );
    let shown = format!("{postgres:?}");
    assert!(!shown.contains("value-of-"), "the password shows: {shown}");
    let without_password = parse(&with_store("url = \"postgresql://hrsync@127.0.0.1/hrsync\"")).unwrap();
    assert!(without_password.store_url.unwrap().password.is_none());
}

#[test]
fn a_bad_store_url_is_refused_saying_what_is_wrong() {
    for (keys, expected) in [
        ("url = \"mysql://u@h/db\"", "must be a PostgreSQL URL"),
        ("url = \"postgres://u:hunter2@h/db\"", "holds a password"),
        ("url = \"postgres://h/db\"", "names no user"),
        ("url = \"postgres://u@h\"", "names no database"),
        (
            "url = \"postgres://u@h/db?sslmode=sometimes\"",
            "[store] url: invalid value for option `sslmode`",
        ),
        ("password_env = \"PG_PASSWORD\"", "there is no url"),
        (
            "url = \"postgres://u@h/db\"\npassword_env = \"hunter2!\"",
            "must name an environment variable",
        ),
    ] {
        let error = problem(&with_store(keys));
        assert!(error.contains(expected), "{keys}: {error}");
        assert!(!error.contains("hunter2"), "the password shows: {error}");
        assert!(error.contains("hrsync.toml:3"), "the line: {keys}: {error}");
    }
    let missing = Config::parse(
        Path::new("h.toml"),
        &with_store("url = \"postgres://u@h/db\"\npassword_env = \"HRSYNC_PG_PASSWORD\""),
        |var| (var != "HRSYNC_PG_PASSWORD").then(|| "x".to_string()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("[store] password_env") && missing.contains("HRSYNC_PG_PASSWORD"),
        "{missing}"
    );
}

#[test]
fn lease_seconds_is_fifteen_unless_said_and_checked() {
    assert_eq!(
        parse(EXAMPLE).unwrap().lease_time,
        crate::config::DEFAULT_LEASE_TIME
    );
    let said = parse(&with_store("lease_seconds = 4.5")).unwrap();
    assert_eq!(said.lease_time, std::time::Duration::from_millis(4500));
    for bad in ["0", "0.5", "-3", "7200"] {
        let error = problem(&with_store(&format!("lease_seconds = {bad}")));
        assert!(
            error.contains("[store] lease_seconds must be a number of seconds from 1 to 3600"),
            "{bad}: {error}"
        );
        assert!(error.contains("hrsync.toml:3"), "the line: {bad}: {error}");
    }
}

#[test]
fn the_store_needs_a_path_or_a_url_and_a_url_alone_will_do() {
    let without_path = EXAMPLE.replace("path = \"hrsync.db\"\n", "");
    assert_ne!(without_path, EXAMPLE, "the example's [store] path moved");
    let refused = problem(&without_path);
    assert!(
        refused.contains("[store] needs path (the SQLite file) or url (a PostgreSQL database)"),
        "{refused}"
    );
    let on_postgres = without_path.replace(
        "[store]\n",
        "[store]\nurl = \"postgres://hrsync@db.internal:5432/hrsync\"\n",
    );
    let config = parse(&on_postgres).unwrap();
    assert_eq!(
        config.store_location(),
        "postgres://hrsync@db.internal:5432/hrsync"
    );
}
