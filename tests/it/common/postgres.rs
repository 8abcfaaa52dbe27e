//! A throwaway PostgreSQL for the store's tests: a cluster made by initdb in a
//! temporary folder (as a user other than root: PostgreSQL refuses root), its
//! server on a free loopback port with its socket in that folder, a database per
//! test, and the server stopped once the last test holding it ends (a panic too).
//! Without PostgreSQL a test skips, saying why, except under CI, where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak, mpsc};
use std::time::{Duration, Instant};

use hrsync::model::Secret;

/// Who runs the server when the tests run as root.
const SERVER_USER: &str = "hrsync-pg";
/// The cluster's superuser, whom the tests connect as, with a password.
const ROLE: &str = "hrsync";

/// One database of the shared cluster, for one test.
pub struct TestDatabase {
    _cluster: Arc<Cluster>,
    /// `postgres://hrsync@127.0.0.1:PORT/NAME`: no password in it, as in `[store] url`.
    pub url: String,
    pub password: Secret,
}

struct Cluster {
    dir: tempfile::TempDir,
    server: Mutex<Child>,
    /// The thread that started the server, and what ends it.
    keeper: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    port: u16,
    password: String,
}

/// A fresh database on the tests' cluster (started if none runs), or `None` when
/// PostgreSQL is not installed here and CI is not set (the reason is printed).
pub fn database() -> Option<TestDatabase> {
    static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let bin = match binaries() {
        Ok(bin) => bin,
        Err(reason) if !under_ci() => {
            eprintln!("skipped on PostgreSQL: {reason}");
            return None;
        }
        Err(reason) => {
            panic!("{reason} (CI is set: the PostgreSQL variant may not skip; .ci/run installs it)")
        }
    };
    let cluster = {
        let mut shared = SHARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match shared.upgrade() {
            Some(cluster) => cluster,
            None => {
                let cluster = Arc::new(Cluster::start(&bin));
                *shared = Arc::downgrade(&cluster);
                cluster
            }
        }
    };
    let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = cluster.connect("postgres").expect("the tests' cluster answers");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("a test database is created");
    Some(TestDatabase {
        url: format!("postgres://{ROLE}@127.0.0.1:{}/{name}", cluster.port),
        password: Secret::new(cluster.password.clone()),
        _cluster: cluster,
    })
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The folder holding `initdb` and `postgres`: on the PATH, or where Debian puts them.
fn binaries() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin"))
        .collect();
    debian.sort_by_key(|dir| std::cmp::Reverse(dir.to_string_lossy().into_owned()));
    candidates.extend(debian);
    candidates
        .iter()
        .filter_map(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| dir.join("postgres").exists())
        .ok_or_else(|| {
            "PostgreSQL is not installed (no initdb and postgres on the PATH or in /usr/lib/postgresql)"
                .into()
        })
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Whom the server runs as: ourselves (`None`), or as root `SERVER_USER`, made if missing.
fn server_user() -> Option<&'static str> {
    static USER: OnceLock<Option<&'static str>> = OnceLock::new();
    *USER.get_or_init(|| {
        if !is_root() {
            return None;
        }
        let exists = || {
            Command::new("id")
                .arg(SERVER_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        if !exists().is_ok_and(|s| s.success()) {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(SERVER_USER)
                .status();
            assert!(
                exists().is_ok_and(|s| s.success()),
                "cannot make the user {SERVER_USER} to run PostgreSQL as (it refuses root)"
            );
        }
        Some(SERVER_USER)
    })
}

/// A command run as the server's user, killed if the thread that started it
/// ends: a test process that aborts leaves no server behind.
fn as_server_user(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command.arg("--pdeathsig=KILL");
    if let Some(user) = server_user() {
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={user}"))
            .arg("--clear-groups");
    }
    command.arg("--").arg(program);
    command
}

impl Cluster {
    fn start(bin: &Path) -> Cluster {
        let dir = tempfile::Builder::new().prefix("hrsync-pg-").tempdir().unwrap();
        let password = format!("{:032x}", rand::random::<u128>());
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, &password).unwrap();
        let (data, sockets) = (dir.path().join("data"), dir.path().join("sockets"));
        std::fs::create_dir(&sockets).unwrap();
        if let Some(user) = server_user() {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:{user}"))
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "cannot give {} to {user}", dir.path().display());
        }
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", ROLE, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("server.log");
        // Throwaway data: nothing need reach the disk.
        let mut server = as_server_user(&bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(&sockets)
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        // The server's parent is a thread that lives as long as the cluster, not
        // the test's thread, which may end first (see `as_server_user`).
        let (started, spawned) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let keeper = std::thread::spawn(move || {
            let _ = started.send(server.spawn());
            let _ = stopped.recv();
        });
        let server = spawned.recv().unwrap().expect("postgres starts");
        let cluster = Cluster {
            dir,
            server: Mutex::new(server),
            keeper: Some((stop, keeper)),
            port,
            password,
        };
        cluster.wait_until_ready(&log);
        cluster
    }

    fn connect(&self, database: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(ROLE)
            .password(&self.password)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5))
            .connect(postgres::NoTls)
    }

    fn wait_until_ready(&self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.connect("postgres").is_ok() {
                return;
            }
            let exited = self.server.lock().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "PostgreSQL did not take connections on port {}: {}",
                    self.port,
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    /// A fast shutdown (SIGINT: sessions are cut, nothing waits for them), then
    /// SIGKILL if the server is still there after a while.
    fn drop(&mut self) {
        let server = self
            .server
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = Command::new("kill")
            .args(["-INT", &server.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = server.kill();
                let _ = server.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some((stop, keeper)) = self.keeper.take() {
            drop(stop);
            let _ = keeper.join();
        }
    }
}
