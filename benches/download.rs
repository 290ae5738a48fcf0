//! Benchmark of the streaming download path (`logexport::download`).
//!
//! Every figure is printed as a ratio against a baseline measured in the same
//! run on the same bytes, so the numbers mean something on any machine:
//! - decode: our async sniff + gunzip (+ untar) + line split, against a plain
//!   synchronous `flate2` + `BufRead::lines` loop;
//! - atomic write: temp file + fsync + rename, against `std::fs::write`;
//! - output paths (decoded file, records as NDJSON): our async pipeline,
//!   against synchronous `flate2` + std `File` + `BufWriter` (+ fsync, as
//!   ours does) over the same bytes.
//!
//! Last, for each output path, peak RSS while 100 MiB and 1 GiB of log
//! lines go through it, each case in a child process of its own (the same
//! binary, re-run with one case selected) so one case's peak cannot hide
//! another's. It must stay flat: the same at 1 GiB as at 100 MiB.
//!
//! Run: `cargo bench --bench download` (add `-- --quick` for a short run).

mod support;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use logexport::download::{self, ByteStream};
use std::io::{BufRead, Write};
use std::time::Duration;
use support::best_of;

fn log_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 160);
    for i in 0..n {
        writeln!(
            out,
            r#"{{"ts":{{"$date":"2026-11-24T06:{:02}:{:02}.{:03}Z"}},"atype":"authCheck","local":{{"ip":"10.0.0.{}","port":27017}},"param":{{"command":"find","ns":"app.users","seq":{i}}},"result":0}}"#,
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i % 250
        )
        .unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn chunked(bytes: &Bytes) -> ByteStream {
    let chunks: Vec<logexport::Result<Bytes>> = (0..bytes.len())
        .step_by(16 * 1024)
        .map(|i| Ok(bytes.slice(i..(i + 16 * 1024).min(bytes.len()))))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// The output paths whose peak memory is measured.
const PATHS: [&str; 4] = ["lines", "decoded", "records", "raw"];

/// One case alone, in a child process: `PATH:MIB` pushes MIB MiB of log
/// lines (one gzip member repeated, so generating them costs nothing)
/// through the output path, then reports the peak RSS.
fn child(case: &str, rt: &tokio::runtime::Runtime) {
    let (path, mib) = case.split_once(':').expect("PATH:MIB");
    let mib: usize = mib.parse().expect("MiB");
    let block = log_lines(4_000);
    let member = Bytes::from(gzip(&block));
    let members = (mib << 20) / block.len();
    let body = move || -> ByteStream {
        let member = member.clone();
        Box::pin(futures::stream::iter(0..members).map(move |_| Ok(member.clone())))
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    support::reset_peak_rss();
    rt.block_on(async {
        match path {
            "lines" => {
                let (reader, _) = download::decode(body()).await.unwrap();
                let n = download::lines(reader)
                    .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                    .await
                    .unwrap();
                assert_eq!(n, members * 4_000);
            }
            "decoded" => {
                let (reader, _) = download::decode(body()).await.unwrap();
                download::write_decoded(&dest, reader).await.unwrap();
            }
            "records" => {
                records_to_file(body(), &dest).await;
            }
            "raw" => {
                download::write_raw(&dest, body(), true).await.unwrap();
            }
            other => panic!("unknown path {other}"),
        }
    });
    support::report_child_peak();
}

/// Byte-level lines into an atomic file: the stdout and checkpoint paths.
async fn records_to_file(body: ByteStream, dest: &std::path::Path) -> usize {
    use tokio::io::AsyncBufReadExt;
    let (mut reader, _) = download::decode(body).await.unwrap();
    let mut out = download::AtomicFile::create(dest).await.unwrap();
    let mut lines = download::LineNormalizer::new();
    loop {
        let chunk = reader.fill_buf().await.unwrap();
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        lines.push(chunk, out.buffer()).unwrap();
        out.send_if_full().await.unwrap();
        reader.as_mut().consume(len);
    }
    let mut tail = Vec::new();
    let n = lines.finish(&mut tail);
    out.write_all(&tail).await.unwrap();
    out.commit().await.unwrap();
    n as usize
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 5 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(case) = support::child_case() {
        child(&case, &rt);
        return;
    }

    let plain = log_lines(if quick { 100_000 } else { 400_000 });
    let gz = Bytes::from(gzip(&plain));
    let mib = plain.len() as f64 / (1024.0 * 1024.0);
    println!(
        "input: {mib:.1} MiB of JSON lines, {:.1} MiB gzipped",
        gz.len() as f64 / 1048576.0
    );

    let (base, base_lines) = best_of(rounds, || {
        let r = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(&gz[..]));
        r.lines()
            .map(Result::unwrap)
            .filter(|l| !l.is_empty())
            .count()
    });
    let (ours, our_lines) = best_of(rounds, || {
        rt.block_on(async {
            let (reader, _) = download::decode(chunked(&gz)).await.unwrap();
            download::lines(reader)
                .try_fold(0, |n, _| async move { Ok(n + 1) })
                .await
                .unwrap()
        })
    });
    assert_eq!(
        base_lines, our_lines,
        "both paths must see the same records"
    );
    println!(
        "decode gzip → lines: baseline {:.0} MiB/s, logexport {:.0} MiB/s, ratio {:.2}x baseline time",
        mib / base.as_secs_f64(),
        mib / ours.as_secs_f64(),
        ours.as_secs_f64() / base.as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let (base_w, _) = best_of(rounds, || {
        std::fs::write(dir.path().join("plain.gz"), &gz).unwrap();
        gz.len()
    });
    let (ours_w, _) = best_of(rounds, || {
        rt.block_on(download::write_raw(
            dir.path().join("atomic.gz"),
            chunked(&gz),
            true,
        ))
        .unwrap() as usize
    });
    println!(
        "write .gz: baseline std::fs::write {:.1} ms, atomic+verified {:.1} ms, ratio {:.2}x (includes fsync and gzip verification)",
        base_w.as_secs_f64() * 1e3,
        ours_w.as_secs_f64() * 1e3,
        ours_w.as_secs_f64() / base_w.as_secs_f64()
    );

    // The output paths, each against the same synchronous baseline.
    let path = dir.path().join("baseline.ndjson");
    let (base_o, _) = best_of(rounds, || {
        let mut r = flate2::read::MultiGzDecoder::new(&gz[..]);
        let f = std::fs::File::create(&path).unwrap();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let n = std::io::copy(&mut r, &mut w).unwrap();
        w.into_inner().unwrap().sync_all().unwrap();
        n as usize
    });
    let report = |what: &str, t: Duration| {
        println!(
            "{what}: {:.0} MiB/s, ratio {:.2}x the baseline's time (baseline {:.0} MiB/s)",
            mib / t.as_secs_f64(),
            t.as_secs_f64() / base_o.as_secs_f64(),
            mib / base_o.as_secs_f64()
        );
    };
    let (decoded, n) = best_of(rounds, || {
        rt.block_on(async {
            let (reader, _) = download::decode(chunked(&gz)).await.unwrap();
            download::write_decoded(dir.path().join("decoded.ndjson"), reader)
                .await
                .unwrap() as usize
        })
    });
    assert_eq!(n, plain.len());
    report("output -o FILE (decoded, atomic)", decoded);
    let (records, n) = best_of(rounds, || {
        rt.block_on(records_to_file(
            chunked(&gz),
            &dir.path().join("records.ndjson"),
        ))
    });
    assert_eq!(n, base_lines);
    report(
        "output records (byte-level lines, the stdout path)",
        records,
    );

    write_back(&rt, dir.path(), quick);

    println!("peak RSS per output path (each case in a child process):");
    for path in PATHS {
        let peaks: Vec<String> = [100, 1024]
            .iter()
            .map(|mib| match support::peak_rss_of(&format!("{path}:{mib}")) {
                Some((peak, start)) => format!("{peak:.1} MiB at {mib} MiB (from {start:.1})"),
                None => format!("not measured at {mib} MiB"),
            })
            .collect();
        println!("  {path}: {}", peaks.join(", "));
    }
}

/// The final fsync before the rename, with the write-back an `AtomicFile`
/// starts during the download against a plain file written the same way
/// (a dedicated writing thread) and synced only at the end.
fn write_back(rt: &tokio::runtime::Runtime, dir: &std::path::Path, quick: bool) {
    let size: usize = if quick { 100 << 20 } else { 256 << 20 };
    let block = vec![b'x'; 1 << 20];
    let plain = |path: std::path::PathBuf| {
        rt.block_on(async {
            let t = std::time::Instant::now();
            let mut w = download::BackgroundWriter::new(std::fs::File::create(&path).unwrap());
            for _ in 0..size >> 20 {
                w.write_all(&block).await.unwrap();
            }
            let file = w.finish().await.unwrap();
            let s = std::time::Instant::now();
            file.sync_all().unwrap();
            (t.elapsed(), s.elapsed())
        })
    };
    let ours = |path: std::path::PathBuf| {
        rt.block_on(async {
            let t = std::time::Instant::now();
            let mut w = download::AtomicFile::create(&path).await.unwrap();
            for _ in 0..size >> 20 {
                w.write_all(&block).await.unwrap();
            }
            let s = std::time::Instant::now();
            w.commit().await.unwrap();
            (t.elapsed(), s.elapsed())
        })
    };
    let best = |f: &dyn Fn(std::path::PathBuf) -> (Duration, Duration), name: &str| {
        let mut out = (Duration::MAX, Duration::MAX);
        for round in 0..3 {
            let r = f(dir.join(format!("{name}-{round}")));
            let _ = std::fs::remove_file(dir.join(format!("{name}-{round}")));
            out = out.min(r);
        }
        out
    };
    let (pt, pf) = best(&plain, "plain");
    let (ot, of) = best(&ours, "ours");
    println!(
        "write {} MiB then fsync: without write-back {:.0} ms total, final fsync {:.0} ms; with write-back (AtomicFile) {:.0} ms total, final fsync + rename {:.0} ms",
        size >> 20,
        pt.as_secs_f64() * 1e3,
        pf.as_secs_f64() * 1e3,
        ot.as_secs_f64() * 1e3,
        of.as_secs_f64() * 1e3
    );
}
