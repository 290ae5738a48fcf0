//! Where records go: stdout, or a file that appears only when complete.

use logexport::download::AtomicFile;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// A line-oriented sink.
pub enum Sink {
    /// Standard output.
    Stdout(tokio::io::BufWriter<tokio::io::Stdout>),
    /// A temporary file renamed into place by [`Sink::finish`].
    File(AtomicFile, PathBuf),
}

impl Sink {
    /// `None` or `-` is stdout; anything else an atomic file.
    pub async fn open(output: Option<&Path>) -> logexport::Result<Sink> {
        match output {
            None => Ok(Sink::Stdout(tokio::io::BufWriter::new(tokio::io::stdout()))),
            Some(p) if p == Path::new("-") => {
                Ok(Sink::Stdout(tokio::io::BufWriter::new(tokio::io::stdout())))
            }
            Some(p) => Ok(Sink::File(AtomicFile::create(p).await?, p.to_path_buf())),
        }
    }

    /// Writes one record followed by a newline.
    pub async fn line(&mut self, line: &str) -> logexport::Result<()> {
        match self {
            Sink::Stdout(w) => {
                w.write_all(line.as_bytes()).await?;
                w.write_all(b"\n").await?;
            }
            Sink::File(f, _) => {
                f.write_all(line.as_bytes()).await?;
                f.write_all(b"\n").await?;
            }
        }
        Ok(())
    }

    /// Flushes stdout, or renames the file into place. Dropping a sink
    /// without finishing discards a file sink.
    pub async fn finish(self) -> logexport::Result<Option<PathBuf>> {
        match self {
            Sink::Stdout(mut w) => {
                w.flush().await?;
                Ok(None)
            }
            Sink::File(f, p) => {
                f.commit().await?;
                Ok(Some(p))
            }
        }
    }
}

/// The output path, when it is a file (not stdout).
pub fn file_target(output: Option<&Path>) -> Option<&Path> {
    output.filter(|p| *p != Path::new("-"))
}
