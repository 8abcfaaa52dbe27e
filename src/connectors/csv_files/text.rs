//! What every CSV format here shares: bytes to UTF-8 text (borrowed when it
//! already is), the delimiter, and where the wanted columns sit in the header.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use super::FileError;

/// The delimiters looked for when none is set, in the order ties are settled.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How many header names an error message lists before it stops.
const HEADER_NAMES_SHOWN: usize = 20;

/// A file's text, its encoding and its delimiter, ready to read records from.
pub(super) struct Table<'b> {
    text: Cow<'b, str>,
    pub encoding: &'static Encoding,
    pub delimiter: u8,
}

impl<'b> Table<'b> {
    /// Decodes `bytes` (copying only when they are not UTF-8) and settles the
    /// delimiter. `encoding` is a WHATWG label; a byte-order mark overrides it.
    pub fn open(
        bytes: &'b [u8],
        encoding: Option<&str>,
        delimiter: Option<u8>,
    ) -> Result<Table<'b>, FileError> {
        let (text, encoding) = decode(bytes, encoding)?;
        let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&text));
        Ok(Table {
            text,
            encoding,
            delimiter,
        })
    }

    /// The 1-based line a record starts on. The csv crate places a record where
    /// the previous one ended: before the `\n` of a CRLF and before skipped blank
    /// lines, so those are stepped over here.
    pub fn line_of(&self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else { return 0 };
        let rest = self
            .text
            .as_bytes()
            .get(position.byte() as usize..)
            .unwrap_or_default();
        let skipped = rest.iter().take_while(|&&b| b == b'\r' || b == b'\n');
        position.line() + skipped.filter(|&&b| b == b'\n').count() as u64
    }

    /// A fresh reader from the first line: every record, the header included,
    /// of any length (the formats check lengths themselves, to reject one row).
    pub fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(self.text.as_bytes())
    }
}

/// The text without its byte-order mark, and the encoding it was in: the BOM's if
/// there is one, else the label's, else UTF-8 when the bytes are valid UTF-8 and
/// windows-1252 (which decodes any byte) when they are not.
fn decode<'b>(bytes: &'b [u8], label: Option<&str>) -> Result<(Cow<'b, str>, &'static Encoding), FileError> {
    let chosen = label
        .map(|label| {
            Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| FileError::UnknownEncoding {
                label: label.to_string(),
            })
        })
        .transpose()?;
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((encoding, bom)) => (Some(encoding), &bytes[bom..]),
        None => (chosen, bytes),
    };
    match encoding {
        None => match std::str::from_utf8(body) {
            Ok(text) => Ok((Cow::Borrowed(text), UTF_8)),
            Err(_) => Ok((WINDOWS_1252.decode_without_bom_handling(body).0, WINDOWS_1252)),
        },
        Some(encoding) if encoding == UTF_8 => match std::str::from_utf8(body) {
            Ok(text) => Ok((Cow::Borrowed(text), UTF_8)),
            Err(error) => Err(FileError::Undecodable {
                encoding: UTF_8.name(),
                line: line_at(&body[..error.valid_up_to()]),
            }),
        },
        Some(encoding) => {
            let (text, malformed) = encoding.decode_without_bom_handling(body);
            if malformed {
                let bad = text.find('\u{FFFD}').unwrap_or(text.len());
                return Err(FileError::Undecodable {
                    encoding: encoding.name(),
                    line: line_at(&text.as_bytes()[..bad]),
                });
            }
            Ok((text, encoding))
        }
    }
}

/// The 1-based line the byte after `before` is on.
fn line_at(before: &[u8]) -> u64 {
    before.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// The candidate seen most often in the header line (outside quotes); a comma when
/// none is seen.
fn detect_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for byte in text.bytes() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(at) = DELIMITERS.iter().position(|&d| d == byte) {
                    counts[at] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for at in 1..DELIMITERS.len() {
        if counts[at] > counts[best] {
            best = at;
        }
    }
    DELIMITERS[best]
}

/// Where each wanted column sits in a header (matched trimmed and without regard
/// to case), and the header's columns nobody asked for.
pub(super) struct Columns {
    pub found: Vec<Option<usize>>,
    /// Each unwanted column once, in header order.
    pub unknown: Vec<String>,
    /// How many fields a row must have.
    pub width: usize,
    names: Vec<String>,
}

impl Columns {
    pub fn locate<'w>(
        header: &csv::StringRecord,
        wanted: impl IntoIterator<Item = &'w str>,
    ) -> Result<Columns, FileError> {
        let names: Vec<String> = header.iter().map(|name| name.trim().to_string()).collect();
        let folded: Vec<String> = names.iter().map(|name| name.to_lowercase()).collect();
        let mut used = vec![false; names.len()];
        let mut found = Vec::new();
        for column in wanted {
            let key = column.trim().to_lowercase();
            let mut at = folded
                .iter()
                .enumerate()
                .filter(|(_, name)| **name == key)
                .map(|(at, _)| at);
            let first = at.next();
            if let (Some(first), Some(second)) = (first, at.next()) {
                return Err(FileError::DuplicateColumn {
                    column: column.to_string(),
                    first: first + 1,
                    second: second + 1,
                });
            }
            if let Some(first) = first {
                used[first] = true;
            }
            found.push(first);
        }
        let mut unknown: Vec<String> = Vec::new();
        for (at, name) in names.iter().enumerate() {
            let name = if name.is_empty() {
                format!("(unnamed column {})", at + 1)
            } else {
                name.clone()
            };
            if !used[at] && !unknown.contains(&name) {
                unknown.push(name);
            }
        }
        Ok(Columns {
            found,
            unknown,
            width: names.len(),
            names,
        })
    }

    /// The refusal for a wanted column the header lacks.
    pub fn missing(&self, column: &str, field: &str) -> FileError {
        let mut header = self
            .names
            .iter()
            .take(HEADER_NAMES_SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.names.len() > HEADER_NAMES_SHOWN {
            header.push_str(", …");
        }
        FileError::MissingColumn {
            column: column.to_string(),
            field: field.to_string(),
            header,
        }
    }
}

/// The header: the first record, refused when there is none.
pub(super) fn read_header(reader: &mut csv::Reader<&[u8]>) -> Result<csv::StringRecord, FileError> {
    let mut header = csv::StringRecord::new();
    match reader.read_record(&mut header) {
        Ok(true) => Ok(header),
        Ok(false) => Err(FileError::NoHeader),
        Err(error) => Err(csv_error(error)),
    }
}

/// A parse error of the csv crate, at its line.
pub(super) fn csv_error(error: csv::Error) -> FileError {
    let line = error.position().map_or(0, |p| p.line());
    FileError::Csv {
        line,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_borrowed_when_it_is_utf8() {
        let (text, encoding) = decode("id,name\n1,Zoë\n".as_bytes(), None).unwrap();
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(encoding, UTF_8);
        let (text, _) = decode(b"\xEF\xBB\xBFid\n", None).unwrap();
        assert_eq!(text, "id\n");
        assert!(matches!(text, Cow::Borrowed(_)));
    }

    #[test]
    fn encodings_come_from_the_bom_the_label_or_a_guess() {
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("id\n".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let (text, encoding) = decode(&utf16be, None).unwrap();
        assert_eq!((text.as_ref(), encoding.name()), ("id\n", "UTF-16BE"));
        let (text, encoding) = decode(b"Ren\xE9\n", None).unwrap();
        assert_eq!((text.as_ref(), encoding.name()), ("René\n", "windows-1252"));
        let (text, encoding) = decode(b"Ren\xE9\n", Some("latin1")).unwrap();
        assert_eq!((text.as_ref(), encoding.name()), ("René\n", "windows-1252"));
        let error = decode(b"id\nRen\xE9\n", Some("utf-8")).unwrap_err();
        assert_eq!(error.to_string(), "line 2: the bytes are not valid UTF-8");
        let error = decode(b"id\n", Some("klingon")).unwrap_err();
        assert!(error.to_string().contains("\"klingon\""), "{error}");
    }

    #[test]
    fn the_delimiter_is_the_commonest_in_the_header() {
        assert_eq!(detect_delimiter("a;b;c\n1,5;2;3\n"), b';');
        assert_eq!(detect_delimiter("a\tb\tc\n"), b'\t');
        assert_eq!(detect_delimiter("a|b\n"), b'|');
        assert_eq!(detect_delimiter("\"a,b,c\";d;e\n"), b';');
        assert_eq!(detect_delimiter("id\n1\n"), b',');
    }
}
