//! CSV cells that are safe to open in a spreadsheet. Every CSV writer in hrsync
//! writes its rows through here, so a cell a spreadsheet would run as a formula
//! (OWASP "CSV injection") is written as text unless the operator asks for `--raw`.

use std::borrow::Cow;

/// How cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvCells {
    /// A cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
    #[default]
    Guarded,
    /// Every cell exactly as stored, for programs rather than spreadsheets.
    Raw,
}

impl CsvCells {
    /// Writes one record, each cell as this policy says.
    pub fn write_record<W, I>(self, writer: &mut csv::Writer<W>, record: I) -> csv::Result<()>
    where
        W: std::io::Write,
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        writer.write_record(record.into_iter().map(|cell| match self {
            CsvCells::Guarded => guard(cell.as_ref()).into_owned(),
            CsvCells::Raw => cell.as_ref().to_string(),
        }))
    }
}

/// The cell as a spreadsheet will show it rather than evaluate it: Excel, LibreOffice
/// and Google Sheets start a formula (or DDE call) at these characters, and a `'`
/// in front makes the cell text there. Other cells are returned as they are.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_become_text() {
        let table = [
            // (cell, as written)
            (
                "=HYPERLINK(\"http://x.example\",\"go\")",
                "'=HYPERLINK(\"http://x.example\",\"go\")",
            ),
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("-0.5", "'-0.5"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            // Only the first character counts.
            ("a=1", "a=1"),
            (" =1", " =1"),
            ("\n=1", "\n=1"),
            ("'=1", "'=1"),
            ("", ""),
            ("E-1042", "E-1042"),
            ("2026-11-20T23:30:00Z", "2026-11-20T23:30:00Z"),
            ("{\"title\":\"Clerk\"}", "{\"title\":\"Clerk\"}"),
            ("Zoë Ångström", "Zoë Ångström"),
            ("李=1", "李=1"),
        ];
        for (cell, expected) in table {
            assert_eq!(guard(cell), expected, "cell {cell:?}");
        }
    }

    fn written(cells: CsvCells) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        cells
            .write_record(&mut writer, ["=1+1", "plain", "@x"])
            .expect("write");
        String::from_utf8(writer.into_inner().expect("flush")).expect("utf-8")
    }

    #[test]
    fn a_record_is_guarded_unless_raw() {
        assert_eq!(written(CsvCells::Guarded), "'=1+1,plain,'@x\n");
        assert_eq!(written(CsvCells::Raw), "=1+1,plain,@x\n");
    }
}
