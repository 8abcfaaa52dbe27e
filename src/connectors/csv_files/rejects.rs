//! The rows of an incoming file that were not taken, and the `<file>.rejects.csv`
//! an operator opens (often in a spreadsheet) to see why: one row per reason.

use crate::model::guard_formula;

/// One row of a file that was not taken, and every reason why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReject {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// The employee id, when the row had one.
    pub id: Option<String>,
    /// (field or column, reason); `(row)` when the reason concerns the whole row.
    pub reasons: Vec<(String, String)>,
}

impl RowReject {
    /// A reject with one reason.
    pub fn new(line: u64, id: Option<&str>, field: &str, reason: impl Into<String>) -> RowReject {
        RowReject {
            line,
            id: id.filter(|id| !id.is_empty()).map(str::to_string),
            reasons: vec![(field.to_string(), reason.into())],
        }
    }
}

/// The rejects as CSV: a `line,employee_id,field,reason` header, then one row per
/// reason, every cell guarded against spreadsheet formulas.
pub fn rejects_csv(rejects: &[RowReject]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_row(&mut writer, ["line", "employee_id", "field", "reason"]);
    for reject in rejects {
        let line = reject.line.to_string();
        let id = reject.id.as_deref().unwrap_or("");
        if reject.reasons.is_empty() {
            write_row(&mut writer, [&line, id, "", ""]);
        }
        for (field, reason) in &reject.reasons {
            write_row(&mut writer, [&line, id, field, reason]);
        }
    }
    writer.into_inner().expect(IN_MEMORY)
}

const IN_MEMORY: &str = "writing CSV to memory cannot fail";

fn write_row(writer: &mut csv::Writer<Vec<u8>>, cells: [&str; 4]) {
    for cell in cells {
        writer
            .write_field(guard_formula(cell).as_bytes())
            .expect(IN_MEMORY);
    }
    writer.write_record(None::<&[u8]>).expect(IN_MEMORY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_reason_with_cells_guarded() {
        let rejects = [
            RowReject {
                line: 12,
                id: Some("=HYPERLINK(\"x\")".into()),
                reasons: vec![
                    ("email".into(), "not an email address".into()),
                    ("hire_date".into(), "-3 is not a date".into()),
                ],
            },
            RowReject::new(40, None, "(row)", "has 3 fields where the header has 5"),
        ];
        let text = String::from_utf8(rejects_csv(&rejects)).unwrap();
        assert_eq!(
            text,
            "line,employee_id,field,reason\n\
             12,\"'=HYPERLINK(\"\"x\"\")\",email,not an email address\n\
             12,\"'=HYPERLINK(\"\"x\"\")\",hire_date,'-3 is not a date\n\
             40,,(row),has 3 fields where the header has 5\n"
        );
    }

    #[test]
    fn no_rejects_is_the_header_alone() {
        assert_eq!(rejects_csv(&[]), b"line,employee_id,field,reason\n");
    }
}
