//! `logexport`: pull audit and system logs from ConductorOne, Tencent Cloud
//! CLS and MongoDB Atlas, or from their embedded emulators with `--sandbox`.
//!
//! Exit codes: 0 success, 1 vendor or network error, 2 usage or credentials,
//! 130 SIGINT, 143 SIGTERM.

/// A `--flag` value enum that mirrors a library enum, variant for variant,
/// with the `From` conversion into it: the library's enums stay free of
/// clap, and help text comes from the variants' docs.
macro_rules! value_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident => $target:ident {
            $($(#[$vmeta:meta])* $variant:ident => $to:ident,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(clap::ValueEnum, Clone, Copy, Debug)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl From<$name> for $target {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => $target::$to,)+
                }
            }
        }
    };
}

mod atlas;
mod blocking;
mod c1;
mod checkpoint;
mod clients;
mod cls;
mod ctx;
mod failure;
mod listing;
mod output;
mod progress;
mod pull;
mod sandbox;
mod schema;
mod signals;
mod time;
mod tour;
mod windows;

use clap::{Args, Parser, Subcommand};
pub use ctx::Ctx;
pub use failure::Failure;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "logexport",
    version,
    about = "Pull audit and system logs out of cloud control planes"
)]
#[command(
    after_help = "Credentials come from the environment, else the vendor CLI's saved profile (see \
`logexport <vendor> --help`), never from flags.\n\
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
    /// The vendor CLI's saved profile to read credentials from (tccli,
    /// atlas or cone), when the environment holds none. Default: the tool's
    /// own selector (TCCLI_PROFILE, CONE_PROFILE), else `default`.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// MongoDB Atlas: audit logs, host logs, events.
    #[command(after_help = ATLAS_ENV_HELP)]
    Atlas {
        #[command(subcommand)]
        command: atlas::Command,
    },
    /// Tencent Cloud CLS: export tasks, topics.
    #[command(after_help = CLS_ENV_HELP)]
    Cls {
        #[command(subcommand)]
        command: cls::Command,
    },
    /// ConductorOne: system log exporters and events.
    #[command(after_help = C1_ENV_HELP)]
    C1 {
        #[command(subcommand)]
        command: c1::Command,
    },
    /// Pull many sources on a schedule into rotated files or stdout (for a SIEM).
    #[command(after_help = PULL_HELP)]
    Pull(pull::Args),
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
    /// Print a shell completion script on stdout.
    ///
    /// e.g. `logexport completions bash > ~/.local/share/bash-completion/completions/logexport`
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, e.g. `logexport man | man -l -`.
    Man,
    /// Print the JSON Schema of a kind of NDJSON record the commands write,
    /// for SIEM field mappings, e.g. `logexport schema c1-event`.
    Schema {
        /// The kind of record (named after the command that writes it).
        #[arg(value_enum)]
        kind: schema::Kind,
    },
}

/// What `logexport pull --help` says after the flags.
const PULL_HELP: &str = "\
The config (TOML; every problem is reported at once, with its line):
  state_dir = \"/var/lib/logexport\"     # one locked checkpoint per source
  concurrency = 4                      # sources pulled at once
  interval = \"5m\"                      # --follow's default

  [[source]]
  name = \"prod-audit\"                  # unique; {source} in paths
  vendor = \"atlas\"                     # atlas | cls | c1
  kind = \"cluster-logs\"                # atlas: stream-audit-logs | cluster-logs | events
  project = \"5f1a...\"                  # hosts / workspaces: a list, or left out to discover all
  log = \"mongodb-audit-log\"
  env = { MONGODB_ATLAS_PUBLIC_API_KEY = \"PROD_PUB\", MONGODB_ATLAS_PRIVATE_API_KEY = \"PROD_PRIV\" }
  # or: profile = \"prod\"  (the official tool's saved profile)
  start = \"7d\"                         # first run's start; then from the checkpoint
  step = \"1h\"                          # window length
  lag = \"5m\"                           # a window closes once it ended this long ago
  output = \"/srv/siem/{source}/{date}/{hour}.ndjson\"  # or \"-\": stdout, {\"source\":…,\"record\":…}
  rotate_bytes = 104857600             # and/or rotate_every = \"1h\"; gzip = true
Other keys: end (a closed backfill stops there); endpoint; cls: region, topic, query; c1: exporter;\natlas events: project or org.
Relative paths are relative to the config file's directory.
Exit: 0 every source succeeded, 1 any failed (the summary names them), 2 bad config.";

/// What `logexport atlas --help` says about credentials: every variable
/// and file read, in precedence order.
const ATLAS_ENV_HELP: &str = "\
Credentials (the first found wins; never from flags):
  1. MONGODB_ATLAS_CLIENT_ID + MONGODB_ATLAS_CLIENT_SECRET (service account), or
     MONGODB_ATLAS_PUBLIC_API_KEY + MONGODB_ATLAS_PRIVATE_API_KEY (API key)
  2. the atlas CLI's profile (--profile NAME, else `default`) in config.toml under
     $XDG_CONFIG_HOME/atlascli or ~/.config/atlascli (macOS: ~/Library/Application Support/atlascli)
Settings, each from the environment, else the profile:
  MONGODB_ATLAS_BASE_URL or MONGODB_ATLAS_OPS_MANAGER_URL  endpoint (ops_manager_url, service)
  MONGODB_ATLAS_PROJECT_ID                                default --project (project_id)
  MONGODB_ATLAS_ORG_ID                                    default --org (org_id)";

/// What `logexport cls --help` says about credentials.
const CLS_ENV_HELP: &str = "\
Credentials (the first found wins; never from flags):
  1. TENCENTCLOUD_SECRET_ID + TENCENTCLOUD_SECRET_KEY, with TENCENTCLOUD_SESSION_TOKEN
     (or TENCENTCLOUD_TOKEN, TENCENTCLOUD_SECURITY_TOKEN) for temporary keys
  2. the tccli profile (--profile NAME, else TCCLI_PROFILE, else `default`):
     ~/.tccli/NAME.credential, and the region from ~/.tccli/NAME.configure
Region: --region, else TENCENTCLOUD_REGION, else the profile's.";

/// What `logexport c1 --help` says about credentials.
const C1_ENV_HELP: &str = "\
Credentials (the first found wins; never from flags):
  1. CONE_ACCESS_TOKEN (or CONDUCTORONE_ACCESS_TOKEN), or
     CONE_CLIENT_ID + CONE_CLIENT_SECRET (or CONDUCTORONE_CLIENT_ID + CONDUCTORONE_CLIENT_SECRET)
  2. the cone profile (--profile NAME, else CONE_PROFILE, else `default`) in
     ~/.conductorone/config.yaml, or config.yaml under CONE_CONFIG_PATH
Endpoint: --endpoint, else CONE_ENDPOINT, CONE_API_ENDPOINT or CONDUCTORONE_SERVER_URL,
else derived from the client id's tenant.";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failure(e),
    };
    // Generated from the argument definitions: no runtime, no credentials.
    match cli.command {
        Command::Completions { shell } => return completions(shell),
        Command::Man => return man_page(),
        Command::Schema { kind } => return write_stdout(&schema::render(kind)),
        _ => {}
    }
    let json = cli.global.json;
    init_tracing(cli.global.verbose, json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report(
                Failure::runtime(format!("cannot start the async runtime: {e}")),
                json,
            )
        }
    };
    let outcome = runtime.block_on(async move {
        let signals = signals::Signals::install()
            .map_err(|e| Failure::runtime(format!("cannot install signal handlers: {e}")))?;
        run(cli, signals).await
    });
    // Whatever ended the command (a signal included: the run's future is
    // dropped by now), the service-account tokens it minted go before the
    // process does.
    runtime.block_on(atlas::revoke_minted_tokens());
    // On a signal the run's future has been dropped by now, and with it
    // every temporary file it owned; tasks it spawned are dropped with the
    // runtime, bounded so a stuck blocking read cannot hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f, json),
    }
}

/// Writes the completion script for `shell` to stdout.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "logexport", &mut out);
    write_stdout(&out)
}

/// Writes the man page to stdout.
fn man_page() -> ExitCode {
    use clap::CommandFactory;
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        return report(
            Failure::runtime(format!("cannot render the man page: {e}")),
            false,
        );
    }
    write_stdout(&out)
}

/// Writes generated text to stdout; a closed pipe is an error exit, not a
/// panic.
fn write_stdout(bytes: &[u8]) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(
            Failure::runtime(format!("cannot write to stdout: {e}")),
            false,
        ),
    }
}

/// Prints a failure (one JSON line with `--json`) and returns its exit code.
fn report(f: Failure, json: bool) -> ExitCode {
    if json {
        eprintln!("{}", f.to_json());
    } else {
        eprintln!("error: {}", f.message);
    }
    ExitCode::from(f.code)
}

/// Help and version go to stdout as usual; a usage error under `--json` is
/// one JSON line instead of clap's text.
fn parse_failure(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    let json = std::env::args_os().any(|a| a == "--json");
    if informational || !json {
        e.exit();
    }
    // Rendered without styles: the plain text, first line only.
    let rendered = e.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    report(Failure::usage(message), true)
}

/// Runs the command until it ends or a signal stops it: at once for
/// every command but `pull`, which finishes its current window or page
/// first (a second signal stops it at once).
async fn run(cli: Cli, mut signals: signals::Signals) -> Result<(), Failure> {
    if cli.global.sandbox && cli.global.endpoint.is_some() {
        return Err(Failure::usage(
            "--sandbox and --endpoint cannot be combined",
        ));
    }
    if matches!(cli.command, Command::Pull(_)) {
        let g = &cli.global;
        if g.endpoint.is_some() || g.output.is_some() || g.raw || g.profile.is_some() {
            return Err(Failure::usage(
                "pull takes each source's endpoint, output and profile from the config; \
                 --endpoint, --output, --raw and --profile do not apply",
            ));
        }
    }
    if matches!(
        cli.command,
        Command::Atlas { .. } | Command::Cls { .. } | Command::C1 { .. }
    ) {
        output::prepare(cli.global.output.as_deref())?;
    }
    let sandboxes = if cli.global.sandbox {
        Some(sandbox::Sandboxes::start(0).await?)
    } else {
        None
    };
    let ctx = Ctx::new(cli.global, sandboxes);
    let command = match cli.command {
        Command::Pull(args) => return pull_until_stopped(&ctx, args, &mut signals).await,
        other => dispatch(&ctx, other),
    };
    tokio::select! {
        biased;
        signal = signals.recv() => Err(Failure::interrupted(signal)),
        result = command => result,
    }
}

/// `pull`: the first SIGINT or SIGTERM asks it to stop after the current
/// window or page (exit 0 once committed); a second one stops it at once.
async fn pull_until_stopped(
    ctx: &Ctx,
    args: pull::Args,
    signals: &mut signals::Signals,
) -> Result<(), Failure> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pull = pull::run(ctx, args, stopped);
    tokio::pin!(pull);
    loop {
        tokio::select! {
            biased;
            signal = signals.recv() => {
                if *stop.borrow() {
                    return Err(Failure::interrupted(signal));
                }
                tracing::warn!("{}: finishing the current window, then exiting", signal.name());
                let _ = stop.send(true);
            }
            result = &mut pull => return result,
        }
    }
}

/// Every command but `pull`, `completions`, `man` and `schema`.
async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    match command {
        Command::Atlas { command } => atlas::run(ctx, command).await,
        Command::Cls { command } => cls::run(ctx, command).await,
        Command::C1 { command } => c1::run(ctx, command).await,
        Command::Sandbox { port } => sandbox::serve(ctx, port).await,
        Command::Tour { dir } => tour::run(ctx, &dir).await,
        // Handled in `main` (before any runtime starts) and in `run`.
        Command::Completions { .. } | Command::Man | Command::Schema { .. } | Command::Pull(_) => {
            Ok(())
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>: any non-empty value).
fn use_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_tracing(verbose: u8, json: bool) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    // With --json, stderr carries only JSON lines: log events included.
    let _ = if json {
        builder.json().with_ansi(false).try_init()
    } else {
        builder.with_ansi(use_color()).try_init()
    };
}
