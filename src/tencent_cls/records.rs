//! Export files to NDJSON: JSON lines as they are, CSV rows as JSON objects
//! keyed by the header.
//!
//! [`NdjsonConverter`] runs on the decoding thread (see
//! [`crate::download::Transform`]), chunk by chunk, so memory stays bounded
//! by the longest record whatever the file size, and nothing is allocated
//! per record:
//! - a JSON line is checked to be one JSON value and copied as it is, byte
//!   for byte (lone UTF-16 surrogate escapes become U+FFFD under the crate's
//!   [text policy](crate::download));
//! - CSV is read by `csv-core`'s state machine (RFC 4180: quoted fields may
//!   hold commas, quotes and line breaks; CRLF, LF or CR end a record), in
//!   time linear in the input however long a multi-line field is. The first
//!   row is the header (a byte-order mark dropped); later rows become
//!   objects in header order, extra fields as `column_N`; a header row
//!   repeated by a later file of the same archive is skipped.
//!
//! Every record is written as one line ending in `\n`.

use super::types::Format;
use crate::download::{Carry, Replacements, Transform, MAX_LINE_BYTES};
use crate::{Error, Result};

/// Turns the decoded text of an export file into NDJSON records.
#[derive(Debug)]
pub(crate) struct NdjsonConverter {
    format: Format,
    /// JSON: the start of a line cut by the chunk boundary.
    partial: Carry,
    /// JSON: lines seen so far, for error messages.
    line_no: u64,
    csv: CsvRows,
    replacements: Replacements,
}

impl NdjsonConverter {
    /// A converter for a file of `format`, counting the surrogate escapes
    /// it replaces into `replacements`.
    pub(crate) fn new(format: Format, replacements: Replacements) -> Self {
        NdjsonConverter {
            format,
            partial: Carry::default(),
            line_no: 0,
            csv: CsvRows::default(),
            replacements,
        }
    }

    fn push_json(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut partial = std::mem::take(&mut self.partial);
        let rest = partial.complete(chunk, |line| self.json_line(line, out));
        self.partial = partial;
        let Some(rest) = rest? else {
            return Ok(());
        };
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', rest) {
            self.json_line(&rest[start..nl], out)?;
            start = nl + 1;
        }
        self.partial.keep(&rest[start..])
    }

    /// Checks one line and copies it to `out`; blank lines carry nothing.
    fn json_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.line_no += 1;
        let line = line.trim_ascii();
        if line.is_empty() || crate::download::is_blank(line) {
            return Ok(());
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(Error::decode(format!(
                "line {} of the export is longer than {MAX_LINE_BYTES} bytes",
                self.line_no
            )));
        }
        // The usual line has no escape at all: checked and copied as it is.
        if memchr::memchr(b'\\', line).is_none() {
            serde_json::from_slice::<serde::de::IgnoredAny>(line).map_err(|e| self.not_json(e))?;
            out.extend_from_slice(line);
            out.push(b'\n');
            return Ok(());
        }
        // Decoded text is UTF-8 by the text policy.
        let text = std::str::from_utf8(line).map_err(|e| self.not_json(e))?;
        let (text, replaced) = crate::download::repair_json_surrogates(text);
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| self.not_json(e))?;
        self.replacements.add(replaced);
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
        Ok(())
    }

    fn not_json(&self, e: impl std::fmt::Display) -> Error {
        Error::decode(format!(
            "line {} of the export is not JSON: {e}",
            self.line_no
        ))
    }
}

impl Transform for NdjsonConverter {
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self.format {
            Format::Json => self.push_json(data, out),
            Format::Csv => self.csv.push(data, out, false),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        match self.format {
            Format::Json => {
                let line = self.partial.take();
                self.json_line(&line, out)
            }
            Format::Csv => self.csv.push(&[], out, true),
        }
    }
}

/// CSV rows to JSON objects, fed in chunks.
#[derive(Debug)]
struct CsvRows {
    reader: csv_core::Reader,
    /// The fields of the record being read, one after another.
    fields: Vec<u8>,
    /// Where each field ends in `fields`.
    ends: Vec<usize>,
    /// Bytes and ends of the current record filled so far.
    filled: usize,
    nends: usize,
    /// Quote characters read since the record started: an odd count at the
    /// end of the input means a quoted field was never closed.
    quotes: u64,
    header: Option<Header>,
}

impl Default for CsvRows {
    fn default() -> Self {
        CsvRows {
            reader: csv_core::Reader::new(),
            fields: vec![0; 64 * 1024],
            ends: vec![0; 64],
            filled: 0,
            nends: 0,
            quotes: 0,
            header: None,
        }
    }
}

/// The header row: its fields (to recognise it repeated) and each column's
/// key, already written as JSON (`"key":`).
#[derive(Debug)]
struct Header {
    fields: Vec<u8>,
    ends: Vec<usize>,
    keys: Vec<Vec<u8>>,
    /// Whether a later column has the same name: its value wins, as it
    /// would in a map.
    shadowed: Vec<Option<usize>>,
}

const BOM: &[u8] = b"\xef\xbb\xbf";

impl CsvRows {
    /// Reads `input` (all of it, or with `at_end` nothing more), writing each
    /// complete row to `out`.
    fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>, at_end: bool) -> Result<()> {
        loop {
            let (result, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.fields[self.filled..],
                &mut self.ends[self.nends..],
            );
            self.quotes += memchr::memchr_iter(b'"', &input[..nin]).count() as u64;
            input = &input[nin..];
            self.filled += nout;
            self.nends += nend;
            match result {
                // With `at_end`, the reader answers Record or End instead.
                csv_core::ReadRecordResult::InputEmpty => return Ok(()),
                csv_core::ReadRecordResult::OutputFull => self.grow()?,
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let more = self.ends.len();
                    self.ends.resize(more * 2, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    if at_end && self.quotes % 2 == 1 {
                        return Err(Error::decode("the CSV export ends inside a quoted field"));
                    }
                    self.record(out);
                    self.filled = 0;
                    self.nends = 0;
                    self.quotes = 0;
                }
                csv_core::ReadRecordResult::End => return Ok(()),
            }
        }
    }

    fn grow(&mut self) -> Result<()> {
        if self.fields.len() >= MAX_LINE_BYTES {
            return Err(Error::decode(format!(
                "a CSV record near line {} runs past {MAX_LINE_BYTES} bytes",
                self.reader.line()
            )));
        }
        let size = (self.fields.len() * 2).min(MAX_LINE_BYTES);
        self.fields.resize(size, 0);
        Ok(())
    }

    /// The fields of the record just read, a leading byte-order mark dropped
    /// (each file of an archive may start with one).
    fn current(&self) -> (&[u8], impl Iterator<Item = std::ops::Range<usize>> + '_) {
        let skip = if self.fields[..self.filled].starts_with(BOM) && self.ends[0] >= BOM.len() {
            BOM.len()
        } else {
            0
        };
        let ends = &self.ends[..self.nends];
        let ranges = (0..ends.len()).map(move |i| {
            let start = if i == 0 { skip } else { ends[i - 1] };
            start..ends[i]
        });
        (&self.fields[..self.filled], ranges)
    }

    fn record(&mut self, out: &mut Vec<u8>) {
        let (data, ranges) = self.current();
        // A line of spaces between records carries nothing (a quoted
        // blank is a value).
        let blank = self.nends == 1 && self.quotes == 0;
        if blank && crate::download::is_blank(&data[..self.ends[0]]) {
            return;
        }
        let Some(header) = &self.header else {
            self.header = Some(Header::new(data, ranges));
            return;
        };
        if header.is(data, self.current().1) {
            return;
        }
        out.push(b'{');
        let mut first = true;
        for (i, range) in ranges.enumerate() {
            if header
                .shadowed
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|j| j < self.nends)
            {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            match header.keys.get(i) {
                Some(key) => out.extend_from_slice(key),
                None => {
                    let _ = std::io::Write::write_fmt(out, format_args!("\"column_{}\":", i + 1));
                }
            }
            json_string(&data[range], out);
        }
        out.extend_from_slice(b"}\n");
    }
}

impl Header {
    fn new(data: &[u8], ranges: impl Iterator<Item = std::ops::Range<usize>>) -> Self {
        let mut fields = Vec::new();
        let mut ends = Vec::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for range in ranges {
            let name = &data[range];
            fields.extend_from_slice(name);
            ends.push(fields.len());
            let mut key = Vec::with_capacity(name.len() + 3);
            json_string(name, &mut key);
            key.push(b':');
            keys.push(key);
        }
        let shadowed = (0..keys.len())
            .map(|i| (i + 1..keys.len()).rev().find(|&j| keys[j] == keys[i]))
            .collect();
        Header {
            fields,
            ends,
            keys,
            shadowed,
        }
    }

    /// Whether a row is this header again.
    fn is(&self, data: &[u8], ranges: impl Iterator<Item = std::ops::Range<usize>>) -> bool {
        let mut n = 0;
        for range in ranges {
            let start = if n == 0 { 0 } else { self.ends[n - 1] };
            match self.ends.get(n) {
                Some(&end) if self.fields[start..end] == data[range] => n += 1,
                _ => return false,
            }
        }
        n == self.ends.len()
    }
}

/// Writes `value` as a JSON string. Decoded text is UTF-8 by the text
/// policy, and CSV splits only at ASCII bytes, so a field is UTF-8 too.
fn json_string(value: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(value);
    serde_json::to_writer(out, text.as_ref()).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Converts `text`, cut into pieces of `cut` bytes.
    fn convert(format: Format, text: &[u8], cut: usize) -> Result<Vec<u8>> {
        let mut c = NdjsonConverter::new(format, Replacements::new());
        let mut out = Vec::new();
        for piece in text.chunks(cut.max(1)) {
            c.push(piece, &mut out)?;
        }
        c.finish(&mut out)?;
        Ok(out)
    }

    fn values(format: Format, text: &str) -> Result<Vec<Value>> {
        Ok(parse(&convert(format, text.as_bytes(), 7)?))
    }

    fn parse(ndjson: &[u8]) -> Vec<Value> {
        ndjson
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn json_lines_pass_through_byte_for_byte() {
        let text = "{\"b\": 1.50,  \"a\":\"\\u00e9\"}\r\n\n  \n[1 , 2]\n{\"z\":1e3}";
        for cut in 1..=text.len() {
            assert_eq!(
                convert(Format::Json, text.as_bytes(), cut).unwrap(),
                b"{\"b\": 1.50,  \"a\":\"\\u00e9\"}\n[1 , 2]\n{\"z\":1e3}\n",
                "cut {cut}"
            );
        }
        let err = values(Format::Json, "{\"a\":1}\nnope\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = values(Format::Json, "{\"a\":1}\n{\"a\":\n2}\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn json_lone_surrogates_become_replacement_characters() {
        let replacements = Replacements::new();
        let mut c = NdjsonConverter::new(Format::Json, replacements.clone());
        let mut out = Vec::new();
        c.push(b"{\"a\":\"x\\ud800y\"}\n", &mut out).unwrap();
        c.finish(&mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!({"a": "x\u{FFFD}y"}));
        assert_eq!(replacements.get(), 1);
    }

    #[test]
    fn csv_rows_become_objects() {
        let cases: [(&str, Vec<Value>); 3] = [
            (
                "\u{feff}a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"multi\nline\",\n\u{feff}a,b,c\n3,,z\n4,5,6,7\n8\n",
                vec![
                    json!({"a": "1", "b": "x, y", "c": "say \"hi\""}),
                    json!({"a": "2", "b": "multi\nline", "c": ""}),
                    json!({"a": "3", "b": "", "c": "z"}),
                    json!({"a": "4", "b": "5", "c": "6", "column_4": "7"}),
                    json!({"a": "8"}),
                ],
            ),
            // Blank lines and CRLF inside quotes are kept.
            (
                "a,b\r\n1,\"line one\r\n\r\n\nline four\"\r\n\n2,x\r\n",
                vec![
                    json!({"a": "1", "b": "line one\r\n\r\n\nline four"}),
                    json!({"a": "2", "b": "x"}),
                ],
            ),
            ("a\n\"closed\"", vec![json!({"a": "closed"})]),
        ];
        for (text, want) in cases {
            assert_eq!(values(Format::Csv, text).unwrap(), want, "{text:?}");
        }
        // An unterminated quote is an error.
        assert!(values(Format::Csv, "a\n\"open\n").is_err());
        assert!(values(Format::Csv, "a\n\"open").is_err());
    }

    #[test]
    fn csv_keys_keep_header_order_and_the_last_duplicate_wins() {
        let out = convert(Format::Csv, b"z,a,z\n1,2,3\n4,5\n", 1000).unwrap();
        assert_eq!(
            out,
            b"{\"a\":\"2\",\"z\":\"3\"}\n{\"z\":\"4\",\"a\":\"5\"}\n"
        );
    }

    #[test]
    fn a_long_multi_line_field_is_linear_and_bounded() {
        let mut text = b"a,b\n1,\"".to_vec();
        for _ in 0..200_000 {
            text.extend_from_slice(b"a line of a long field\n");
        }
        text.extend_from_slice(b"\"\n");
        let out = convert(Format::Csv, &text, 64 * 1024).unwrap();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let mut open = b"a\n\"".to_vec();
        open.resize(MAX_LINE_BYTES + 10, b'x');
        let err = convert(Format::Csv, &open, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("runs past"), "{err}");
    }

    /// A plain RFC 4180 reader, for comparison: records end at CR, LF or
    /// CRLF outside quotes, lines with nothing on them are skipped. Each
    /// record comes with whether it had a quote (a quoted blank is a value).
    fn reference_rows(text: &str) -> Vec<(Vec<String>, bool)> {
        let mut rows = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            while matches!(chars.peek(), Some('\r' | '\n')) {
                chars.next();
            }
            if chars.peek().is_none() {
                return rows;
            }
            let mut fields = vec![String::new()];
            let mut quoted = false;
            loop {
                let field = fields.last_mut().unwrap();
                match chars.next() {
                    None => break,
                    Some('"') if field.is_empty() => {
                        quoted = true;
                        while let Some(c) = chars.next() {
                            if c == '"' {
                                if chars.peek() == Some(&'"') {
                                    chars.next();
                                } else {
                                    break;
                                }
                            }
                            field.push(c);
                        }
                    }
                    Some(',') => fields.push(String::new()),
                    Some('\r') => {
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                        break;
                    }
                    Some('\n') => break,
                    Some(c) => field.push(c),
                }
            }
            rows.push((fields, quoted));
        }
    }

    /// What the conversion should give for `text`, by the reference reader.
    fn reference(text: &str) -> Vec<Value> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rows = reference_rows(text)
            .into_iter()
            .filter(|(f, quoted)| *quoted || f.len() > 1 || !f[0].trim().is_empty())
            .map(|(f, _)| f);
        let Some(header) = rows.next() else {
            return Vec::new();
        };
        rows.filter(|r| *r != header)
            .map(|r| {
                let mut obj = serde_json::Map::new();
                for (i, v) in r.into_iter().enumerate() {
                    let key = header
                        .get(i)
                        .cloned()
                        .unwrap_or(format!("column_{}", i + 1));
                    obj.insert(key, Value::String(v));
                }
                Value::Object(obj)
            })
            .collect()
    }

    fn csv_text(
        header: &[String],
        rows: &[(Vec<String>, bool, bool, bool)],
        bom: bool,
        end: bool,
    ) -> String {
        let field = |v: &str, quote: bool, out: &mut String| {
            if quote || v.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&v.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(v);
            }
        };
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(&header.join(","));
        text.push_str("\r\n");
        for (i, (values, quote, crlf, blank_after)) in rows.iter().enumerate() {
            for (j, v) in values.iter().enumerate() {
                if j > 0 {
                    text.push(',');
                }
                field(v, *quote, &mut text);
            }
            let last = i + 1 == rows.len();
            if !last || end {
                text.push_str(if *crlf { "\r\n" } else { "\n" });
            }
            if *blank_after && !last {
                text.push('\n');
            }
        }
        text
    }

    proptest::proptest! {
        #[test]
        fn csv_matches_a_reference_reader_however_it_is_cut(
            header in proptest::collection::btree_set("[a-z]{1,4}", 1..5),
            rows in proptest::collection::vec(
                (
                    proptest::collection::vec("[a-c ,\"\r\né]{0,6}", 1..7),
                    proptest::bool::ANY,
                    proptest::bool::ANY,
                    proptest::bool::ANY,
                ),
                0..12,
            ),
            bom in proptest::bool::ANY,
            end in proptest::bool::ANY,
            repeat_header_at in proptest::option::of(0usize..12),
            cut in 1usize..40,
        ) {
            let header: Vec<String> = header.into_iter().collect();
            let mut rows = rows;
            if let Some(at) = repeat_header_at.filter(|at| *at < rows.len()) {
                rows.insert(at, (header.clone(), false, true, false));
            }
            let text = csv_text(&header, &rows, bom, end);
            let want = reference(&text);
            let got = parse(&convert(Format::Csv, text.as_bytes(), cut).unwrap());
            proptest::prop_assert_eq!(got, want, "{:?}", text);
        }
    }
}
