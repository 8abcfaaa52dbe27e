//! Flat-file mode (`[hris] kind = "csv"`): the sandbox writes nightly exports the
//! way an HRIS does (BOM, CRLF, quoted newlines), they are dropped in the engine's
//! inbox folder, and each is compared with the one before: employees inserted,
//! updated, and missing (deactivated, never deleted); bad rows rejected with their
//! line; truncated files held whole, stale ones refused, growing ones waited for,
//! and the same file dropped twice applied once.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::exports::{
    Over, decided, drop_in, events_of_kind, export, file_world, file_world_over, inbox, moved,
};
use common::{Options, in_scope_and_employed};
use hrsync::model::files::FileState;
use hrsync::store::ExportFiles;

/// Rows of a CSV export as (header, records), the BOM taken off.
fn read_rows(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let bytes = std::fs::read(path).unwrap();
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut reader = csv::Reader::from_reader(text);
    let header = reader.headers().unwrap().clone();
    (header, reader.records().map(Result::unwrap).collect())
}

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// Writes rows as an export named `name`, with CRLF line ends.
fn write_export(dir: &Path, name: &str, header: &csv::StringRecord, rows: &[Vec<String>]) -> PathBuf {
    let path = dir.join(name);
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_path(&path)
        .unwrap();
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.flush().unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_provision_then_update_deactivate_and_reject_by_line() {
    exports_provision_then_update_deactivate_and_reject_by_line_over(Over::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_provision_then_update_deactivate_and_reject_by_line_over_sftp() {
    exports_provision_then_update_deactivate_and_reject_by_line_over(Over::Sftp).await;
}

async fn exports_provision_then_update_deactivate_and_reject_by_line_over(over: Over) {
    let world = file_world_over(300, over).await;
    let (first, rows) = export(&world, "full").await;
    let name = drop_in(&world, &first);
    let taken = decided(&world, &name, FileState::Taken).await;
    assert_eq!(taken.counts.rows, rows);
    assert_eq!(taken.counts.inserted + taken.counts.rejected, rows, "{taken:?}");
    moved(&world, &name, "processed").await;
    world.settle().await;

    // Every in-scope employee is provisioned, nobody else.
    let hris = world.hris().await;
    let learners = world.learners().await;
    for (id, employee) in &hris {
        if in_scope_and_employed(employee) && !world.refused_as_email_twin(id, &learners) {
            let learner = learners
                .get(id)
                .unwrap_or_else(|| panic!("employee {id} has no learner"));
            assert_eq!(learner["active"], true, "{learner}");
        } else if !in_scope_and_employed(employee) {
            assert!(
                learners.get(id).is_none_or(|l| l["active"] == false),
                "{id}: {employee}"
            );
        }
    }

    // The next night: two people gone, one changed, one malformed row.
    let (header, records) = read_rows(&first);
    let id_at = column(&header, "Employee ID");
    let title_at = column(&header, "Job Title");
    let active: Vec<&csv::StringRecord> = records
        .iter()
        .filter(|r| learners.get(&r[id_at]).is_some_and(|l| l["active"] == true))
        .collect();
    let gone: Vec<String> = active[..2].iter().map(|r| r[id_at].to_string()).collect();
    let changed = active[2][id_at].to_string();
    let mut next: Vec<Vec<String>> = Vec::new();
    for record in &records {
        if gone.iter().any(|g| g == &record[id_at]) {
            continue;
        }
        let mut row: Vec<String> = record.iter().map(str::to_string).collect();
        if record[id_at] == changed {
            row[title_at] = "Chief Flat-File Officer".into();
        }
        next.push(row);
    }
    next.insert(10, vec!["99999".into(), "too few fields".into()]);
    // The reject names the physical line the row starts on (quoted newlines count).
    let staging = world.dir.path().join("staging");
    let second = write_export(&staging, "hris-next.csv", &header, &next);
    let name = drop_in(&world, &second);
    let taken = decided(&world, &name, FileState::Taken).await;
    assert_eq!(taken.counts.missing, 2, "{taken:?}");
    assert_eq!(taken.counts.updated, 1, "{taken:?}");
    assert_eq!(taken.counts.rejected, 1, "{taken:?}");
    assert_eq!(taken.counts.inserted, 0, "{taken:?}");
    world.settle().await;

    let learners = world.learners().await;
    for id in &gone {
        let learner = learners.get(id).expect("a missing employee's learner is kept");
        assert_eq!(learner["active"], false, "deactivated, not deleted: {learner}");
    }
    assert_eq!(learners[&changed]["title"], "Chief Flat-File Officer");
    let rejects = std::fs::read_to_string(
        world
            .dir
            .path()
            .join("outbox")
            .join(format!("{name}.rejects.csv")),
    )
    .expect("the rejects file");
    assert!(rejects.starts_with("line,employee_id,field,reason"), "{rejects}");
    let expected_line = {
        // The physical line the row starts on, quoted newlines before it counted.
        let text = std::fs::read_to_string(&second).unwrap();
        let at = text.find("99999,too few fields").unwrap();
        text[..at].matches('\n').count() + 1
    };
    assert!(
        rejects
            .lines()
            .any(|l| l.starts_with(&format!("{expected_line},"))),
        "the reject names line {expected_line}:\n{rejects}"
    );
    let missing_events = events_of_kind(&world, "Missing");
    assert_eq!(missing_events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_export_is_held_whole_until_an_operator_confirms_it() {
    a_truncated_export_is_held_whole_until_an_operator_confirms_it_over(Over::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_export_is_held_whole_until_an_operator_confirms_it_over_sftp() {
    a_truncated_export_is_held_whole_until_an_operator_confirms_it_over(Over::Sftp).await;
}

async fn a_truncated_export_is_held_whole_until_an_operator_confirms_it_over(over: Over) {
    let world = file_world_over(300, over).await;
    let (first, _) = export(&world, "full").await;
    decided(&world, &drop_in(&world, &first), FileState::Taken).await;
    world.settle().await;
    let active_before = world
        .learners()
        .await
        .values()
        .filter(|l| l["active"] == true)
        .count();

    let (truncated, rows) = export(&world, "truncated").await;
    let name = drop_in(&world, &truncated);
    let held = decided(&world, &name, FileState::Held).await;
    assert_eq!(held.counts.rows, rows);
    assert!(held.reason.as_deref().unwrap().contains("truncated"), "{held:?}");
    // Looked at again and again, it stays held, and nobody is deactivated.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(events_of_kind(&world, "Missing"), 0);
    assert!(
        inbox(&world).join(&name).exists(),
        "a held file stays in the inbox"
    );
    let active_now = world
        .learners()
        .await
        .values()
        .filter(|l| l["active"] == true)
        .count();
    assert_eq!(active_now, active_before);

    // Confirmed, it is taken: its missing employees are journaled, and as many
    // deactivations at once wait for the safety threshold's confirmation too.
    let confirmed = hrsync::engine::intake::files::confirm_held(
        world.store(),
        held.id,
        "ops",
        "the HR team cut the workforce",
    )
    .unwrap();
    assert_eq!(confirmed.state, FileState::Confirmed);
    let taken = decided(&world, &name, FileState::Taken).await;
    assert!(taken.counts.missing > 50, "{taken:?}");
    assert_eq!(events_of_kind(&world, "Missing") as u64, taken.counts.missing);
    assert!(world.store().counts().unwrap().held > 0);
    let audit = world
        .store()
        .audit_page(
            &hrsync::store::AuditFilter {
                action: Some("file.confirm".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_export_is_refused_and_the_same_one_twice_applies_once() {
    a_stale_export_is_refused_and_the_same_one_twice_applies_once_over(Over::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_export_is_refused_and_the_same_one_twice_applies_once_over_sftp() {
    a_stale_export_is_refused_and_the_same_one_twice_applies_once_over(Over::Sftp).await;
}

async fn a_stale_export_is_refused_and_the_same_one_twice_applies_once_over(over: Over) {
    let world = file_world_over(120, over).await;
    let (first, _) = export(&world, "full").await;
    let name = drop_in(&world, &first);
    decided(&world, &name, FileState::Taken).await;
    world.settle().await;
    let events = world.store().counts().unwrap().total;

    // A late copy of an old export.
    let (stale, _) = export(&world, "stale").await;
    let stale_name = drop_in(&world, &stale);
    let refused = decided(&world, &stale_name, FileState::Refused).await;
    assert!(
        refused.reason.as_deref().unwrap().starts_with("stale"),
        "{refused:?}"
    );
    moved(&world, &stale_name, "refused").await;

    // The first export dropped again: already taken, only tidied away.
    let again = drop_in(&world, &inbox(&world).join("processed").join(&name));
    let deadline = Instant::now() + Duration::from_secs(30);
    while inbox(&world).join(&again).exists() {
        assert!(Instant::now() < deadline, "the second drop was not tidied away");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same content under a new name and time: nothing differs.
    let copy = world.dir.path().join("staging").join("hris-copy.csv");
    std::fs::copy(&first, &copy).unwrap();
    let copy_name = drop_in(&world, &copy);
    let copy_taken = decided(&world, &copy_name, FileState::Taken).await;
    assert_eq!(
        copy_taken.counts.unchanged + copy_taken.counts.rejected,
        copy_taken.counts.rows
    );
    assert_eq!(
        world.store().counts().unwrap().total,
        events,
        "nothing journaled twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_still_being_written_is_taken_only_once_it_settles() {
    a_file_still_being_written_is_taken_only_once_it_settles_over(Over::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_still_being_written_is_taken_only_once_it_settles_over_sftp() {
    a_file_still_being_written_is_taken_only_once_it_settles_over(Over::Sftp).await;
}

async fn a_file_still_being_written_is_taken_only_once_it_settles_over(over: Over) {
    let world = file_world_over(200, over).await;
    let (full, rows) = export(&world, "full").await;
    let bytes = std::fs::read(&full).unwrap();
    // Written in pieces, without a marker, faster than the 300 ms it must stay still.
    let target = inbox(&world).join("growing.csv");
    let mut file = std::fs::File::create(&target).unwrap();
    let pieces = bytes.chunks(bytes.len() / 10 + 1).collect::<Vec<_>>();
    for piece in &pieces {
        use std::io::Write;
        file.write_all(piece).unwrap();
        file.flush().unwrap();
        let until = Instant::now() + Duration::from_millis(120);
        while Instant::now() < until {
            assert!(
                world.store().export_files(10).unwrap().is_empty(),
                "a file still growing was decided on"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(file);
    let taken = decided(&world, "growing.csv", FileState::Taken).await;
    assert_eq!(taken.counts.rows, rows, "the whole file, not a piece of it");
}

#[test]
fn the_sandbox_columns_cover_what_the_contract_reads() {
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let mapped: Vec<&str> = hrsync::sandbox::export::EXPORT_COLUMNS
        .iter()
        .map(|(_, f)| *f)
        .collect();
    for rule in &contract.fields {
        assert!(
            mapped.contains(&rule.hris.as_str()),
            "no column for {}",
            rule.hris
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_taking_an_export_loses_nothing_and_applies_nothing_twice() {
    a_killed_engine_taking_an_export_loses_nothing_and_applies_nothing_twice_over(Over::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_taking_an_export_loses_nothing_and_applies_nothing_twice_over_sftp() {
    a_killed_engine_taking_an_export_loses_nothing_and_applies_nothing_twice_over(Over::Sftp).await;
}

async fn a_killed_engine_taking_an_export_loses_nothing_and_applies_nothing_twice_over(over: Over) {
    use crate::common::sshd::{self, SshKeys, Sshd};
    let world = common::start_for_binary(Options {
        employees: 1500,
        hris_files: true,
        retry_attempts: 30,
        ..Options::default()
    })
    .await;
    // Over SFTP: the same inbox folder as sftp:// on a loopback sshd, the key
    // from the environment as an operator would give it.
    let mut env = Vec::new();
    let _server = match over {
        Over::Folder => None,
        Over::Sftp => {
            let keys = SshKeys::new();
            let server = Sshd::start(&keys, &keys.host_key);
            let path = world.dir.path().join("hrsync.toml");
            let location = format!(
                "sftp://{}@127.0.0.1:{}{}",
                sshd::current_user(),
                server.port,
                inbox(&world).display()
            );
            let text = std::fs::read_to_string(&path).unwrap().replace(
                "inbox = \"inbox\"\n",
                &format!(
                    "inbox = \"{location}\"\nkey_env = \"T_SFTP_KEY\"\n\
                     known_hosts = \"known_hosts\"\naccept_new_host_key = true\n"
                ),
            );
            assert!(text.contains("T_SFTP_KEY"), "{text}");
            std::fs::write(&path, text).unwrap();
            env.push(("T_SFTP_KEY", keys.user_key.clone()));
            Some((server, keys))
        }
    };
    let mut engine = world.spawn_binary_with(&env);
    let (full, _) = export(&world, "full").await;
    let name = drop_in(&world, &full);
    // Killed while the export's changes are being applied.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = world.store().counts().unwrap();
        if counts.applied >= 100 {
            assert!(counts.pending > 0, "killed too late to test anything: {counts:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the export was not applied: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    engine.kill().expect("SIGKILL");
    engine.wait().unwrap();
    // The same file again, while it is down (an upload that was retried).
    std::fs::copy(&full, inbox(&world).join("again.csv")).unwrap();

    let mut engine = world.spawn_binary_with(&env);
    decided(&world, &name, FileState::Taken).await;
    decided(&world, "again.csv", FileState::Taken).await;
    world.settle_until(Duration::from_secs(120), |_| true).await;
    engine.kill().expect("SIGKILL");
    engine.wait().unwrap();

    // Nothing is due (what is pending waits for a hire date or a held duplicate).
    let counts = world.store().counts().unwrap();
    let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
    assert!(world.store().ready(horizon, 1).unwrap().is_empty(), "{counts:?}");
    assert_eq!(counts.retrying + counts.dead_letters, 0, "{counts:?}");
    let again = world
        .store()
        .export_files(10)
        .unwrap()
        .into_iter()
        .find(|f| f.name == "again.csv")
        .unwrap();
    assert_eq!(
        again.counts.inserted + again.counts.updated + again.counts.missing,
        0,
        "{again:?}"
    );
    world.assert_one_create_or_adopt_per_learner().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    for (id, employee) in &hris {
        if in_scope_and_employed(employee) && !world.refused_as_email_twin(id, &learners) {
            assert!(learners.contains_key(id), "employee {id} has no learner");
        }
    }
    world
        .store()
        .verify_audit()
        .unwrap()
        .expect("the audit chain is intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_taken_over_sftp_from_a_real_sshd_checking_its_host_key() {
    use crate::common::sshd::{self, SshKeys, Sshd};
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let mut world = file_world(200).await;
    world.stop().await;
    // The same inbox folder, now reached over SFTP: an unknown host key is refused…
    let known_hosts = world.dir.path().join("known_hosts");
    let location = format!(
        "sftp://{}@127.0.0.1:{}{}",
        sshd::current_user(),
        server.port,
        inbox(&world).display()
    );
    let feed = world.config.hris.files.as_mut().unwrap();
    feed.inbox = location;
    feed.sftp.private_key = Some(hrsync::model::Secret::new(keys.user_key.clone()));
    feed.sftp.known_hosts = Some(known_hosts.clone());
    feed.sftp.accept_new_host_key = false;
    world.restart().await;
    let (full, rows) = export(&world, "full").await;
    let name = drop_in(&world, &full);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = hrsync::engine::operator::status::EngineStatus::read(world.store()).unwrap();
        let text = serde_json::to_string(&status).unwrap();
        if text.contains("host key") {
            assert!(text.contains(&sshd::fingerprint(&keys.host_key)), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no host-key refusal in the status: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        world.store().export_files(10).unwrap().is_empty(),
        "nothing is taken from an unknown host"
    );
    world.stop().await;

    // …and trusted when the operator says so: written to known_hosts, then taken.
    world.config.hris.files.as_mut().unwrap().sftp.accept_new_host_key = true;
    world.restart().await;
    let taken = decided(&world, &name, FileState::Taken).await;
    assert_eq!(taken.counts.rows, rows);
    assert!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .contains("127.0.0.1")
    );
    moved(&world, &name, "processed").await;
    world.settle().await;
    let learners = world.learners().await;
    let hris = world.hris().await;
    let provisioned = hris
        .iter()
        .filter(|(id, e)| in_scope_and_employed(e) && learners.get(*id).is_some_and(|l| l["active"] == true))
        .count();
    assert!(provisioned > 100, "{provisioned} provisioned over SFTP");
    drop(server);
}
