//! JSON text straight into a byte buffer, the same bytes serde_json's compact
//! writer gives: strings that need no escape (nearly all of them) are copied
//! whole instead of scanned byte by byte through an escape table.

use serde_json::Value;

pub fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            serde_json::to_writer(&mut *out, number).expect("a number serialises");
        }
        Value::String(text) => string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self::value(out, item);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            for (i, (key, item)) in object.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                entry(out, key, item);
            }
            out.push(b'}');
        }
    }
}

/// `"key":value`, without the separating comma.
pub fn entry(out: &mut Vec<u8>, key: &str, item: &Value) {
    string(out, key);
    out.push(b':');
    value(out, item);
}

pub fn string(out: &mut Vec<u8>, text: &str) {
    // No early exit, so the check compiles to wide compares over the string.
    let needs_escape = text
        .bytes()
        .fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escape {
        serde_json::to_writer(&mut *out, text).expect("a string serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_bytes_are_serde_jsons() {
        let samples = [
            json!(null),
            json!({}),
            json!([]),
            json!({"a": [1, -2, 3.5, 1e300, true, false, null], "b": {"c": "d"}, "": ""}),
            json!([
                "plain",
                "quote \" backslash \\ tab \t newline \n nul \u{0} del \u{7f}",
                "ünïcödé ✓"
            ]),
            json!({"esc\"aped": {"nested": [[], {}, [{"x": 0}]]}}),
            json!(u64::MAX),
            json!(i64::MIN),
        ];
        for sample in samples {
            let mut out = Vec::new();
            super::value(&mut out, &sample);
            assert_eq!(String::from_utf8(out).unwrap(), sample.to_string());
        }
    }
}
