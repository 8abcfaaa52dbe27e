//! Reading a nightly HRIS export: 100,000 rows × 15 columns (some quoted, some
//! with newlines, a few duplicate ids), in UTF-8 (read in place) and in UTF-16
//! and windows-1252 (decoded once). Prints the best of the rounds and the peak
//! memory. Run: `cargo bench --bench csv_export` (HRSYNC_BENCH_RECORDS to change
//! the size, HRSYNC_BENCH_ROUNDS the rounds, default 5).

mod common;

use std::time::Instant;

use hrsync::connectors::csv_files::{ExportSpec, read_export};

const COLUMNS: [&str; 15] = [
    "Employee ID",
    "First Name",
    "Last Name",
    "Work Email",
    "Department",
    "Job Title",
    "Manager ID",
    "Hire Date",
    "Status",
    "Location",
    "Cost Centre",
    "Country",
    "Phone",
    "Employment Type",
    "Notes",
];

fn export(records: usize) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(COLUMNS).unwrap();
    for n in 0..records {
        // One row in a thousand repeats an earlier id, as a bad export does.
        let id = if n % 1000 == 999 {
            format!("E{:06}", n - 500)
        } else {
            format!("E{n:06}")
        };
        let notes = if n % 50 == 0 {
            "Moved teams,\nsee \"HR-1\"".to_string()
        } else {
            String::new()
        };
        writer
            .write_record([
                id.as_str(),
                "Renée",
                &format!("Smith{n}"),
                &format!("person{n}@example.com"),
                ["Sales", "Engineering", "Finance, Legal"][n % 3],
                "Account Executive",
                &format!("E{:06}", n / 10),
                "2021-03-15",
                "Active",
                "London",
                &format!("CC-{}", n % 97),
                "GB",
                "+44 20 7946 0000",
                "Full-time",
                &notes,
            ])
            .unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

fn spec() -> ExportSpec {
    let columns = COLUMNS
        .iter()
        .map(|c| (c.to_string(), c.to_lowercase().replace(' ', "_")))
        .collect();
    ExportSpec {
        columns,
        id_field: "employee_id".into(),
        delimiter: None,
        encoding: None,
    }
}

fn main() {
    let records: usize = std::env::var("HRSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("HRSYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let text = export(records);
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    let spec = spec();
    println!(
        "{records} rows × {} columns, {:.1} MB as UTF-8",
        COLUMNS.len(),
        text.len() as f64 / 1e6
    );
    println!(
        "  peak memory before reading (the test files): {:.0} MB",
        common::rss_mb("VmHWM:")
    );
    for (name, bytes, as_records) in [
        ("UTF-8, rows only", text.as_bytes(), false),
        ("UTF-8, each row to a JSON record", text.as_bytes(), true),
        ("UTF-16LE (decoded), rows only", &utf16[..], false),
        ("windows-1252 (decoded), rows only", &cp1252[..], false),
    ] {
        let mut best = f64::INFINITY;
        let mut summary = None;
        for _ in 0..rounds {
            let started = Instant::now();
            let mut fields = 0usize;
            let read = read_export(bytes, &spec, |row| {
                fields += if as_records {
                    row.to_record().len()
                } else {
                    row.id().len()
                };
            })
            .unwrap();
            best = best.min(started.elapsed().as_secs_f64());
            std::hint::black_box(fields);
            summary = Some(read);
        }
        let summary = summary.unwrap();
        println!(
            "  {name}: best {:.0} ms of {rounds}, peak memory so far {:.0} MB; {} rows, {} accepted, {} rejected ({})",
            best * 1e3,
            common::rss_mb("VmHWM:"),
            summary.rows,
            summary.accepted,
            summary.rejects.len(),
            summary.encoding
        );
    }
}
