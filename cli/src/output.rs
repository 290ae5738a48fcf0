//! Where records go: stdout, or a file that appears only when complete.
//! Output paths are checked before any request, and every error names them.

use crate::failure::{at_path, Failure};
use logexport::download::{AtomicFile, BackgroundWriter, BoxReader, LineNormalizer};
use std::path::{Path, PathBuf};
use tokio::io::AsyncBufReadExt;

/// Hands `take` the decoded text of `reader` chunk by chunk as the decoder
/// produces it, so records reach the output with no `String` per line.
pub async fn each_chunk(
    mut reader: BoxReader,
    mut take: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    loop {
        let chunk = reader.fill_buf().await.map_err(logexport::Error::from)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len();
        take(chunk)?;
        reader.as_mut().consume(n);
    }
}

/// A line-oriented sink. Both kinds write from a dedicated thread in large
/// blocks, not one blocking-pool hand-off per write.
pub enum Sink {
    /// Standard output.
    Stdout(BackgroundWriter<std::io::Stdout>),
    /// A temporary file renamed into place by [`Sink::finish`].
    File(AtomicFile, PathBuf),
}

impl Sink {
    /// `None` or `-` is stdout; anything else an atomic file.
    pub async fn open(output: Option<&Path>) -> logexport::Result<Sink> {
        match output {
            None => Ok(Sink::stdout()),
            Some(p) if p == Path::new("-") => Ok(Sink::stdout()),
            Some(p) if p.is_dir() => Err(logexport::Error::invalid_input(
                "output",
                format!(
                    "{} is a directory; this command writes one file, so name it",
                    p.display()
                ),
            )),
            Some(p) => Ok(Sink::File(
                AtomicFile::create(p).await.map_err(|e| at_path(e, p))?,
                p.to_path_buf(),
            )),
        }
    }

    fn stdout() -> Sink {
        Sink::Stdout(BackgroundWriter::new(std::io::stdout()))
    }

    /// Writes one record followed by a newline, into the write buffer: no
    /// syscall per record.
    pub async fn line(&mut self, line: &str) -> logexport::Result<()> {
        self.record(line.as_bytes()).await
    }

    /// [`line`](Self::line) for a record's bytes (one line of NDJSON).
    pub async fn record(&mut self, record: &[u8]) -> logexport::Result<()> {
        self.put(|buf| {
            buf.extend_from_slice(record);
            buf.push(b'\n');
            Ok(())
        })
        .await
    }

    /// Builds output in the write buffer, which is handed on once full.
    async fn put(
        &mut self,
        build: impl FnOnce(&mut Vec<u8>) -> logexport::Result<()>,
    ) -> logexport::Result<()> {
        match self {
            Sink::Stdout(w) => {
                build(w.buffer())?;
                Ok(w.send_if_full().await?)
            }
            Sink::File(f, p) => {
                build(f.buffer())?;
                f.send_if_full().await.map_err(|e| at_path(e, p))
            }
        }
    }

    /// Writes bytes as they are (a raw download).
    pub async fn bytes(&mut self, data: &[u8]) -> logexport::Result<()> {
        match self {
            Sink::Stdout(w) => w.write_all(data).await?,
            Sink::File(f, p) => f.write_all(data).await.map_err(|e| at_path(e, p))?,
        }
        Ok(())
    }

    /// Writes the records of decoded text (what `download::lines` would
    /// yield, one per line) straight from the decoder's chunks, with no
    /// `String` per record. Returns the number of records.
    pub async fn copy_lines(&mut self, mut reader: BoxReader) -> logexport::Result<u64> {
        let mut lines = LineNormalizer::new();
        loop {
            // The library's reader errors name the vendor and operation.
            let chunk = reader.fill_buf().await.map_err(logexport::Error::from)?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            self.put(|buf| lines.push(chunk, buf)).await?;
            reader.as_mut().consume(n);
        }
        let mut tail = Vec::new();
        let records = lines.finish(&mut tail);
        self.bytes(&tail).await?;
        Ok(records)
    }

    /// Flushes stdout, or renames the file into place. Dropping a sink
    /// without finishing discards a file sink.
    pub async fn finish(self) -> logexport::Result<Option<PathBuf>> {
        match self {
            Sink::Stdout(w) => {
                w.finish().await?;
                Ok(None)
            }
            Sink::File(f, p) => {
                f.commit().await.map_err(|e| at_path(e, &p))?;
                Ok(Some(p))
            }
        }
    }
}

/// The output path, when it is a file (not stdout).
pub fn file_target(output: Option<&Path>) -> Option<&Path> {
    output.filter(|p| *p != Path::new("-"))
}

/// Whether the user wrote `path` with a trailing separator: a directory.
pub fn names_directory(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes
        .last()
        .is_some_and(|b| *b == b'/' || std::path::is_separator(*b as char))
}

/// Checks `--output` before any request is sent. A trailing slash means a
/// directory, created if missing (downloads then pick their own file name
/// inside it); any other path needs an existing directory to live in.
pub fn prepare(output: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = file_target(output) else {
        return Ok(());
    };
    if names_directory(path) {
        // Without the slash: with it, a plain file does not even stat.
        let bare: PathBuf = path.components().collect();
        if bare.exists() && !bare.is_dir() {
            return Err(Failure::usage(format!(
                "{} names a directory (trailing slash) but is a file",
                path.display()
            )));
        }
        return std::fs::create_dir_all(path)
            .map_err(|e| Failure::path(path, "cannot create directory", e));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Failure::usage(format!(
            "cannot write {}: {} is not a directory",
            path.display(),
            parent.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::usage(format!(
            "cannot write {}: directory {} does not exist (end the path with / to have it created)",
            path.display(),
            parent.display()
        ))),
        Err(e) => Err(Failure::path(parent, "cannot use directory", e)),
    }
}
