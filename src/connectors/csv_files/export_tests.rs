use proptest::prelude::*;
use serde_json::json;

use super::*;

fn spec() -> ExportSpec {
    ExportSpec {
        columns: vec![
            ("Employee ID".into(), "id".into()),
            ("First Name".into(), "first_name".into()),
            ("Email".into(), "email".into()),
        ],
        id_field: "id".into(),
        delimiter: None,
        encoding: None,
    }
}

/// Every good row as (line, record).
type Rows = Vec<(u64, Map<String, Value>)>;

fn read(bytes: &[u8], spec: &ExportSpec) -> (Rows, ReadSummary) {
    let mut rows = Vec::new();
    let summary = read_export(bytes, spec, |row| rows.push((row.line, row.to_record()))).expect("read");
    (rows, summary)
}

fn person(id: &str, name: &str, email: &str) -> Map<String, Value> {
    let value = json!({"id": id, "first_name": name, "email": email});
    value.as_object().unwrap().clone()
}

#[test]
fn a_plain_export_maps_columns_to_fields() {
    let text = "Employee ID,First Name,Email\n1,Ann,ann@x.example\n2,Bo,\n";
    let (rows, summary) = read(text.as_bytes(), &spec());
    let mut bo = person("2", "Bo", "");
    bo["email"] = Value::Null;
    assert_eq!(rows, vec![(2, person("1", "Ann", "ann@x.example")), (3, bo)]);
    assert_eq!((summary.rows, summary.accepted), (2, 2));
    assert_eq!((summary.delimiter, summary.encoding), (b',', "UTF-8"));
    assert!(summary.rejects.is_empty() && summary.unknown_columns.is_empty());
}

#[test]
fn bom_crlf_trimmed_any_case_headers_and_trailing_blank_lines() {
    let text = "\u{FEFF} employee id ,FIRST NAME,  email\r\n 1 , Ann ,ann@x.example\r\n\r\n,,\r\n\r\n";
    let (rows, summary) = read(text.as_bytes(), &spec());
    assert_eq!(rows, vec![(2, person("1", "Ann", "ann@x.example"))]);
    assert_eq!(summary.rows, 1, "the ,, line and blank lines are not records");
}

#[test]
fn quoted_newlines_and_delimiters_keep_line_numbers_right() {
    let text = "Employee ID,First Name,Email\n\
                1,\"Ann\nMarie, Jr.\",a@x.example\n\
                2,\"Bo \"\"the\"\"\r\nthird\nline\",b@x.example\n\
                3,Cy,c@x.example\n";
    let (rows, _) = read(text.as_bytes(), &spec());
    let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![2, 4, 7]);
    assert_eq!(rows[0].1["first_name"], "Ann\nMarie, Jr.");
    assert_eq!(rows[1].1["first_name"], "Bo \"the\"\r\nthird\nline");
}

#[test]
fn semicolon_and_tab_delimiters_are_detected() {
    for (text, delimiter) in [
        ("Employee ID;First Name;Email\n1;Ann, A.;a@x.example\n", b';'),
        ("Employee ID\tFirst Name\tEmail\n1\tAnn, A.\ta@x.example\n", b'\t'),
        ("Employee ID|First Name|Email\n1|Ann, A.|a@x.example\n", b'|'),
    ] {
        let (rows, summary) = read(text.as_bytes(), &spec());
        assert_eq!(summary.delimiter, delimiter);
        assert_eq!(rows, vec![(2, person("1", "Ann, A.", "a@x.example"))]);
    }
}

#[test]
fn utf16_le_with_bom_and_windows_1252_are_decoded() {
    let text = "Employee ID,First Name,Email\r\n1,Zoë 李,z@x.example\r\n";
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (rows, summary) = read(&utf16, &spec());
    assert_eq!(summary.encoding, "UTF-16LE");
    assert_eq!(rows, vec![(2, person("1", "Zoë 李", "z@x.example"))]);

    let cp1252 = b"Employee ID,First Name,Email\n1,Ren\xE9e,r@x.example\n";
    let (rows, summary) = read(cp1252, &spec());
    assert_eq!(summary.encoding, "windows-1252");
    assert_eq!(rows, vec![(2, person("1", "Renée", "r@x.example"))]);
}

#[test]
fn unknown_columns_are_listed_once_and_missing_ones_named() {
    let text = "Employee ID,Cost Centre,First Name,cost centre,\n1,C1,Ann,C1,x\n2,C2,Bo,C2,y\n";
    let (rows, summary) = read(text.as_bytes(), &spec());
    assert_eq!(
        summary.unknown_columns,
        vec!["Cost Centre", "cost centre", "(unnamed column 5)"]
    );
    assert_eq!(summary.missing_columns, vec!["Email"]);
    assert_eq!(rows.len(), 2);
    assert!(
        !rows[0].1.contains_key("email"),
        "a missing column is absent, not null"
    );
}

#[test]
fn every_row_of_a_repeated_id_is_rejected() {
    let text = "Employee ID,First Name,Email\n42,Ann,a@x.example\n7,Bo,b@x.example\n 42 ,Ann B,ab@x.example\n42,A,c@x.example\n";
    let (rows, summary) = read(text.as_bytes(), &spec());
    assert_eq!(rows, vec![(3, person("7", "Bo", "b@x.example"))]);
    assert_eq!((summary.rows, summary.accepted), (4, 1));
    let reason = "employee id 42 appears on lines 2, 4 and 5";
    let expected: Vec<RowReject> = [2, 4, 5]
        .into_iter()
        .map(|line| RowReject::new(line, Some("42"), "id", reason))
        .collect();
    assert_eq!(summary.rejects, expected);
}

#[test]
fn wrong_field_counts_and_empty_ids_are_rejected_not_fatal() {
    let text =
        "Employee ID,First Name,Email\n1,Ann\n2,Bo,b@x.example,extra\n,Cy,c@x.example\n3,Di,d@x.example\n";
    let (rows, summary) = read(text.as_bytes(), &spec());
    assert_eq!(rows, vec![(5, person("3", "Di", "d@x.example"))]);
    assert_eq!(
        summary.rejects,
        vec![
            RowReject::new(2, Some("1"), "(row)", "has 2 fields where the header has 3"),
            RowReject::new(3, Some("2"), "(row)", "has 4 fields where the header has 3"),
            RowReject::new(4, None, "id", "the employee id is empty"),
        ]
    );
}

#[test]
fn a_header_without_the_id_column_refuses_the_file() {
    let text = "Emp,First Name,Email\n1,Ann,a@x.example\n";
    let error = read_export(text.as_bytes(), &spec(), |_| panic!("no row may pass")).unwrap_err();
    assert_eq!(
        error.in_file("workday-2026-03-01.csv").to_string(),
        "workday-2026-03-01.csv: line 1: the header has no column \"Employee ID\" (for the field \"id\"); \
         it has: Emp, First Name, Email"
    );
    let mut unmapped = spec();
    unmapped.id_field = "employee_number".into();
    let error = read_export(b"Employee ID\n1\n", &unmapped, |_| {}).unwrap_err();
    assert!(
        matches!(error, FileError::Unmapped { ref field } if field == "employee_number"),
        "{error}"
    );
}

#[test]
fn empty_files_and_twice_named_columns_are_refused() {
    assert!(matches!(
        read_export(b"", &spec(), |_| {}),
        Err(FileError::NoHeader)
    ));
    assert!(matches!(
        read_export(b"\xEF\xBB\xBF\r\n", &spec(), |_| {}),
        Err(FileError::NoHeader)
    ));
    let error = read_export(b"Employee ID,Email,EMAIL\n1,a,b\n", &spec(), |_| {}).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: the column \"Email\" appears twice in the header (columns 2 and 3)"
    );
}

#[test]
fn a_set_delimiter_and_encoding_are_used() {
    let mut set = spec();
    set.delimiter = Some(b';');
    set.encoding = Some("iso-8859-1".into());
    let (rows, summary) = read(b"Employee ID;First Name;Email\n1;Andr\xE9, A;a@x.example\n", &set);
    assert_eq!(rows, vec![(2, person("1", "André, A", "a@x.example"))]);
    assert_eq!(summary.encoding, "windows-1252");
}

#[test]
fn get_and_id_read_one_field() {
    let text = "Employee ID,First Name,Email\n9,  ,x@x.example\n";
    let mut seen = 0;
    read_export(text.as_bytes(), &spec(), |row| {
        seen += 1;
        assert_eq!(row.id(), "9");
        assert_eq!(row.get("first_name"), None, "blank is none");
        assert_eq!(row.get("email"), Some("x@x.example"));
        assert_eq!(row.get("no_such_field"), None);
    })
    .unwrap();
    assert_eq!(seen, 1);
}

proptest! {
    /// Any cell text the csv writer can express reads back as written (trimmed),
    /// on the line it starts.
    #[test]
    fn arbitrary_cells_read_back(
        cells in prop::collection::vec(("[a-z0-9]{1,6}", any::<String>(), "\\PC*"), 1..20),
        delimiter in prop::sample::select(vec![b',', b';', b'\t', b'|']),
        crlf in any::<bool>(),
    ) {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .quote_style(csv::QuoteStyle::Always)
            .from_writer(Vec::new());
        writer.write_record(["Employee ID", "First Name", "Email"]).unwrap();
        let mut expected = Vec::new();
        let mut line = 2;
        let mut ids = std::collections::HashSet::new();
        for (at, (id, name, email)) in cells.iter().enumerate() {
            let id = format!("{id}-{at}");
            prop_assume!(ids.insert(id.clone()));
            writer.write_record([&id, name, email]).unwrap();
            let mut record = Map::new();
            for (field, value) in [("id", id.as_str()), ("first_name", name), ("email", email)] {
                let value = value.trim();
                record.insert(field.into(), if value.is_empty() { Value::Null } else { value.into() });
            }
            expected.push((line, record));
            line += 1 + [name, email].iter().map(|v| v.matches('\n').count() as u64).sum::<u64>();
        }
        let bytes = writer.into_inner().unwrap();
        let mut set = spec();
        set.delimiter = Some(delimiter);
        let (rows, summary) = read(&bytes, &set);
        prop_assert_eq!(rows, expected);
        prop_assert!(summary.rejects.is_empty());
    }
}

#[test]
fn blank_lines_between_rows_do_not_shift_line_numbers() {
    let text =
        "Employee ID,First Name,Email\n\n1,Ann,a@x.example\n\n\n2,Bo,b@x.example\r\n\r\n3,Cy,c@x.example";
    let (rows, _) = read(text.as_bytes(), &spec());
    let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![3, 6, 8]);
}
