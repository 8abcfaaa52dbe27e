//! How a bench reports: one JSON line per figure, then a table for people. A
//! figure with a ceiling (what this machine does at most for the same work,
//! measured in the same run just before) carries their ratio, which stays
//! meaningful on a noisy host where absolute times do not.

use serde_json::json;

pub struct Figure {
    pub bench: String,
    pub value: f64,
    pub unit: &'static str,
    /// The same work at most on this machine, measured in this run.
    pub ceiling: Option<f64>,
}

impl Figure {
    pub fn new(bench: impl Into<String>, value: f64, unit: &'static str) -> Figure {
        Figure {
            bench: bench.into(),
            value,
            unit,
            ceiling: None,
        }
    }

    pub fn against(mut self, ceiling: f64) -> Figure {
        self.ceiling = Some(ceiling);
        self
    }

    fn ratio(&self) -> Option<f64> {
        self.ceiling.filter(|c| *c > 0.0).map(|c| self.value / c)
    }
}

/// Prints the JSON lines, then the table.
pub fn report(figures: &[Figure]) {
    for f in figures {
        println!(
            "{}",
            json!({
                "bench": f.bench,
                "value": round(f.value),
                "unit": f.unit,
                "ceiling": f.ceiling.map(round),
                "ratio": f.ratio().map(|r| (r * 1000.0).round() / 1000.0),
            })
        );
    }
    println!();
    println!(
        "{:<44} {:>12} {:<9} {:>12} {:>7}",
        "figure", "value", "unit", "ceiling", "ratio"
    );
    for f in figures {
        println!(
            "{:<44} {:>12} {:<9} {:>12} {:>7}",
            f.bench,
            round(f.value),
            f.unit,
            f.ceiling.map_or("-".into(), |c| round(c).to_string()),
            f.ratio().map_or("-".into(), |r| format!("{r:.2}")),
        );
    }
}

/// Four significant digits: enough for a ratio, whatever the unit's scale.
fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(3 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}
