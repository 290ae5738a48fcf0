//! The export file: a gzip of a tar (written by the `tar` crate) whose
//! entries are parts of about 4 MiB of JSON lines or CSV, so large exports
//! are split into several files as CLS splits them.

use super::data::LogSpec;
use super::types::Format;
use std::io::{self, Write};

/// Tar entries are cut at about this size, as large exports are split into
/// several files; it also bounds the memory one download uses.
const PART_BYTES: usize = 4 * 1024 * 1024;

/// A writer that only counts, for sizing an archive without keeping it.
pub(super) struct CountingWriter(pub(super) u64);

impl Write for CountingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the export file: a gzip of a tar (written by the `tar` crate)
/// holding the records in parts of about [`PART_BYTES`], each CSV part with
/// its own header row. Only one part is ever held in memory. Deterministic
/// for a given input.
pub(super) fn write_archive<W: Write>(
    spec: &LogSpec,
    format: Format,
    id: &str,
    mtime: u32,
    out: W,
) -> io::Result<()> {
    let gz = flate2::GzBuilder::new()
        .mtime(mtime)
        .write(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let ext = format.as_str();
    let shape = spec.shape();
    let header_row = (format == Format::Csv).then(|| shape.csv_header());
    let mut part: Vec<u8> = Vec::with_capacity(PART_BYTES + 4096);
    let mut part_records = 0u64;
    let mut part_no = 0u32;
    let start_part = |part: &mut Vec<u8>| {
        part.clear();
        if let Some(h) = &header_row {
            part.extend_from_slice(h);
        }
    };
    start_part(&mut part);
    let flush = |part: &[u8],
                 part_no: &mut u32,
                 tar: &mut tar::Builder<flate2::write::GzEncoder<W>>|
     -> io::Result<()> {
        let name = format!("{id}_{:03}.{ext}", *part_no);
        *part_no += 1;
        let mut header = tar::Header::new_ustar();
        header.set_size(part.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::from(mtime));
        tar.append_data(&mut header, name, part)
    };
    let n = spec.len();
    let mut line = Vec::with_capacity(512);
    for i in 0..n {
        line.clear();
        let record = spec.record_with(i, &shape);
        match format {
            Format::Json => record.write_json_line(&mut line),
            Format::Csv => record.write_csv_line(&shape, &mut line),
        }
        if part_records > 0 && part.len() + line.len() > PART_BYTES {
            flush(&part, &mut part_no, &mut tar)?;
            start_part(&mut part);
            part_records = 0;
        }
        part.extend_from_slice(&line);
        part_records += 1;
    }
    if part_records > 0 || part_no == 0 {
        flush(&part, &mut part_no, &mut tar)?;
    }
    // The two end-of-archive blocks, then the gzip trailer.
    tar.into_inner()?.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tencent_cls::{Order, DEMO_TOPIC_ID};

    #[test]
    fn archive_is_deterministic_and_decodes() {
        let s = LogSpec {
            topic_id: DEMO_TOPIC_ID.into(),
            query: "*".into(),
            from_ms: 0,
            to_ms: 200_000,
            count: 1_500,
            order: Order::Desc,
        };
        let mut a = Vec::new();
        write_archive(&s, Format::Csv, "export-x", 1_700_000_000, &mut a).unwrap();
        let mut counter = CountingWriter(0);
        write_archive(&s, Format::Csv, "export-x", 1_700_000_000, &mut counter).unwrap();
        assert_eq!(a.len() as u64, counter.0);
        assert_eq!(&a[..2], &[0x1f, 0x8b]);
    }
}
