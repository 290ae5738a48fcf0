//! Where records go: stdout, or a file that appears only when complete.
//! Output paths are checked before any request, and every error names them.

use crate::failure::{at_path, Failure};
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

    /// Writes one record followed by a newline.
    pub async fn line(&mut self, line: &str) -> logexport::Result<()> {
        match self {
            Sink::Stdout(w) => {
                w.write_all(line.as_bytes()).await?;
                w.write_all(b"\n").await?;
            }
            Sink::File(f, p) => {
                // Not one write: a record is usually far from the buffer's size.
                let write = async {
                    f.write_all(line.as_bytes()).await?;
                    f.write_all(b"\n").await
                };
                write.await.map_err(|e| at_path(e, p))?;
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
