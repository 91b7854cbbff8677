//! Command line and environment: every flag has an environment variable and
//! an embedded default, so `carbon-footprint` with nothing set serves the
//! bundled fixtures on 127.0.0.1:8000. The composition root: the settings
//! build the storage, the sources and the pipeline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::footprint::report::AnnualFactors;
use crate::intensity::{ApiError, IntensityClient, IntensitySource};
use crate::pipeline::Pipeline;
use crate::render::{ChartSize, Format};
use crate::storage::{Database, Storage, StorageError};
use crate::watch::{WatchMode, WatchOptions};

/// A start-up fault an operator must hear about at once, in one line.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the {what} directory {dir} does not exist or is not a directory")]
    NotADirectory { what: &'static str, dir: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Client(#[from] ApiError),
    #[error("start-up was interrupted: {0}")]
    Interrupted(String),
    #[error("the annual factors file is not usable: {0}")]
    AnnualFactors(String),
}

impl StartupError {
    /// A database that cannot be reached yet may be reachable soon (a
    /// server still starting); nothing else mends itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StartupError::Storage(StorageError::Unreachable(_) | StorageError::Unavailable { .. })
        )
    }
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "carbon-footprint",
    version,
    about = "Half-hourly carbon footprint of an energy asset, as a chart or data"
)]
pub struct Cli {
    /// Log lines as `text` for people (colour only on a terminal) or
    /// `json`, one object per line, for log collectors.
    #[arg(
        long,
        env = "FOOTPRINT_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default when no command is given).
    Serve,
    /// Compute one answer without a server and write it to stdout or a file.
    Report(Box<ReportArgs>),
    /// The best windows to run a load of a given length in an area's
    /// intensity, ahead (the forecast) or over past days: what `/windows`
    /// answers, written to stdout or a file.
    Windows(Box<WindowsArgs>),
    /// Read day files into the database and exit: for a cron entry, a
    /// systemd timer or a Kubernetes CronJob beside the replicas. One line
    /// per day; the exit status is non-zero if any day failed.
    Ingest(IngestArgs),
    /// Make access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Regenerate the bundled fixtures (power files from the COV encoder and
    /// illustrative intensity files).
    Fixtures {
        /// Directory to write into.
        #[arg(long, default_value = "fixtures")]
        out: PathBuf,
    },
    /// Generate a synthetic fleet for scale checks: one power file (all
    /// assets) and one intensity file per day.
    Fleet {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 100)]
        assets: u32,
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// First day, YYYY-MM-DD.
        #[arg(long, default_value = "2019-11-01")]
        first: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Print a new random token once, and the line that grants it in the
    /// access file (the file keeps only its SHA-256).
    New {
        /// The token's name, logged in its place (letters, digits, `.`,
        /// `_`, `-`, `@`).
        name: String,
        /// What it may read: `*`, asset ids, prefixes such as `site-0*`,
        /// and `metrics`; space-separated or repeated.
        #[arg(long, required = true, num_args = 1..)]
        scope: Vec<String>,
    },
}

/// Which days `ingest` reads.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("days").required(true).args(["from", "all"]))]
pub struct IngestArgs {
    /// First UTC day, YYYY-MM-DD.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last UTC day, YYYY-MM-DD (included).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Every day with a power file in the data directory.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub all: bool,
}

/// How `serve` notices day files arriving, and what it catches up on.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// `auto` (inotify, and polling for writes that send no event, such as
    /// another machine's on a shared mount), `inotify`, `poll` or `off`.
    #[arg(
        long = "watch",
        env = "FOOTPRINT_WATCH",
        value_enum,
        default_value_t = WatchMode::Auto,
        global = true
    )]
    pub mode: WatchMode,
    /// Seconds between two looks at the data directory when polling.
    #[arg(
        long = "watch-interval",
        env = "FOOTPRINT_WATCH_INTERVAL",
        default_value_t = 30.0,
        value_parser = positive_seconds,
        global = true
    )]
    pub interval_s: f64,
    /// Seconds a file written in place must hold still before it is read
    /// (a file renamed into place is read at once).
    #[arg(
        long = "watch-settle",
        env = "FOOTPRINT_WATCH_SETTLE",
        default_value_t = 5.0,
        value_parser = positive_seconds,
        global = true
    )]
    pub settle_s: f64,
    /// At start, days this far back whose files are not stored (or stored
    /// from another version) are read, newest first; 0 for none.
    #[arg(
        long,
        env = "FOOTPRINT_BACKFILL_DAYS",
        default_value_t = 31,
        global = true
    )]
    pub backfill_days: u32,
}

impl WatchArgs {
    pub fn options(&self) -> WatchOptions {
        WatchOptions {
            mode: self.mode,
            interval: Duration::from_secs_f64(self.interval_s),
            settle: Duration::from_secs_f64(self.settle_s),
            backfill_days: self.backfill_days,
        }
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Where the data comes from and where results are kept.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Directory of `power_measurements_<date>.csv` files.
    #[arg(
        long,
        env = "FOOTPRINT_DATA_DIR",
        default_value = "fixtures",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Base URL of the GB Carbon Intensity API; empty to use files only.
    #[arg(
        long,
        env = "FOOTPRINT_INTENSITY_URL",
        default_value = "https://api.carbonintensity.org.uk",
        global = true
    )]
    pub intensity_url: String,
    /// Directory of `carbon_intensity_<date>.json` fallback files
    /// [default: the data dir].
    #[arg(long, env = "FOOTPRINT_INTENSITY_DIR", global = true)]
    pub intensity_dir: Option<PathBuf>,
    /// SQLite database file (created if missing), or a `postgres://` URL
    /// of a PostgreSQL database that several replicas share.
    #[arg(
        long,
        env = "FOOTPRINT_DB",
        default_value = "carbon-footprint.sqlite3",
        value_parser = parse_database,
        global = true
    )]
    pub db: Database,
    /// Time allowed for each call to the intensity API, in milliseconds.
    #[arg(
        long,
        env = "FOOTPRINT_UPSTREAM_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub upstream_timeout_ms: u64,
    /// A CSV of `year,kg_co2e_per_kwh,source` replacing the UK government's
    /// annual grid electricity factors the service ships, for reports.
    #[arg(long, env = "FOOTPRINT_ANNUAL_FACTORS", global = true)]
    pub annual_factors: Option<PathBuf>,
}

impl SourceArgs {
    pub fn intensity_dir(&self) -> PathBuf {
        self.intensity_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    /// Checks the directories, opens the database and builds the sources:
    /// the pipeline these settings describe.
    pub fn open_pipeline(&self) -> Result<Pipeline, StartupError> {
        for (what, dir) in [
            ("data", &self.data_dir),
            ("intensity", &self.intensity_dir()),
        ] {
            if !dir.is_dir() {
                return Err(StartupError::NotADirectory {
                    what,
                    dir: dir.display().to_string(),
                });
            }
        }
        let storage = Storage::open(&self.db)?;
        let api = match self.intensity_url.trim() {
            "" => None,
            url => Some(IntensityClient::new(url, self.upstream_timeout())?),
        };
        let intensity = IntensitySource::new(api, self.intensity_dir());
        let pipeline = Pipeline::new(storage, intensity, self.data_dir.clone());
        Ok(match &self.annual_factors {
            None => pipeline,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    StartupError::AnnualFactors(format!("cannot read {}: {e}", path.display()))
                })?;
                let factors = AnnualFactors::parse(&text)
                    .map_err(|e| StartupError::AnnualFactors(format!("{}: {e}", path.display())))?;
                pipeline.with_annual_factors(factors)
            }
        })
    }
}

/// How the server listens and protects itself.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "FOOTPRINT_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: SocketAddr,
    /// Longest time a request may take before it is answered 503.
    #[arg(
        long,
        env = "FOOTPRINT_REQUEST_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub request_timeout_ms: u64,
    /// Requests handled at once; more wait their turn.
    #[arg(
        long,
        env = "FOOTPRINT_MAX_CONCURRENCY",
        default_value_t = 256,
        global = true
    )]
    pub max_concurrency: usize,
    /// Memory for rendered responses kept for reuse, in MiB.
    #[arg(
        long,
        env = "FOOTPRINT_RESPONSE_CACHE_MIB",
        default_value_t = 64,
        global = true
    )]
    pub response_cache_mib: u64,
    /// Time a connection has to send a whole request header, and the
    /// longest a keep-alive connection may sit idle.
    #[arg(
        long,
        env = "FOOTPRINT_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub header_read_timeout_ms: u64,
    /// Charts rendered at once (each 4000x4000 PNG holds about 50 MB while
    /// it is drawn); more wait their turn [default: the number of cores].
    #[arg(long, env = "FOOTPRINT_MAX_RENDERS", global = true)]
    pub max_renders: Option<usize>,
    /// Connections open at once; keep it well below the open-file limit.
    #[arg(
        long,
        env = "FOOTPRINT_MAX_CONNECTIONS",
        default_value_t = 1024,
        global = true
    )]
    pub max_connections: usize,
    /// After a shutdown signal, time given to requests in flight before
    /// the remaining connections are closed.
    #[arg(
        long,
        env = "FOOTPRINT_SHUTDOWN_GRACE_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub shutdown_grace_ms: u64,
    /// An origin whose pages may read the answers (CORS), e.g.
    /// `https://grafana.example.com`; repeat for several, comma-separate in
    /// the environment. None by default: only same-origin pages read them.
    #[arg(
        long = "cors-origin",
        env = "FOOTPRINT_CORS_ORIGIN",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Turns access on: a CSV file `name,token_sha256,scope` of the tokens
    /// that may read, each with its assets (`*`, ids, prefixes such as
    /// `site-0*`) and `metrics`. Read again when it changes. Off by
    /// default: anyone who reaches the port reads every asset.
    #[arg(long, env = "FOOTPRINT_ACCESS_FILE", global = true)]
    pub access_file: Option<PathBuf>,
    /// A second listener serving `/metrics` alone, without a token, for a
    /// scraper on the same host (e.g. 127.0.0.1:9100).
    #[arg(long, env = "FOOTPRINT_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,
    /// Behind a proxy: take the client's address from the last entry of
    /// `X-Forwarded-For` (failed tokens are counted per address) and HTTPS
    /// from `X-Forwarded-Proto` (the page's cookie is then `Secure`).
    #[arg(long, env = "FOOTPRINT_TRUST_PROXY", global = true)]
    pub trust_proxy: bool,
    /// Tokens that are not known a client address may send in a minute
    /// before it is refused (429) for the rest of that minute.
    #[arg(
        long,
        env = "FOOTPRINT_MAX_TOKEN_FAILURES",
        default_value_t = crate::access::MAX_FAILURES,
        global = true
    )]
    pub max_token_failures: u32,
}

impl ServerArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

impl Default for ServerArgs {
    fn default() -> Self {
        ServerArgs {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            request_timeout_ms: 30_000,
            max_concurrency: 256,
            response_cache_mib: 64,
            header_read_timeout_ms: 10_000,
            max_renders: None,
            max_connections: 1024,
            shutdown_grace_ms: 10_000,
            cors_origins: Vec::new(),
            access_file: None,
            metrics_bind: None,
            trust_proxy: false,
            max_token_failures: crate::access::MAX_FAILURES,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Asset id, e.g. abc123xyz (not with `--fleet`).
    pub asset: Option<String>,
    /// UTC day, YYYY-MM-DD (or `--from` and `--to` for a period).
    pub date: Option<String>,
    /// Half-hours of the day, `14-20` or `17` [default: 1-48].
    pub range: Option<String>,
    /// First UTC day of a period, YYYY-MM-DD.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last UTC day of a period, YYYY-MM-DD (included).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A period by `day` (default) or by `half-hour`.
    #[arg(long, requires = "from")]
    pub step: Option<String>,
    /// Every asset: `--fleet DATE`, or `--fleet --from ... --to ...`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["range", "step"])]
    pub fleet: Option<String>,
    #[arg(long, default_value = "png")]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(long, default_value_t = ChartSize::DEFAULT.width)]
    pub width: u32,
    #[arg(long, default_value_t = ChartSize::DEFAULT.height)]
    pub height: u32,
    /// Intensity figure of a day: auto (actual, else forecast), actual or forecast.
    #[arg(long, default_value = "auto")]
    pub kind: String,
    /// `national` or `regional` intensity [default: the asset's own: its
    /// region in the asset register, else national].
    #[arg(long, value_parser = ["default", "national", "regional"])]
    pub intensity: Option<String>,
    /// `utc` days of HalfHourIds 1-48, or `uk` settlement days (Europe/London,
    /// periods 1-46, 1-48 or 1-50).
    #[arg(long, default_value = "utc", value_parser = ["utc", "uk"])]
    pub day: String,
}

/// `carbon-footprint windows`: the parameters of `/windows`.
#[derive(Debug, Clone, Args)]
pub struct WindowsArgs {
    /// The load's length in minutes, 30 to 2880.
    #[arg(long)]
    pub minutes: u32,
    /// `national`, a region id of the API (1 to 17) or an outward postcode.
    #[arg(long, default_value = "national", conflicts_with = "asset")]
    pub area: String,
    /// Instead of `--area`: the area whose intensity this asset uses.
    #[arg(long)]
    pub asset: Option<String>,
    /// Earliest start: a date or a UTC time [default: the current half-hour].
    #[arg(long)]
    pub from: Option<String>,
    /// Latest end: a date (included) or a UTC time [default: the end of the forecast].
    #[arg(long)]
    pub before: Option<String>,
    /// How many windows, none overlapping another.
    #[arg(long, default_value_t = 3)]
    pub results: usize,
    /// A load that can pause: the cheapest half-hours instead of one run.
    #[arg(long)]
    pub pausing: bool,
    /// The load's energy, for figures in grams.
    #[arg(long)]
    pub energy_kwh: Option<f64>,
    #[arg(long, default_value = "json")]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(long, default_value_t = ChartSize::DEFAULT.width)]
    pub width: u32,
    #[arg(long, default_value_t = ChartSize::DEFAULT.height)]
    pub height: u32,
}

fn parse_database(text: &str) -> Result<Database, std::convert::Infallible> {
    Ok(Database::parse(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn report_takes_a_day_a_period_and_a_fleet() {
        let parse = |args: &[&str]| {
            let mut all = vec!["carbon-footprint", "report"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Some(Command::Report(r))) => Ok(r),
                Ok(_) => panic!("not a report"),
                Err(e) => Err(e),
            }
        };
        let day = parse(&["abc123xyz", "2019-11-25", "14-20"]).unwrap();
        assert_eq!(day.range.as_deref(), Some("14-20"));
        let period = parse(&["a", "--from", "2019-11-01", "--to", "2019-11-30"]).unwrap();
        assert_eq!(period.to.as_deref(), Some("2019-11-30"));
        let fleet = parse(&["--fleet", "2019-11-25"]).unwrap();
        assert_eq!(fleet.fleet.as_deref(), Some("2019-11-25"));
        let fleet_period =
            parse(&["--fleet", "--from", "2019-11-01", "--to", "2019-11-02"]).unwrap();
        assert_eq!(fleet_period.fleet.as_deref(), Some(""));
        assert!(parse(&["a", "--from", "2019-11-01"]).is_err());
    }

    #[test]
    fn no_arguments_means_serve_the_fixtures_on_port_8000() {
        let cli = Cli::try_parse_from(["carbon-footprint"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.server.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(cli.sources.data_dir, PathBuf::from("fixtures"));
        assert_eq!(cli.sources.intensity_dir(), PathBuf::from("fixtures"));
        assert_eq!(cli.sources.upstream_timeout_ms, 3000);
    }

    #[test]
    fn report_takes_its_positionals_and_the_shared_flags() {
        let cli = Cli::try_parse_from([
            "carbon-footprint",
            "report",
            "abc123xyz",
            "2019-11-25",
            "14-20",
            "--format",
            "json",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        let Some(Command::Report(args)) = cli.command else {
            panic!("not a report")
        };
        assert_eq!(args.range.as_deref(), Some("14-20"));
        assert_eq!(args.format, Format::Json);
        assert_eq!(cli.sources.data_dir, PathBuf::from("/tmp/x"));
    }
}
