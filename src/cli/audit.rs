//! Audit keys for the command line: the key a writing command appends with, the keys
//! `hrsync audit verify` checks with, and `audit verify` / `audit checkpoint`, whose
//! checkpoint goes outside the store (a file, 0600, written atomically, or stdout).

use super::out::{print_json, progress, say};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::ops::StoreArgs;
use crate::config::Config;
use crate::model::Secret;
use crate::store::{AuditBreak, AuditCheckpoint, AuditKey, AuditReport, Store};

/// Where the key is when the store is named by `--db` alone.
pub const DEFAULT_KEY_ENV: &str = "HRSYNC_AUDIT_KEY";

/// The variables holding the current key and the retired ones: the configuration's
/// `[audit]`, or HRSYNC_AUDIT_KEY without a configuration.
fn key_vars(config: Option<&Path>) -> anyhow::Result<(Option<String>, Vec<String>)> {
    let Some(path) = config else {
        return Ok((Some(DEFAULT_KEY_ENV.into()), Vec::new()));
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // Only the variables' names are wanted here: any value stands in for the secrets.
    let config = Config::parse(path, &text, |_| Some("unused".into()))?;
    Ok((config.audit.key_env, config.audit.previous_key_envs))
}

/// The key in the variable `var`; none when it is unset or empty.
fn key_in(var: &str) -> anyhow::Result<Option<AuditKey>> {
    let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| anyhow::anyhow!("the audit key in {var} is not UTF-8"))?;
    let key = AuditKey::new(Secret::new(value)).with_context(|| format!("the audit key in {var}"))?;
    Ok(Some(key))
}

/// The key a writing command appends with, if its variable is set. Unset, the store
/// stays keyless: its appends are refused once a keyed writer has sealed the log,
/// and are plain SHA-256 like every entry before them if none has.
pub fn writer_key(config: Option<&Path>) -> anyhow::Result<Option<AuditKey>> {
    match key_vars(config)?.0 {
        Some(var) => key_in(&var),
        None => Ok(None),
    }
}

/// `store`, appending with the command's audit key (see `writer_key`).
pub fn keyed(store: Store, args: &StoreArgs) -> anyhow::Result<Store> {
    Ok(match writer_key(args.config.as_deref())? {
        Some(key) => store.with_audit_key(key),
        None => store,
    })
}

/// The keys to verify with: each `--key-env` (which must be set), then the current
/// and retired keys the configuration names (a note for any not set).
fn verify_keys(args: &StoreArgs, key_envs: &[String]) -> anyhow::Result<Vec<AuditKey>> {
    let mut keys: Vec<AuditKey> = Vec::new();
    for var in key_envs {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            // Never echoed: it may be the key itself, typed where its name belongs.
            anyhow::bail!(
                "--key-env takes the name of an environment variable (letters, digits, _), not a key"
            );
        }
        let key = key_in(var)?.ok_or_else(|| anyhow::anyhow!("--key-env {var}: the variable is not set"))?;
        keys.push(key);
    }
    let (current, previous) = key_vars(args.config.as_deref())?;
    let named = current
        .map(|var| ("[audit] key_env", var))
        .into_iter()
        .chain(previous.into_iter().map(|var| ("[audit] previous_key_envs", var)));
    for (setting, var) in named {
        match key_in(&var)? {
            Some(key) => keys.push(key),
            // Without a configuration the default variable is only a convenience.
            None if args.config.is_some() => eprintln!(
                "note: {setting} names {var}, which is not set: entries written with that key cannot be checked"
            ),
            None => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|key| seen.insert(key.id().to_string()));
    Ok(keys)
}

fn read_checkpoint(path: &Path) -> anyhow::Result<AuditCheckpoint> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an audit checkpoint (from `hrsync audit checkpoint`)",
            path.display()
        )
    })
}

fn print_break(json: bool, broken: &AuditBreak) -> anyhow::Result<()> {
    if json {
        print_json(&serde_json::json!({ "ok": false, "seq": broken.seq, "reason": broken.reason }))?;
    } else {
        eprintln!("{broken}");
    }
    Ok(())
}

/// `hrsync audit verify [--against CHECKPOINT] [--key-env NAME]...`
pub fn verify(
    store: &Store,
    args: &StoreArgs,
    key_envs: &[String],
    against: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let keys = verify_keys(args, key_envs)?;
    let checkpoint = against.map(read_checkpoint).transpose()?;
    let bar = progress(store.audit_entries(None)?, "verifying the audit log", args.json);
    let verdict = store.verify_audit_counted(&keys, checkpoint.as_ref(), &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    match verdict {
        Ok(report) => {
            if args.json {
                let mut out = serde_json::to_value(&report)?;
                out["ok"] = true.into();
                print_json(&out)?;
            } else {
                print_report(&report)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            print_break(args.json, &broken)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_report(report: &AuditReport) -> anyhow::Result<()> {
    say!(
        "audit log intact: {} entries, last hash {}",
        report.entries,
        report.last_hash
    )?;
    if !report.keys.is_empty() {
        let keyed: u64 = report.keys.iter().map(|k| k.entries).sum();
        let per_key: Vec<String> = report
            .keys
            .iter()
            .map(|k| format!("key {} ({})", k.key_id, k.entries))
            .collect();
        say!("  keyed (HMAC-SHA256): {keyed} entries, {}", per_key.join(", "))?;
    }
    match &report.seal {
        Some(seal) => say!(
            "  legacy (plain SHA-256, written before audit keys): {} entries, sealed with key {} at {}",
            report.legacy_entries,
            seal.key_id,
            seal.at
        )?,
        None if report.legacy_entries == 0 => {}
        None => say!(
            "  legacy (plain SHA-256, no audit key): {} entries. Tamper-evident against accidents \
             only: anyone who can write the store can rewrite them and their chain. Set [audit] \
             key_env (docs/security.md)",
            report.legacy_entries
        )?,
    }
    match report.checkpoint_seq {
        Some(seq) => say!(
            "  the checkpoint's entry {seq} is there, unchanged, and the chain verifies through entry {}",
            report.entries
        )?,
        None => {
            say!("  a log cut short or emptied shows only against a checkpoint kept elsewhere (--against)")?
        }
    }
    Ok(())
}

/// `hrsync audit checkpoint [--out FILE]`: the head of a log that verifies, as JSON.
pub fn checkpoint(
    store: &Store,
    args: &StoreArgs,
    key_envs: &[String],
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let keys = verify_keys(args, key_envs)?;
    // A checkpoint of a broken log would vouch for the damage.
    let checkpoint = match store.audit_checkpoint(&keys)? {
        Ok(checkpoint) => checkpoint,
        Err(broken) => {
            print_break(args.json, &broken)?;
            eprintln!("no checkpoint taken: the log does not verify");
            return Ok(ExitCode::FAILURE);
        }
    };
    let document = format!("{}\n", serde_json::to_string_pretty(&checkpoint)?);
    let Some(path) = out else {
        // The document itself is the output: `> file` keeps it as well as --out.
        say!("{}", document.trim_end())?;
        return Ok(ExitCode::SUCCESS);
    };
    write_private(path, document.as_bytes())?;
    if args.json {
        print_json(&checkpoint)?;
    } else {
        say!(
            "checkpoint of entry {} (hash {}, {}) written to {}",
            checkpoint.seq,
            checkpoint.hash,
            checkpoint
                .key_id
                .as_deref()
                .map_or("no key".to_string(), |id| format!("key {id}")),
            path.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` readable by the owner only, through a temporary file
/// beside it renamed into place: a reader sees the old file or the whole new one.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing into {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("writing into {}", dir.display()))?;
    }
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing into {}", dir.display()))?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
