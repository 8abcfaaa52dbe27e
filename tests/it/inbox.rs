//! The file inbox on a real local folder: the same checks run on every kind, and
//! each looks at the files on disk, not only at what the inbox says back.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hrsync::connectors::inbox::{self, Inbox, SftpAuth};

/// A fixed, whole-second mtime (SFTP carries seconds only).
const MTIME_SECS: u64 = 1_704_164_645; // 2024-01-02T03:04:05Z

fn put(root: &Path, name: &str, bytes: &[u8]) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS))
        .unwrap();
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Everything both kinds must do, checked against the folder `root` the inbox serves.
pub async fn behaves_as_an_inbox(inbox: Arc<dyn Inbox>, root: &Path) {
    put(root, "a.csv", b"id,name\n1,Ada\n");
    put(root, "b.csv", b"id\n");
    put(root, "sub/inner.csv", b"x");

    let listed = inbox.list("").await.expect("list the inbox");
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["a.csv", "b.csv"],
        "files only, folders left out: {listed:?}"
    );
    assert_eq!(listed[0].size, 14);
    assert_eq!(listed[0].modified.as_second(), MTIME_SECS as i64);
    assert_eq!(inbox.list("sub").await.unwrap()[0].name, "inner.csv");

    assert_eq!(inbox.read("a.csv").await.unwrap(), b"id,name\n1,Ada\n");
    let missing = inbox.read("nope.csv").await.expect_err("a missing file");
    assert!(!missing.is_transient(), "{missing}");
    assert!(missing.to_string().contains("nope.csv"), "{missing}");

    // A write makes its folder, lands whole, only the owner can read it, and
    // leaves no temporary file behind.
    inbox.write("out/feed.csv", b"first").await.expect("write");
    assert_eq!(std::fs::read(root.join("out/feed.csv")).unwrap(), b"first");
    #[cfg(unix)]
    assert_eq!(mode(&root.join("out/feed.csv")), 0o600);
    inbox
        .write("out/feed.csv", b"second, longer")
        .await
        .expect("overwrite");
    assert_eq!(
        std::fs::read(root.join("out/feed.csv")).unwrap(),
        b"second, longer"
    );
    assert_eq!(names_in(&root.join("out")), ["feed.csv"]);

    a_reader_never_sees_half_a_file(&inbox, root).await;

    // Into processed/, made on the way, and replacing what is there.
    inbox
        .rename("a.csv", "processed/a.csv")
        .await
        .expect("rename into processed/");
    assert!(!root.join("a.csv").exists());
    assert_eq!(
        std::fs::read(root.join("processed/a.csv")).unwrap(),
        b"id,name\n1,Ada\n"
    );
    inbox
        .rename("b.csv", "processed/a.csv")
        .await
        .expect("rename over a file");
    assert_eq!(std::fs::read(root.join("processed/a.csv")).unwrap(), b"id\n");
    assert!(!root.join("b.csv").exists());

    inbox.remove("processed/a.csv").await.expect("remove");
    assert!(!root.join("processed/a.csv").exists());
    let again = inbox
        .remove("processed/a.csv")
        .await
        .expect_err("removing it twice");
    assert!(!again.is_transient(), "{again}");

    // Nothing leaves the inbox, and nothing was made outside it.
    let outside = root.parent().unwrap().join("x");
    for refused in [
        inbox.read("../x").await.map(|_| ()),
        inbox.write("../x", b"no").await,
        inbox.rename("out/feed.csv", "../x").await,
        inbox.list("../").await.map(|_| ()),
    ] {
        let error = refused.expect_err("a path out of the inbox");
        assert!(!error.is_transient());
        assert!(error.to_string().contains("\"../"), "the path is named: {error}");
    }
    assert!(!outside.exists());
    assert!(
        root.join("out/feed.csv").exists(),
        "a refused rename moved nothing"
    );
}

/// A reader polling the target while a large file is rewritten sees the old
/// whole file or the new whole file, never a part.
async fn a_reader_never_sees_half_a_file(inbox: &Arc<dyn Inbox>, root: &Path) {
    const SIZE: usize = 1 << 20;
    const REWRITES: usize = 21;
    inbox.write("big.csv", &vec![b'a'; SIZE]).await.unwrap();
    let target = root.join("big.csv");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let seen = std::fs::read(&target).unwrap();
                assert_eq!(seen.len(), SIZE, "a part of the file was visible");
                assert!(seen.iter().all(|b| *b == seen[0]), "old and new mixed");
                reads += 1;
                if finished {
                    return reads;
                }
            }
        })
    };
    // Rewritten a few times, so an in-place write would be caught in the act.
    for round in 0..REWRITES {
        let fill = if round % 2 == 0 { b'b' } else { b'a' };
        inbox.write("big.csv", &vec![fill; SIZE]).await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw only whole files");
    assert!(reads > 0);
    assert_eq!(std::fs::read(root.join("big.csv")).unwrap(), vec![b'b'; SIZE]);
    inbox.remove("big.csv").await.unwrap();
}

#[tokio::test]
async fn a_local_folder_is_an_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("exports");
    std::fs::create_dir(&root).unwrap();
    let location = root.to_str().unwrap();
    let inbox = inbox::open(location, &SftpAuth::default()).await.unwrap();
    assert_eq!(inbox.location(), location);
    behaves_as_an_inbox(inbox, &root).await;
}

#[tokio::test]
async fn a_missing_folder_is_a_permanent_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not-there");
    let inbox = inbox::open(root.to_str().unwrap(), &SftpAuth::default())
        .await
        .unwrap();
    let error = inbox.list("").await.expect_err("no such folder");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("not-there"), "{error}");
}

// ---- the same over SFTP, against a real sshd ----

use crate::common::sshd::{self, SshKeys, Sshd};
use hrsync::model::Secret;

fn sftp_auth(keys: &SshKeys, known_hosts: &Path, accept_new: bool) -> SftpAuth {
    SftpAuth {
        private_key: Some(Secret::new(keys.user_key.clone())),
        known_hosts: Some(known_hosts.to_path_buf()),
        accept_new_host_key: accept_new,
        ..SftpAuth::default()
    }
}

fn sftp_location(server: &Sshd, root: &Path) -> String {
    format!(
        "sftp://{}@127.0.0.1:{}{}",
        sshd::current_user(),
        server.port,
        root.display()
    )
}

/// A folder on the server (this machine) to serve, and a known_hosts beside it.
fn served() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("exports");
    std::fs::create_dir(&root).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    (dir, root, known_hosts)
}

#[tokio::test]
async fn an_sftp_folder_is_an_inbox() {
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let (_dir, root, known_hosts) = served();
    let location = sftp_location(&server, &root);
    let inbox = inbox::open(&location, &sftp_auth(&keys, &known_hosts, true))
        .await
        .unwrap();
    assert_eq!(inbox.location(), location);
    behaves_as_an_inbox(inbox, &root).await;
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_naming_host_fingerprint_and_file() {
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let (_dir, root, known_hosts) = served();
    let inbox = inbox::open(
        &sftp_location(&server, &root),
        &sftp_auth(&keys, &known_hosts, false),
    )
    .await
    .unwrap();
    let error = inbox.list("").await.expect_err("an unknown host");
    let message = error.to_string();
    assert!(!error.is_transient(), "{message}");
    assert!(
        message.contains(&format!("[127.0.0.1]:{} is not known", server.port)),
        "{message}"
    );
    assert!(message.contains(&sshd::fingerprint(&keys.host_key)), "{message}");
    assert!(message.contains(&known_hosts.display().to_string()), "{message}");
    assert!(!known_hosts.exists(), "nothing was learned");
}

#[tokio::test]
async fn a_new_host_key_is_learned_when_accepted_and_then_known() {
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let (_dir, root, known_hosts) = served();
    let location = sftp_location(&server, &root);
    let learning = inbox::open(&location, &sftp_auth(&keys, &known_hosts, true))
        .await
        .unwrap();
    assert_eq!(learning.list("").await.unwrap(), []);
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    let expected = format!(
        "[127.0.0.1]:{} ssh-ed25519 {}",
        server.port,
        sshd::public_key_body(&keys.host_key)
    );
    assert_eq!(recorded.trim_end(), expected);

    let strict = inbox::open(&location, &sftp_auth(&keys, &known_hosts, false))
        .await
        .unwrap();
    strict.write("x.csv", b"1").await.expect("the key is known now");
    assert_eq!(std::fs::read(root.join("x.csv")).unwrap(), b"1");
}

#[tokio::test]
async fn a_changed_host_key_is_refused_even_when_new_keys_are_accepted() {
    let keys = SshKeys::new();
    let impostor_key = keys.other_host_key();
    let server = Sshd::start(&keys, &impostor_key);
    let (_dir, root, known_hosts) = served();
    let recorded = format!(
        "[127.0.0.1]:{} ssh-ed25519 {}\n",
        server.port,
        sshd::public_key_body(&keys.host_key)
    );
    std::fs::write(&known_hosts, &recorded).unwrap();
    let inbox = inbox::open(
        &sftp_location(&server, &root),
        &sftp_auth(&keys, &known_hosts, true),
    )
    .await
    .unwrap();
    let error = inbox.read("x.csv").await.expect_err("a changed host key");
    let message = error.to_string();
    assert!(!error.is_transient(), "{message}");
    assert!(
        message.contains(&format!("[127.0.0.1]:{} has CHANGED", server.port)),
        "{message}"
    );
    assert!(message.contains(&sshd::fingerprint(&impostor_key)), "{message}");
    assert!(
        message.contains(&format!("{} line 1", known_hosts.display())),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        recorded,
        "known_hosts untouched"
    );
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_refused() {
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let (dir, root, known_hosts) = served();
    let stranger = dir.path().join("stranger");
    sshd::keygen(&stranger);
    let auth = SftpAuth {
        private_key: Some(Secret::new(std::fs::read_to_string(&stranger).unwrap())),
        ..sftp_auth(&keys, &known_hosts, true)
    };
    let inbox = inbox::open(&sftp_location(&server, &root), &auth).await.unwrap();
    let error = inbox.list("").await.expect_err("a key not in authorized_keys");
    let message = error.to_string();
    assert!(!error.is_transient(), "{message}");
    assert!(message.contains("refused the key SHA256:"), "{message}");
    assert!(message.contains(&sshd::fingerprint(&stranger)), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");
}

#[tokio::test]
async fn a_server_that_goes_away_is_transient_and_reconnected_when_back() {
    let keys = SshKeys::new();
    let mut server = Sshd::start(&keys, &keys.host_key);
    let port = server.port;
    let (_dir, root, known_hosts) = served();
    put(&root, "a.csv", b"1");
    let inbox = inbox::open(
        &sftp_location(&server, &root),
        &sftp_auth(&keys, &known_hosts, true),
    )
    .await
    .unwrap();
    assert_eq!(inbox.read("a.csv").await.unwrap(), b"1");

    server.stop();
    let error = inbox.read("a.csv").await.expect_err("the server is gone");
    assert!(error.is_transient(), "{error}");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );

    let mut back = Sshd::start_on(&keys, &keys.host_key, port);
    assert_eq!(inbox.read("a.csv").await.expect("reconnected"), b"1");

    // Dropped and back before the next operation: it reconnects without an error.
    back.stop();
    let _again = Sshd::start_on(&keys, &keys.host_key, port);
    assert_eq!(
        inbox.read("a.csv").await.expect("reconnected once, quietly"),
        b"1"
    );
}
