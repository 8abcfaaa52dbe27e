//! A real OpenSSH server on a loopback port for the SFTP tests: temporary host
//! and user keys made by ssh-keygen, key login as the current user, and the
//! server with its session processes killed on Drop (or on `stop`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// The keys and files a server is started from, in one temporary folder.
pub struct SshKeys {
    pub dir: tempfile::TempDir,
    pub host_key: PathBuf,
    /// The private key text of a user key the server accepts.
    pub user_key: String,
    pub authorized_keys: PathBuf,
}

/// Makes an ed25519 key pair at `path` (and `path`.pub).
pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "hrsync-test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen runs (install openssh-client)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// `SHA256:…` as OpenSSH prints it for the public key beside `path`.
pub fn fingerprint(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(path.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l runs");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).expect("a fingerprint").to_string()
}

/// The base64 body of the public key beside `path`, as known_hosts holds it.
pub fn public_key_body(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

impl SshKeys {
    pub fn new() -> SshKeys {
        let dir = tempfile::tempdir().unwrap();
        let host_key = dir.path().join("host_ed25519");
        let user = dir.path().join("user_ed25519");
        keygen(&host_key);
        keygen(&user);
        let authorized_keys = dir.path().join("authorized_keys");
        std::fs::copy(user.with_extension("pub"), &authorized_keys).unwrap();
        SshKeys {
            host_key,
            user_key: std::fs::read_to_string(&user).unwrap(),
            authorized_keys,
            dir,
        }
    }

    /// Another host key, for a server that is not the one met before.
    pub fn other_host_key(&self) -> PathBuf {
        let path = self.dir.path().join(format!("host_other_{}", rand_suffix()));
        keygen(&path);
        path
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The login name the server will accept: whoever runs the tests.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub struct Sshd {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Sshd {
    /// On a free port.
    pub fn start(keys: &SshKeys, host_key: &Path) -> Sshd {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Sshd::start_on(keys, host_key, port)
    }

    /// On `port` (a server started again where one was stopped).
    pub fn start_on(keys: &SshKeys, host_key: &Path, port: u16) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (apt-get install openssh-server; .ci/run does)"
        );
        // sshd refuses to start without its privilege separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let config = keys
            .dir
            .path()
            .join(format!("sshd_config_{port}_{}", rand_suffix()));
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile none\n\
                 AuthorizedKeysFile {authorized}\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
                host = host_key.display(),
                authorized = keys.authorized_keys.display(),
            ),
        )
        .unwrap();
        let log = config.with_extension("log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sshd starts");
        let mut sshd = Sshd {
            child: Some(child),
            port,
            log,
        };
        sshd.wait_for_port();
        sshd
    }

    fn wait_for_port(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!("sshd did not listen on {}: {}", self.port, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server and every session process it forked (they run in
    /// sessions of their own, so killing the listener alone keeps them alive).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut doomed = descendants(child.id());
        doomed.push(child.id());
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(doomed.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The processes below `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command sits in parentheses and may hold spaces: the fields after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse::<u32>().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        at += 1;
    }
    found.remove(0);
    found
}
