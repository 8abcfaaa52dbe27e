//! CSV cells that are safe to open in a spreadsheet. Every CSV writer of the store
//! and the CLI writes its rows through here, so a cell a spreadsheet would run as a
//! formula (`model::guard_formula`) is written as text unless the operator asks for `--raw`.

use crate::model::guard_formula;

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
            CsvCells::Guarded => guard_formula(cell.as_ref()).into_owned(),
            CsvCells::Raw => cell.as_ref().to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
