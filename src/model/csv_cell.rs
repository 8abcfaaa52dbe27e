//! The one rule for CSV cells a person may open in a spreadsheet (OWASP "CSV
//! injection"). The store's exports and the connectors' reject files both write
//! through it, so the characters it guards are named once.

use std::borrow::Cow;

/// The cell as a spreadsheet will show it rather than evaluate it: Excel, LibreOffice
/// and Google Sheets start a formula (or DDE call) at these characters, and a `'`
/// in front makes the cell text there. Other cells are returned as they are.
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
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
            assert_eq!(guard_formula(cell), expected, "cell {cell:?}");
        }
    }
}
