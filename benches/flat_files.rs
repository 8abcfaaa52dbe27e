//! Flat-file mode: a (about) 100,000-row HRIS export taken and compared with the one
//! before. The sandbox (its own process) writes the first export; a second is
//! made from it with 1 % of the rows changed. Both are taken by the engine's file
//! intake into a store on disk, each in a process of its own: the first journals
//! everyone (the initial load of file mode), the second is the nightly case,
//! timed with its process's peak memory.
//! Run: `cargo bench --bench flat_files` (HRSYNC_BENCH_EMPLOYEES to change the size).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::SandboxProcess;
use hrsync::engine::intake::files::{Decision, FileIntake};
use hrsync::store::ExportFiles;

fn main() {
    // A take runs in a process of its own, so its peak memory is its own: the
    // first export (everyone inserted) leaves the allocator holding what it freed.
    if let Ok(take) = std::env::var(TAKE) {
        let (dir, file) = take.split_once('\n').unwrap();
        take_one(Path::new(dir), Path::new(file));
        return;
    }
    let employees: usize = std::env::var("HRSYNC_BENCH_EMPLOYEES")
        .ok()
        .and_then(|n| n.parse().ok())
        // An export holds current workers only (about 94 % of the sandbox's
        // employees): this many make a file of about 100,000 rows.
        .unwrap_or(106_300);
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let sandbox = SandboxProcess::start_with(
        env!("CARGO_BIN_EXE_hrsync"),
        employees,
        3,
        &["--export-dir", exports.to_str().unwrap()],
    );
    let first = wait_for_export(&exports);
    let second = one_percent_changed(&first, &dir.path().join("changed.csv"));
    std::fs::write(
        dir.path().join("credentials.json"),
        sandbox.credentials.to_string(),
    )
    .unwrap();
    drop(sandbox);
    for file in [&first, &second] {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env(TAKE, format!("{}\n{}", dir.path().display(), file.display()))
            .status()
            .unwrap();
        assert!(status.success(), "taking {} failed", file.display());
    }
}

/// `dir` and the file to take, a line each: this process only takes that file.
const TAKE: &str = "HRSYNC_BENCH_TAKE";

/// Takes one export into the store in `dir` and prints the time and this
/// process's peak memory.
fn take_one(dir: &Path, file: &Path) {
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("credentials.json")).unwrap()).unwrap();
    // Only the store and the contract are used: the file intake talks to neither system.
    let (mut config, contract) = common::engine_config(&credentials, dir);
    common::runtime().block_on(async {
        let inbox_dir = dir.join("inbox");
        std::fs::create_dir_all(&inbox_dir).unwrap();
        config.hris.files = Some(hrsync::config::ExportFeed {
            inbox: inbox_dir.display().to_string(),
            pattern: "*.csv".into(),
            columns: hrsync::sandbox::export::EXPORT_COLUMNS
                .iter()
                .map(|(c, f)| (c.to_string(), f.to_string()))
                .collect(),
            delimiter: None,
            encoding: None,
            settle: Duration::ZERO,
            done_suffix: None,
            outbox: dir.join("outbox"),
            keep: Duration::from_secs(86_400),
            scan_every: Duration::from_secs(60),
            sftp: Default::default(),
        });
        let store = hrsync::store::Store::open(&config.store_path).unwrap();
        let first = store.last_taken_file().unwrap().is_none();
        let intake = FileIntake {
            store: store.clone(),
            contract: Arc::new(parking_lot::RwLock::new(Arc::new(contract))),
            feed: config.hris.files.clone().unwrap(),
            threshold: Default::default(),
            notifier: hrsync::connectors::Notifier::new(None),
            wake: Default::default(),
            health: Default::default(),
        };
        let inbox = hrsync::connectors::inbox::open(&inbox_dir.display().to_string(), &Default::default())
            .await
            .unwrap();
        let size = std::fs::metadata(file).unwrap().len() as f64 / 1e6;
        let label = if first {
            "first export (everyone inserted)"
        } else {
            "next export, 1 % changed"
        };
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(file, inbox_dir.join(&name)).unwrap();
        let entry = inbox.list("").await.unwrap().into_iter().find(|e| e.name == name).unwrap();
        let resident = common::rss_mb("VmRSS:");
        let started = Instant::now();
        let decision = intake.take(inbox.as_ref(), &entry).await.unwrap();
        let elapsed = started.elapsed();
        let Decision::Taken(counts) = decision else {
            panic!("{label}: {decision:?}")
        };
        println!(
            "{label}: {} rows ({size:.1} MB): {:.2} s, {:.0} rows/s; {} inserted, {} updated, {} missing, {} unchanged, {} rejected; RSS {resident:.0} MB before, process peak {:.0} MB",
            counts.rows,
            elapsed.as_secs_f64(),
            counts.rows as f64 / elapsed.as_secs_f64(),
            counts.inserted,
            counts.updated,
            counts.missing,
            counts.unchanged,
            counts.rejected,
            common::rss_mb("VmHWM:")
        );
    });
}

/// The sandbox's first HRIS export, once its `.done` marker is there.
fn wait_for_export(dir: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(done) = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".csv.done") && p.to_string_lossy().contains("hris-"))
        {
            return PathBuf::from(done.to_string_lossy().trim_end_matches(".done"));
        }
        assert!(Instant::now() < deadline, "the sandbox wrote no export");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The export with every hundredth row's job title changed, a minute newer.
fn one_percent_changed(first: &Path, to: &Path) -> PathBuf {
    let bytes = std::fs::read(first).unwrap();
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut reader = csv::Reader::from_reader(text);
    let header = reader.headers().unwrap().clone();
    let title = header.iter().position(|h| h == "Job Title").unwrap();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_path(to)
        .unwrap();
    writer.write_record(&header).unwrap();
    for (at, record) in reader.records().enumerate() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if at % 100 == 0 {
            row[title] = format!("{} II", row[title]);
        }
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let later = std::fs::metadata(first).unwrap().modified().unwrap() + Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(to)
        .unwrap()
        .set_modified(later)
        .unwrap();
    to.to_path_buf()
}
