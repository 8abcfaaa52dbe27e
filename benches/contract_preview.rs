//! The contract impact preview over a whole workforce already in memory: the
//! sandbox's generator makes 100,000 employees, packed as a reconciliation
//! packs the HRIS list, then each preview maps every employee through the
//! contract in force and the new one. Two edits are timed: a value-table entry
//! and a narrowed scope. The aim is under 2 s each in release.
//! Run: `cargo bench --bench contract_preview` (HRSYNC_BENCH_EMPLOYEES to change
//! the size, HRSYNC_BENCH_ROUNDS for the rounds, default 3; the median is printed).

use std::time::Instant;

use hrsync::contract::Contract;
use hrsync::contract::impact::{DEFAULT_EXAMPLES, Impact, Preview};
use hrsync::engine::intake::initial_load::hris_fields;
use hrsync::engine::reconcile::rows::{Employees, Record};
use hrsync::sandbox::world::{WorkforceSpec, generate};

const SHIPPED: &str = include_str!("../assets/contract.toml");

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 25)
}

fn main() {
    let count: usize = std::env::var("HRSYNC_BENCH_EMPLOYEES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("HRSYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let old = hrsync::contract::parse(SHIPPED).unwrap();
    let edits = [
        (
            "value table: Information Technology → Tech",
            edited(
                r#""Information Technology" = "IT Dept""#,
                r#""Information Technology" = "Tech""#,
            ),
        ),
        (
            "scope narrowed to full-time",
            edited(r#"in = ["Full-Time", "Part-Time"]"#, r#"in = ["Full-Time"]"#),
        ),
    ];
    let started = Instant::now();
    let workforce = generate(&WorkforceSpec {
        employees: count,
        seed: 7,
        today: today(),
        generated_at: jiff::Timestamp::now(),
    });
    let mut fields = hris_fields(&old);
    for (_, new) in &edits {
        fields.extend(hris_fields(new));
    }
    let mut employees = Employees::new(&fields);
    for employee in &workforce.employees {
        employees.push(&employee.to_json());
    }
    employees.rows.shrink_to_fit();
    drop(workforce);
    println!(
        "{} employees generated and packed in {:.2} s",
        employees.rows.len(),
        started.elapsed().as_secs_f64()
    );
    // No store has counted the learners: the threshold's base is those active now.
    let active = preview(&old, &old, &employees, 0).learners_before;
    let allowed = hrsync::config::SafetyThreshold::default().allowed(active);
    for (what, new) in &edits {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..rounds {
            let started = Instant::now();
            let impact = preview(&old, new, &employees, allowed);
            times.push(started.elapsed().as_secs_f64());
            last = Some(impact);
        }
        times.sort_by(f64::total_cmp);
        let impact = last.expect("at least one round");
        println!(
            "contract preview, {what}: {:.3} s (median of {rounds}); {} learners changed in {} fields, \
             {} leave scope, {} deactivated, trips safety: {}",
            times[times.len() / 2],
            impact.fields.iter().map(|f| f.learners).sum::<u64>(),
            impact.fields.len(),
            impact.leaving_scope.count,
            impact.deactivated.count,
            impact.safety.trips_safety,
        );
    }
}

/// The preview as `hrsync contract preview` runs it, the list in memory.
fn preview(old: &Contract, new: &Contract, employees: &Employees, allowed: u64) -> Impact {
    let (by_old, by_new) = (employees.columns_of(old), employees.columns_of(new));
    let columns = employees.rows.columns();
    let mut preview = Preview::new(old, new, today(), DEFAULT_EXAMPLES);
    let mut cells = Vec::new();
    for row in 0..employees.rows.len() {
        employees.rows.row(row, &mut cells);
        let record = |by_rule| Record {
            columns,
            cells: &cells,
            by_rule,
        };
        preview.add_each(&record(&by_old), &record(&by_new));
    }
    preview.finish(allowed)
}

fn edited(from: &str, to: &str) -> Contract {
    assert!(SHIPPED.contains(from), "the shipped contract holds {from}");
    hrsync::contract::parse(&SHIPPED.replacen(from, to, 1)).unwrap()
}
