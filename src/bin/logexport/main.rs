//! `logexport`: pull audit and system logs from ConductorOne, Tencent Cloud
//! CLS and MongoDB Atlas, or from their embedded emulators with `--sandbox`.
//!
//! Exit codes: 0 success, 1 vendor or network error, 2 usage or credentials.

mod atlas;
mod c1;
mod checkpoint;
mod cls;
mod output;
mod progress;
mod sandbox;
mod time;
mod tour;
mod windows;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "logexport",
    version,
    about = "Pull audit and system logs out of cloud control planes"
)]
#[command(
    after_help = "Credentials come from the environment (see `logexport <vendor> --help`), never from flags.\n\
Try it without an account: `logexport tour`, or add `--sandbox` to any command."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command accepts.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Override the vendor base URL (http:// only for loopback hosts).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Start the embedded emulator in-process and point at it (credentials preset).
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// File to write ('-' = stdout). Default: stdout.
    #[arg(short, long, global = true, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Write the vendor's bytes as served (e.g. the .gz) instead of decoded records.
    #[arg(long, global = true)]
    pub raw: bool,
    /// No progress output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Machine-readable summaries (and errors) as JSON on stderr.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// MongoDB Atlas: audit logs, host logs, events.
    Atlas {
        #[command(subcommand)]
        command: atlas::Command,
    },
    /// Tencent Cloud CLS: export tasks, topics.
    Cls {
        #[command(subcommand)]
        command: cls::Command,
    },
    /// ConductorOne: system log exporters and events.
    C1 {
        #[command(subcommand)]
        command: c1::Command,
    },
    /// Run the emulators as a server; print endpoints and demo credentials as JSON.
    Sandbox {
        /// First port to use (three consecutive ports); 0 picks free ones.
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Run every flow against the in-process sandbox, writing into ./logexport-tour/.
    Tour {
        /// Where to write the tour's files.
        #[arg(long, default_value = "logexport-tour")]
        dir: PathBuf,
    },
}

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// 1 vendor/network, 2 usage/credentials.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
    /// The library error, when there is one, for `--json`.
    pub error: Option<logexport::Error>,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
            error: None,
        }
    }

    /// A vendor, network or local I/O error (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
            error: None,
        }
    }
}

impl From<logexport::Error> for Failure {
    fn from(e: logexport::Error) -> Self {
        use logexport::ErrorKind;
        let code = match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Credentials => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
            error: Some(e),
        }
    }
}

/// What every command gets.
pub struct Ctx {
    /// The global flags.
    pub global: Global,
    /// Progress drawing.
    pub progress: progress::Progress,
    /// Emulators started for `--sandbox`.
    pub sandboxes: Option<sandbox::Sandboxes>,
}

impl Ctx {
    /// Prints a summary: JSON on stderr with `--json`, a short line otherwise
    /// (unless `--quiet`).
    pub fn summary(&self, value: serde_json::Value) {
        if self.global.json {
            eprintln!("{value}");
        } else if !self.global.quiet {
            let mut parts = Vec::new();
            if let Some(map) = value.as_object() {
                for (k, v) in map {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    parts.push(format!("{k}={v}"));
                }
            }
            eprintln!("{}", parts.join(" "));
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = cli.global.json;
    let outcome = runtime.block_on(run(cli));
    // Whatever ended the command (including a dropped future), minted
    // tokens go before the process does.
    runtime.block_on(atlas::revoke_minted_tokens());
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                let e = f.error.as_ref();
                let value = serde_json::json!({
                    "error": {
                        "message": f.message,
                        "exit_code": f.code,
                        "kind": e.map(|e| format!("{:?}", e.kind())),
                        "code": e.and_then(|e| e.code()),
                        "status": e.and_then(|e| e.status()),
                        "request_id": e.and_then(|e| e.request_id()),
                    }
                });
                eprintln!("{value}");
            } else {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if cli.global.sandbox && cli.global.endpoint.is_some() {
        return Err(Failure::usage(
            "--sandbox and --endpoint cannot be combined",
        ));
    }
    let sandboxes = if cli.global.sandbox {
        Some(
            sandbox::Sandboxes::start(0)
                .await
                .map_err(|e| Failure::runtime(format!("cannot start the sandbox: {e}")))?,
        )
    } else {
        None
    };
    let ctx = Ctx {
        progress: progress::Progress::new(cli.global.quiet),
        global: cli.global,
        sandboxes,
    };
    match cli.command {
        Command::Atlas { command } => atlas::run(&ctx, command).await,
        Command::Cls { command } => cls::run(&ctx, command).await,
        Command::C1 { command } => c1::run(&ctx, command).await,
        Command::Sandbox { port } => sandbox::serve(&ctx, port).await,
        Command::Tour { dir } => tour::run(&ctx, &dir).await,
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

/// The credential error every command prints when the environment lacks
/// what it needs.
pub fn missing_credentials(vendor: &str, vars: &str) -> Failure {
    Failure::usage(format!(
        "no {vendor} credentials: set {vars} in the environment (or try --sandbox)"
    ))
}
