//! Benchmark of the CLS export path: a `.tar.gz` of JSON lines, or of CSV
//! with a header and multi-line quoted fields, to NDJSON.
//!
//! Ours is the library's whole download path (`ExportLogs::save(path, SaveMode::Decoded)` and
//! `ExportLogs::records`) against a loopback server that serves the archive
//! from memory. The baseline, measured in the same run on the same bytes, is
//! what a user would write in-process: synchronous `flate2` + `tar`, a
//! simple line loop (JSON, each line checked) or `csv-core` loop (CSV, each
//! row written as an object), a `BufWriter` over a std `File`, and an fsync.
//! Peak RSS is measured per case in a child process.
//!
//! Run: `cargo bench --bench cls_export` (add `-- --quick` for a short run).

mod support;

use futures::TryStreamExt;
use logexport::tencent_cls::{Client, Credentials, ExportOptions, Format, SaveMode};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::Duration;
use support::{best_of, mib_per_s};

const TOPIC: &str = "5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f";
const EXPORT: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// Files per archive: CLS splits large exports, each CSV file with its header.
const FILES: usize = 4;

fn json_file(records: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(records * 220);
    for i in seed..seed + records {
        writeln!(
            out,
            r#"{{"__TIMESTAMP__":{},"__SOURCE__":"10.0.{}.{}","__FILENAME__":"/var/log/app/access.log","__CONTENT__":"GET /api/v1/items/{i}?page={} HTTP/1.1 200 {} \"Mozilla/5.0\"","level":"INFO"}}"#,
            1_764_000_000_000u64 + i as u64,
            i % 200,
            i % 250,
            i % 17,
            i % 9000
        )
        .unwrap();
    }
    out
}

fn csv_file(records: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(records * 220);
    out.extend_from_slice(b"__TIMESTAMP__,__SOURCE__,__FILENAME__,__CONTENT__,level\r\n");
    for i in seed..seed + records {
        write!(
            out,
            "{},10.0.{}.{},/var/log/app/app.log,",
            1_764_000_000_000u64 + i as u64,
            i % 200,
            i % 250
        )
        .unwrap();
        if i % 10 == 0 {
            // A stack trace: a quoted field over many lines, with quotes.
            out.extend_from_slice(b"\"panic: \"\"index out of range\"\"");
            for f in 0..24 {
                write!(
                    out,
                    "\n    at app::handler::step_{f} (src/handler.rs:{})",
                    100 + f
                )
                .unwrap();
            }
            out.extend_from_slice(b"\",ERROR\r\n");
        } else {
            writeln!(out, "\"GET /api/v1/items/{i}, page {}\",INFO\r", i % 17).unwrap();
        }
    }
    out
}

/// A `.tar.gz` of `FILES` files of about `size` bytes in all.
fn archive(format: Format, size: usize) -> (Vec<u8>, usize) {
    let per_file = size / FILES / 200;
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut plain = 0;
    for f in 0..FILES {
        let data = match format {
            Format::Csv => csv_file(per_file, f * per_file),
            _ => json_file(per_file, f * per_file),
        };
        plain += data.len();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("part-{f}.log"), &data[..])
            .unwrap();
    }
    let gz = tar.into_inner().unwrap();
    (gz.finish().unwrap(), plain)
}

/// A CLS API on loopback whose one export is Completed and served from
/// `/file`. Returns its base URL.
async fn serve(format: Format, file: bytes::Bytes) -> String {
    use axum::http::{header, HeaderMap};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cos = format!("{url}/file?sign=x");
    let size = file.len();
    let format = match format {
        Format::Csv => "csv",
        _ => "json",
    };
    let app = axum::Router::new()
        .route(
            "/file",
            axum::routing::get(move || {
                let file = file.clone();
                async move { ([(header::CONTENT_TYPE, "application/octet-stream")], file) }
            }),
        )
        .fallback(move |headers: HeaderMap| {
            let cos = cos.clone();
            async move {
                let action = headers
                    .get("x-tc-action")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let body = match action {
                    "DescribeExports" => serde_json::json!({"Response": {
                        "Exports": [{
                            "TopicId": TOPIC, "ExportId": EXPORT, "Query": "*",
                            "FileName": "x.tar.gz", "FileSize": size, "Order": "desc",
                            "Format": format, "Count": 10, "Status": "Completed",
                            "From": 0, "To": 1, "CosPath": cos,
                            "CreateTime": "2026-03-01 00:00:00", "SyntaxRule": 1
                        }],
                        "TotalCount": 1, "RequestId": "req-1"}}),
                    _ => serde_json::json!({"Response": {"RequestId": "req-2"}}),
                };
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn client(url: &str) -> Client {
    Client::builder()
        .endpoint(url)
        .credentials(Credentials::new("AKIDEXAMPLE", "secretkey"))
        .region("ap-guangzhou")
        .build()
        .unwrap()
}

fn options() -> ExportOptions {
    ExportOptions::default().poll_interval(Duration::from_millis(10), Duration::from_millis(10))
}

/// The in-process baseline: records to NDJSON with synchronous code.
fn baseline(format: Format, gz: &[u8], out: &Path) -> u64 {
    let f = std::fs::File::create(out).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(gz));
    let mut records = 0;
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        records += match format {
            Format::Csv => baseline_csv(entry, &mut w),
            _ => baseline_json(entry, &mut w),
        };
    }
    w.into_inner().unwrap().sync_all().unwrap();
    records
}

fn baseline_json(entry: impl Read, w: &mut impl Write) -> u64 {
    let mut r = std::io::BufReader::with_capacity(1 << 16, entry);
    let mut line = Vec::new();
    let mut n = 0;
    while r.read_until(b'\n', &mut line).unwrap() > 0 {
        let l = line.trim_ascii();
        if !l.is_empty() {
            serde_json::from_slice::<serde::de::IgnoredAny>(l).unwrap();
            w.write_all(l).unwrap();
            w.write_all(b"\n").unwrap();
            n += 1;
        }
        line.clear();
    }
    n
}

fn baseline_csv(mut entry: impl Read, w: &mut impl Write) -> u64 {
    let mut data = Vec::new();
    entry.read_to_end(&mut data).unwrap();
    let mut rdr = csv_core::Reader::new();
    let mut input = &data[..];
    let mut field = vec![0u8; 1 << 16];
    let mut ends = [0usize; 64];
    let mut header: Option<Vec<String>> = None;
    let mut n = 0;
    loop {
        let (res, nin, _, nends) = rdr.read_record(input, &mut field, &mut ends);
        input = &input[nin..];
        match res {
            csv_core::ReadRecordResult::Record => {
                let fields: Vec<&str> = (0..nends)
                    .map(|i| {
                        let start = if i == 0 { 0 } else { ends[i - 1] };
                        std::str::from_utf8(&field[start..ends[i]]).unwrap()
                    })
                    .collect();
                let Some(h) = &header else {
                    header = Some(fields.iter().map(|s| s.to_string()).collect());
                    continue;
                };
                w.write_all(b"{").unwrap();
                for (i, v) in fields.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",").unwrap();
                    }
                    serde_json::to_writer(&mut *w, &h[i]).unwrap();
                    w.write_all(b":").unwrap();
                    serde_json::to_writer(&mut *w, v).unwrap();
                }
                w.write_all(b"}\n").unwrap();
                n += 1;
            }
            csv_core::ReadRecordResult::End => return n,
            csv_core::ReadRecordResult::InputEmpty => {}
            csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {
                panic!("the bench's rows fit")
            }
        }
    }
}

fn run_ours(rt: &tokio::runtime::Runtime, url: &str, dest: &Path) -> u64 {
    rt.block_on(async {
        client(url)
            .resume_export(TOPIC, EXPORT, options())
            .save(dest, SaveMode::Decoded)
            .await
            .unwrap()
            .records
            .unwrap()
    })
}

fn run_records(rt: &tokio::runtime::Runtime, url: &str) -> u64 {
    rt.block_on(async {
        client(url)
            .resume_export(TOPIC, EXPORT, options())
            .records()
            .try_fold(0u64, |n, _| async move { Ok(n + 1) })
            .await
            .unwrap()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn format_of(name: &str) -> Format {
    if name.starts_with("csv") {
        Format::Csv
    } else {
        Format::Json
    }
}

/// One case alone, for its peak RSS: `json` or `csv`.
fn child(case: &str, size: usize) {
    let format = format_of(case);
    let (gz, _) = archive(format, size);
    let rt = runtime();
    let url = rt.block_on(serve(format, bytes::Bytes::from(gz)));
    let dir = tempfile::tempdir().unwrap();
    // Generating the archive is not part of the case.
    support::reset_peak_rss();
    run_ours(&rt, &url, &dir.path().join("out.ndjson"));
    support::report_child_peak();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 4 };
    let size: usize = if quick { 24 << 20 } else { 96 << 20 };
    if let Some(case) = support::child_case() {
        child(&case, size);
        return;
    }
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("json", Format::Json), ("csv", Format::Csv)] {
        let (gz, plain) = archive(format, size);
        let url = rt.block_on(serve(format, bytes::Bytes::from(gz.clone())));
        println!(
            "CLS {name}: {:.1} MiB in {FILES} files, {:.1} MiB as .tar.gz",
            plain as f64 / 1048576.0,
            gz.len() as f64 / 1048576.0
        );
        let (base, want) = best_of(rounds, || {
            baseline(format, &gz, &dir.path().join("b.ndjson"))
        });
        let (ours, got) = best_of(rounds, || run_ours(&rt, &url, &dir.path().join("o.ndjson")));
        assert_eq!(want, got, "both paths must see the same records");
        let (recs, got) = best_of(rounds, || run_records(&rt, &url));
        assert_eq!(want, got, "both paths must see the same records");
        println!(
            "  baseline (sync flate2 + tar + loop + BufWriter): {:.0} MiB/s",
            mib_per_s(plain, base)
        );
        println!(
            "  save decoded (-o FILE): {:.0} MiB/s, ratio {:.2}x the baseline's time",
            mib_per_s(plain, ours),
            ours.as_secs_f64() / base.as_secs_f64()
        );
        println!(
            "  records() stream: {:.0} MiB/s, ratio {:.2}x the baseline's time",
            mib_per_s(plain, recs),
            recs.as_secs_f64() / base.as_secs_f64()
        );
        if let Some((peak, start)) = support::peak_rss_of(name) {
            println!(
                "  save decoded peak RSS: {peak:.1} MiB ({start:.1} MiB when it started: the served .tar.gz and what generating it left)"
            );
        }
    }
}
