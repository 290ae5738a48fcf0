//! Writing from async code without a blocking-pool hand-off per write.
//!
//! `tokio::fs::File` and `tokio::io::stdout` send every write to the
//! blocking pool, which for a large export means tens of thousands of
//! thread wake-ups. [`BackgroundWriter`] instead gathers bytes into a large
//! buffer on the async side and hands full buffers, through a small bounded
//! channel, to one dedicated blocking thread that owns the `std` writer.
//! Buffers come back to be reused, so steady state allocates nothing, and
//! memory is bounded by `QUEUE + 2` buffers.
//!
//! [`WriteBack`] keeps a large file's final `fsync` short: it starts the
//! kernel's write-back of each stretch written as the download goes, so the
//! disk works alongside the network instead of all at the end.

use std::io::{self, Write};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes gathered before a buffer is handed to the writing thread.
const BUF: usize = 1 << 20;
/// Full buffers waiting for the writing thread.
const QUEUE: usize = 4;

/// A `std` writer driven from async code by a dedicated blocking thread,
/// fed large buffers through a bounded queue so the runtime's workers never
/// block on the disk. Dropped before [`finish`](Self::finish),
/// the thread writes what it already received and exits, dropping the
/// writer.
pub struct BackgroundWriter<W> {
    buf: Vec<u8>,
    tx: Option<mpsc::Sender<Vec<u8>>>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
    task: Option<JoinHandle<io::Result<W>>>,
    /// Bytes handed to the thread so far.
    sent: u64,
}

impl<W> std::fmt::Debug for BackgroundWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter")
            .field("buffered", &self.buf.len())
            .field("running", &self.tx.is_some())
            .finish()
    }
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    /// Starts the writing thread. Must be called inside a tokio runtime.
    pub fn new(mut writer: W) -> Self {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        let (free_tx, free) = std::sync::mpsc::channel();
        let task = tokio::task::spawn_blocking(move || {
            while let Some(mut buf) = rx.blocking_recv() {
                writer.write_all(&buf)?;
                buf.clear();
                // The async side may be gone; the buffer is then just freed.
                let _ = free_tx.send(buf);
            }
            writer.flush()?;
            Ok(writer)
        });
        BackgroundWriter {
            buf: Vec::with_capacity(BUF),
            tx: Some(tx),
            free,
            task: Some(task),
            sent: 0,
        }
    }

    /// Appends bytes, handing the buffer on once it is full.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        self.send_if_full().await
    }

    /// The buffer being filled, for callers that build output in place
    /// (and so copy it once); follow with [`send_if_full`](Self::send_if_full).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes written so far, buffered ones included.
    pub fn written(&self) -> u64 {
        self.sent + self.buf.len() as u64
    }

    /// Hands the buffer to the writing thread if it has reached its size.
    pub async fn send_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= BUF {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUF));
        let full = std::mem::replace(&mut self.buf, next);
        self.sent += full.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send(full).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.stopped().await)
        }
    }

    /// Why the thread stopped taking buffers: its write error.
    async fn stopped(&mut self) -> io::Error {
        match self.join().await {
            Ok(_) => io::Error::other("the writing thread stopped early"),
            Err(e) => e,
        }
    }

    /// Writes everything still buffered, flushes, and returns the writer.
    pub async fn finish(mut self) -> io::Result<W> {
        self.send().await?;
        self.join().await
    }

    /// Ends the input and waits for the thread's outcome.
    async fn join(&mut self) -> io::Result<W> {
        self.tx = None;
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| io::Error::other(format!("the writing thread failed: {e}")))?,
            None => Err(io::Error::other("the writer already failed")),
        }
    }
}

/// Bytes written between two starts of write-back.
const WRITE_BACK_STEP: u64 = 16 << 20;

/// A file that starts write-back of every [`WRITE_BACK_STEP`] bytes written
/// (Linux: `sync_file_range`, which does not wait; elsewhere `fdatasync`
/// on the writing thread), and waits for the stretch before the last one,
/// so dirty pages stay bounded and the `fsync` before the rename has at
/// most two stretches left to write. Durability still comes from that
/// `fsync`: write-back here only moves the work earlier.
#[derive(Debug)]
pub(crate) struct WriteBack {
    file: std::fs::File,
    written: u64,
    /// Write-back was started for `..started` and waited for on `..waited`.
    started: u64,
    waited: u64,
    /// Off after the first failure (a file system that does not support it):
    /// the final `fsync` then does all the work, as it would without this.
    enabled: bool,
}

impl WriteBack {
    pub(crate) fn new(file: std::fs::File) -> Self {
        WriteBack {
            file,
            written: 0,
            started: 0,
            waited: 0,
            enabled: true,
        }
    }

    /// The file, for the final `fsync`.
    pub(crate) fn into_inner(self) -> std::fs::File {
        self.file
    }

    fn start_write_back(&mut self) {
        if self.enabled && !self.kick() {
            self.enabled = false;
        }
        self.waited = self.started;
        self.started = self.written;
    }

    #[cfg(target_os = "linux")]
    fn kick(&mut self) -> bool {
        use std::os::fd::AsRawFd;
        let fd = self.file.as_raw_fd();
        let range = |from: u64, to: u64| (from as libc::off64_t, (to - from) as libc::off64_t);
        let (from, len) = range(self.started, self.written);
        // SAFETY: `fd` is an open descriptor owned by `self.file` for the
        // whole call; sync_file_range only reads the arguments.
        let started = unsafe { libc::sync_file_range(fd, from, len, libc::SYNC_FILE_RANGE_WRITE) };
        if started != 0 {
            return false;
        }
        let (from, len) = range(self.waited, self.started);
        if len == 0 {
            return true;
        }
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: as above.
        unsafe { libc::sync_file_range(fd, from, len, flags) == 0 }
    }

    #[cfg(not(target_os = "linux"))]
    fn kick(&mut self) -> bool {
        self.file.sync_data().is_ok()
    }
}

impl Write for WriteBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BACK_STEP {
            self.start_write_back();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts `limit` bytes, then fails like a full disk.
    struct Full {
        got: Vec<u8>,
        limit: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() + buf.len() > self.limit {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn bytes_arrive_in_order_and_whole() {
        let mut w = BackgroundWriter::new(Vec::new());
        let mut want = Vec::new();
        for i in 0..200_000u32 {
            let line = format!("line {i}\n");
            want.extend_from_slice(line.as_bytes());
            w.write_all(line.as_bytes()).await.unwrap();
        }
        assert_eq!(w.finish().await.unwrap(), want);
    }

    #[tokio::test]
    async fn a_write_error_reaches_the_caller() {
        let mut w = BackgroundWriter::new(Full {
            got: Vec::new(),
            limit: 3 * BUF,
        });
        let chunk = vec![b'x'; 64 * 1024];
        let mut failed = None;
        for _ in 0..200 {
            if let Err(e) = w.write_all(&chunk).await {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => e,
            None => w.finish().await.err().expect("the disk is full"),
        };
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }

    #[test]
    fn write_back_follows_the_file_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = WriteBack::new(std::fs::File::create(&path).unwrap());
        let block = vec![7u8; 1 << 20];
        for _ in 0..40 {
            w.write_all(&block).unwrap();
        }
        // Started for the first 32 MiB, waited for on the first 16 MiB;
        // the last 8 MiB are left to the final fsync.
        assert_eq!((w.waited, w.started), (16 << 20, 32 << 20));
        w.flush().unwrap();
        let file = w.into_inner();
        file.sync_all().unwrap();
        assert_eq!(file.metadata().unwrap().len(), 40 << 20);
    }
}
