//! Export files to records: JSON lines as they are, CSV rows as JSON
//! objects keyed by the header.
//!
//! Works line by line on the decoded body, so memory stays bounded by the
//! longest record whatever the file size. CSV fields may be quoted and may
//! span lines; a header row repeated by a later file in the same archive is
//! recognised and skipped.

use super::types::Format;
use crate::download::MAX_LINE_BYTES;
use crate::{Error, Result};
use serde_json::{Map, Value};

/// Turns the lines of an export file into records.
#[derive(Debug)]
pub(crate) struct RecordParser {
    format: Format,
    header: Option<Vec<String>>,
    pending: Option<String>,
    line_no: u64,
}

impl RecordParser {
    pub(crate) fn new(format: Format) -> Self {
        RecordParser {
            format,
            header: None,
            pending: None,
            line_no: 0,
        }
    }

    /// Feeds one line exactly as read (split on `\n` only, so blank lines and
    /// `\r` are still there: inside a quoted CSV field they are data).
    /// Returns a record when the line completes one.
    pub(crate) fn push(&mut self, line: String) -> Result<Option<Value>> {
        self.line_no += 1;
        // Blank lines between records carry nothing; inside a quoted CSV
        // field (`pending`) they are part of the value.
        if self.pending.is_none() && line.trim_end_matches('\r').trim().is_empty() {
            return Ok(None);
        }
        match self.format {
            Format::Json => serde_json::from_str(&line).map(Some).map_err(|e| {
                Error::decode(format!(
                    "line {} of the export is not JSON: {e}",
                    self.line_no
                ))
            }),
            Format::Csv => self.push_csv(line),
        }
    }

    fn push_csv(&mut self, line: String) -> Result<Option<Value>> {
        let text = match self.pending.take() {
            Some(mut p) => {
                p.push('\n');
                p.push_str(&line);
                p
            }
            None => line,
        };
        // A `\r` right before the `\n` outside quotes is the CRLF record
        // terminator; inside an open quote the record is incomplete anyway,
        // and the full text (with its `\r`) is kept for the next line.
        let Some(mut row) = parse_csv_row(text.strip_suffix('\r').unwrap_or(&text)) else {
            if text.len() > MAX_LINE_BYTES {
                return Err(Error::decode(format!(
                    "a quoted CSV field near line {} runs past {MAX_LINE_BYTES} bytes",
                    self.line_no
                )));
            }
            self.pending = Some(text);
            return Ok(None);
        };
        let Some(header) = &self.header else {
            if let Some(first) = row.first_mut() {
                // Spreadsheet exports start with a byte-order mark.
                *first = first.trim_start_matches('\u{feff}').to_string();
            }
            self.header = Some(row);
            return Ok(None);
        };
        if &row == header {
            return Ok(None);
        }
        let mut obj = Map::with_capacity(header.len());
        for (i, value) in row.into_iter().enumerate() {
            let key = header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column_{}", i + 1));
            obj.insert(key, Value::String(value));
        }
        Ok(Some(Value::Object(obj)))
    }

    /// Ends the input: an unterminated quoted field is an error.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.pending.is_some() {
            return Err(Error::decode("the CSV export ends inside a quoted field"));
        }
        Ok(())
    }
}

/// Splits one CSV record (RFC 4180). `None` when a quoted field is still
/// open, i.e. the record continues on the next line.
pub(crate) fn parse_csv_row(text: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                ',' => fields.push(std::mem::take(&mut field)),
                '"' if field.is_empty() => in_quotes = true,
                _ => field.push(c),
            }
        }
    }
    if in_quotes {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// Quotes a CSV field when it needs it (the tests write CSV with it).
#[cfg(test)]
fn csv_field(value: &str, out: &mut String) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(format: Format, lines: &[&str]) -> Result<Vec<Value>> {
        let mut p = RecordParser::new(format);
        let mut out = Vec::new();
        for l in lines {
            if let Some(v) = p.push(l.to_string())? {
                out.push(v);
            }
        }
        p.finish()?;
        Ok(out)
    }

    #[test]
    fn csv_keeps_blank_lines_and_crlf_inside_quotes() {
        let got = parse(
            Format::Csv,
            &[
                "a,b\r",
                "1,\"line one\r",
                "\r",
                "",
                "line four\"\r",
                "",
                "2,x\r",
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                json!({"a": "1", "b": "line one\r\n\r\n\nline four"}),
                json!({"a": "2", "b": "x"}),
            ]
        );
    }

    #[test]
    fn json_lines() {
        let got = parse(Format::Json, &[r#"{"a":1}"#, r#"{"b":"x"}"#]).unwrap();
        assert_eq!(got, [json!({"a": 1}), json!({"b": "x"})]);
        let err = parse(Format::Json, &[r#"{"a":1}"#, "nope"]).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn csv_rows_become_objects() {
        let got = parse(
            Format::Csv,
            &[
                "\u{feff}a,b,c",
                "1,\"x, y\",\"say \"\"hi\"\"\"",
                "2,\"multi",
                "line\",",
                "a,b,c",
                "3,,z",
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            [
                json!({"a": "1", "b": "x, y", "c": "say \"hi\""}),
                json!({"a": "2", "b": "multi\nline", "c": ""}),
                json!({"a": "3", "b": "", "c": "z"}),
            ]
        );
    }

    #[test]
    fn csv_unterminated_quote_is_an_error() {
        assert!(parse(Format::Csv, &["a", "\"open"]).is_err());
    }

    #[test]
    fn csv_quoting_round_trips() {
        for v in ["plain", "a,b", "q\"uote", "new\nline", ""] {
            let mut s = String::new();
            csv_field(v, &mut s);
            s.push(',');
            csv_field("x", &mut s);
            assert_eq!(parse_csv_row(&s).unwrap(), [v, "x"]);
        }
    }
}
