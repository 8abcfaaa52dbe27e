//! Where the HRIS, LMS and LRS are and what kind of system each is: the settings
//! the configuration reads and the connectors are built from.

use std::path::PathBuf;
use std::time::Duration;

use super::{ScimQuirk, Secret};

named_enum!(
    /// What fills the HRIS's roles (`[hris] kind`).
    HrisKind {
        /// A BambooHR-shaped REST API: full pull, changes since, webhooks.
        BambooHr => "bamboohr",
        /// Nightly full exports as CSV files in a folder or on an SFTP server.
        Csv => "csv",
    }
);

/// `[hris]`.
#[derive(Debug, Clone)]
pub struct HrisConnection {
    pub kind: HrisKind,
    /// `{url}/api/gateway.php/{company}/v1` (an API kind only; empty otherwise).
    pub api_base: String,
    pub api_key: Secret,
    /// The exports to take (the `csv` kind only).
    pub files: Option<ExportFeed>,
}

/// How files are taken from an inbox, the same for the HRIS's nightly exports and
/// the LMS's completion reports: where they arrive, which they are, when one is
/// whole, where rejects go, how long taken ones are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// A folder, or `sftp://user@host:port/path`.
    pub inbox: String,
    /// Which files in it are ours: a glob on the name (`*.csv`).
    pub pattern: String,
    /// A file is taken once its size and time have not changed for this long…
    pub settle: Duration,
    /// …or at once when a marker `<file><done_suffix>` is beside it.
    pub done_suffix: Option<String>,
    /// Where `<file>.rejects.csv` is written (a folder on this machine).
    pub outbox: PathBuf,
    /// Taken files stay in `processed/` this long.
    pub keep: Duration,
    /// How often the inbox is looked at.
    pub scan_every: Duration,
    pub sftp: SftpLogin,
}

/// How the HRIS's nightly exports are found and read (`[hris] kind = "csv"`).
/// The taking settings are [`Arrivals`]' (see [`ExportFeed::arrivals`]); they stay
/// flat here because callers outside the library build this struct by its fields.
#[derive(Debug, Clone)]
pub struct ExportFeed {
    /// A folder, or `sftp://user@host:port/path`.
    pub inbox: String,
    /// Which files in it are exports: a glob on the name (`*.csv`).
    pub pattern: String,
    /// File column → the contract's HRIS field (`[hris.columns]`), in file order.
    pub columns: Vec<(String, String)>,
    /// `None`: detected among `,` `;` TAB `|`.
    pub delimiter: Option<u8>,
    /// `None`: detected (UTF-8, UTF-16 with a BOM, else windows-1252).
    pub encoding: Option<String>,
    pub settle: Duration,
    pub done_suffix: Option<String>,
    pub outbox: PathBuf,
    pub keep: Duration,
    pub scan_every: Duration,
    pub sftp: SftpLogin,
}

impl ExportFeed {
    /// An export feed taking its files as `arrivals` says.
    pub fn new(
        arrivals: Arrivals,
        columns: Vec<(String, String)>,
        delimiter: Option<u8>,
        encoding: Option<String>,
    ) -> ExportFeed {
        let Arrivals {
            inbox,
            pattern,
            settle,
            done_suffix,
            outbox,
            keep,
            scan_every,
            sftp,
        } = arrivals;
        ExportFeed {
            inbox,
            pattern,
            columns,
            delimiter,
            encoding,
            settle,
            done_suffix,
            outbox,
            keep,
            scan_every,
            sftp,
        }
    }

    /// How its files are taken.
    pub fn arrivals(&self) -> Arrivals {
        Arrivals {
            inbox: self.inbox.clone(),
            pattern: self.pattern.clone(),
            settle: self.settle,
            done_suffix: self.done_suffix.clone(),
            outbox: self.outbox.clone(),
            keep: self.keep,
            scan_every: self.scan_every,
            sftp: self.sftp.clone(),
        }
    }
}

/// How an SFTP inbox logs in and checks the server's host key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SftpLogin {
    /// An OpenSSH private key's text (`key_env`).
    pub private_key: Option<Secret>,
    pub key_passphrase: Option<Secret>,
    pub password: Option<Secret>,
    /// The host keys trusted (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// An unknown host key is trusted and written to `known_hosts`; a changed one never.
    pub accept_new_host_key: bool,
}

named_enum!(
    /// What fills the LMS's learner role (`[lms] kind`).
    LmsKind {
        /// SCIM 2.0: learners found, created and replaced over HTTP.
        Scim => "scim",
        /// A CSV user feed the LMS imports: a full snapshot written to a folder.
        Csv => "csv",
    }
);

/// `[lms]`.
#[derive(Debug, Clone)]
pub struct LmsConnection {
    pub kind: LmsKind,
    /// The SCIM base URL (the `scim` kind only; empty otherwise).
    pub scim_url: String,
    pub token: Secret,
    /// Learning paths the triggers need and the LMS lacks are created (`[lms] create_groups`).
    pub create_groups: bool,
    /// Where the server departs from SCIM in ways it does not say (`[lms] quirks`).
    pub quirks: Vec<ScimQuirk>,
    /// How the user feed is written (the `csv` kind only).
    pub feed: Option<LearnerFeed>,
}

/// The LMS as a CSV user feed (`[lms] kind = "csv"`): where the snapshot of the
/// desired learners is written, in which columns, and where it is uploaded.
#[derive(Debug, Clone)]
pub struct LearnerFeed {
    /// The folder the feed is written to (on this machine).
    pub outbox: PathBuf,
    /// The feed's file name in the outbox (and on the upload server).
    pub file_name: String,
    /// (header, learner attribute) in file order (`[lms.columns]`); attributes
    /// are SCIM paths, or `active` and `groups`.
    pub columns: Vec<(String, String)>,
    /// The cells for an active and an inactive learner.
    pub active_words: (String, String),
    /// Joins a learner's groups in the groups column.
    pub group_separator: String,
    /// The feed is written at least this often, changed or not.
    pub every: Duration,
    /// `sftp://user@host:port/path`: a folder the feed is also uploaded to.
    pub upload: Option<String>,
    /// Where the LMS's own user export is dropped (a folder or `sftp://`), for reconciliation.
    pub inbox: Option<String>,
    /// How `upload` and an `sftp://` inbox log in.
    pub sftp: SftpLogin,
}

named_enum!(
    /// What fills the completion source (`[lrs] kind`).
    LrsKind {
        /// An xAPI Learning Record Store, read by `GET /xAPI/statements`.
        Xapi => "xapi",
        /// The LMS's completion reports as CSV files in a folder or on an SFTP server.
        Csv => "csv",
    }
);

/// `[lrs]`.
#[derive(Debug, Clone)]
pub struct LrsConnection {
    pub kind: LrsKind,
    /// The LRS's endpoint (the `xapi` kind; empty otherwise).
    pub url: String,
    pub user: Secret,
    pub password: Secret,
    /// How often new statements are read (`[lrs] poll_interval_s`, default 30), or
    /// for the `csv` kind how often the inbox is looked at (`scan_every_s`).
    pub poll_interval: Duration,
    /// How far before its cursor each read starts again (`[lrs] overlap_s`, default
    /// 600): LRSs that compare `since` with the statement's own time, or show a
    /// statement a little after storing it, are read without a gap.
    pub overlap: Duration,
    /// Where the completion reports arrive (the `csv` kind only); their columns
    /// are mapped in the contract's `[writeback.report_columns]`.
    pub reports: Option<Arrivals>,
}
