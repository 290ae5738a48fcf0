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
//! First it streams 1 GiB of generated log lines through the decoder and
//! reports peak RSS, which must stay far below the data size.
//!
//! Run: `cargo bench --bench download` (add `-- --quick` for a short run).

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use logexport::download::{self, ByteStream};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

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

fn best_of<F: FnMut() -> usize>(rounds: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 5 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Memory first, so the peak it reports is not set by the larger inputs
    // of the throughput runs below. 1 GiB (256 MiB with --quick) of lines,
    // generated and gzipped lazily chunk by chunk, decoded and counted
    // without retention.
    let total: usize = if quick { 256 << 20 } else { 1 << 30 };
    let block = Bytes::from(log_lines(4_000));
    let blocks = total / block.len();
    let before = peak_rss_mib();
    let stream = futures::stream::iter(0..blocks).map(move |_| Ok(Bytes::from(gzip(&block))));
    let t = Instant::now();
    let lines = rt.block_on(async {
        let (reader, _) = download::decode(Box::pin(stream)).await.unwrap();
        download::lines(reader)
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await
            .unwrap()
    });
    let after = peak_rss_mib();
    println!(
        "streamed {:.0} MiB uncompressed ({lines} lines) in {:.1} s; peak RSS {before:.0} MiB before, {after:.0} MiB after ({:.3} of the data size)",
        total as f64 / 1048576.0,
        t.elapsed().as_secs_f64(),
        after / (total as f64 / 1048576.0)
    );

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
        rt.block_on(async {
            use tokio::io::AsyncBufReadExt;
            let (mut reader, _) = download::decode(chunked(&gz)).await.unwrap();
            let mut out = download::AtomicFile::create(dir.path().join("records.ndjson"))
                .await
                .unwrap();
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
        })
    });
    assert_eq!(n, base_lines);
    report(
        "output records (byte-level lines, the stdout path)",
        records,
    );
}
