//! Flat-file mode's test helpers (`[hris] kind = "csv"`): a world whose HRIS
//! sends nightly exports, the sandbox writing one, dropping it in the engine's
//! inbox the way an upload finishes, and waiting for the engine's decision.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hrsync::model::files::{ExportFile, FileState};
use serde_json::json;

use super::sshd::{self, SshKeys, Sshd};
use super::{Options, World, start};
use hrsync::store::ExportFiles;

pub async fn file_world(employees: usize) -> World {
    start(Options {
        employees,
        hris_files: true,
        ..Options::default()
    })
    .await
}

/// How the engine reaches the inbox folder the tests drop exports in.
#[derive(Clone, Copy, Debug)]
pub enum Over {
    /// As a folder on this machine.
    Folder,
    /// As `sftp://` on a real OpenSSH server on loopback, key login, host key
    /// learned once into `known_hosts`.
    Sftp,
}

/// A [`file_world`] whose engine reads the inbox `over` a folder or SFTP, and
/// the server, stopped with it.
pub struct FileWorld {
    world: World,
    _server: Option<(Sshd, SshKeys)>,
}

impl std::ops::Deref for FileWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for FileWorld {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

pub async fn file_world_over(employees: usize, over: Over) -> FileWorld {
    let mut world = file_world(employees).await;
    let server = match over {
        Over::Folder => None,
        Over::Sftp => {
            let keys = SshKeys::new();
            let server = Sshd::start(&keys, &keys.host_key);
            world.stop().await;
            let location = format!(
                "sftp://{}@127.0.0.1:{}{}",
                sshd::current_user(),
                server.port,
                inbox(&world).display()
            );
            let known_hosts = world.dir.path().join("known_hosts");
            let feed = world.config.hris.files.as_mut().unwrap();
            feed.inbox = location;
            feed.sftp.private_key = Some(hrsync::model::Secret::new(keys.user_key.clone()));
            feed.sftp.known_hosts = Some(known_hosts);
            feed.sftp.accept_new_host_key = true;
            world.restart().await;
            Some((server, keys))
        }
    };
    FileWorld {
        world,
        _server: server,
    }
}

pub fn inbox(world: &World) -> PathBuf {
    world.dir.path().join("inbox")
}

/// Has the sandbox write an export of `kind` to a folder of its own, and returns its path.
pub async fn export(world: &World, kind: &str) -> (PathBuf, u64) {
    let staging = world.dir.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let answer = world
        .admin(
            "export",
            json!({ "kind": kind, "dir": staging.display().to_string() }),
        )
        .await;
    let path = PathBuf::from(answer["path"].as_str().expect("the export's path"));
    (path, answer["rows"].as_u64().expect("the export's row count"))
}

/// Drops a written file into the inbox the way an upload finishes: renamed in,
/// its `.done` marker after it.
pub fn drop_in(world: &World, file: &Path) -> String {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let modified = std::fs::metadata(file).unwrap().modified().unwrap();
    let target = inbox(world).join(&name);
    std::fs::copy(file, &target).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&target)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::write(inbox(world).join(format!("{name}.done")), "").unwrap();
    name
}

/// Waits until the engine has decided about `name` as `state`.
pub async fn decided(world: &World, name: &str, state: FileState) -> ExportFile {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = world.store().export_files(100).unwrap();
        if let Some(file) = files.iter().find(|f| f.name == name && f.state == state) {
            return file.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{name} was not {state} within a minute: {files:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `name` has left the inbox for `folder` (`processed` or
/// `refused`): the move follows the store's record of the decision.
pub async fn moved(world: &World, name: &str, folder: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !inbox(world).join(folder).join(name).exists() || inbox(world).join(name).exists() {
        assert!(
            Instant::now() < deadline,
            "{name} was not moved to {folder}/ within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many events of `kind` the journal holds.
pub fn events_of_kind(world: &World, kind: &str) -> usize {
    world
        .store()
        .events_page(&Default::default(), None, 100_000)
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}
