//! `carbon-footprint`: serve (the default), `report` one answer without a
//! server, or write the bundled `fixtures` or a synthetic `fleet`.

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use carbon_footprint::access::{self, Access};
use carbon_footprint::asset::AssetId;
use carbon_footprint::blocking::WorkLimit;
use carbon_footprint::config::{
    Cli, Command, IngestArgs, LogFormat, ReportArgs, TokenCommand, WindowsArgs,
};
use carbon_footprint::fixtures;
use carbon_footprint::footprint::{FootprintQuery, Period, PeriodStep};
use carbon_footprint::half_hour::{Day, HalfHourRange};
use carbon_footprint::http;
use carbon_footprint::intensity::AreaChoice;
use carbon_footprint::message::chain;
use carbon_footprint::power::power_files;
use carbon_footprint::render::{self, ChartSize};
use carbon_footprint::settlement::SettlementDay;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Whatever stops a command, reported as one line on stderr.
type Failure = Box<dyn Error + Send + Sync>;

/// How long blocking work still running at exit (a read hung on a FIFO or
/// a dead mount) may hold the process once the server has stopped.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Dropping the runtime would wait for every blocking thread, hung
    // ones included: a stopped server must end.
    runtime.shutdown_timeout(EXIT_GRACE);
    code
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    let quiet = !matches!(cli.command, None | Some(Command::Serve));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(if quiet { "warn" } else { "info" })),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        // Colour codes only where a person reads them, not in files or pipes.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }

    let outcome = match cli.command.clone() {
        None | Some(Command::Serve) => serve(cli).await,
        Some(Command::Report(args)) => report(cli, *args).await,
        Some(Command::Ingest(args)) => ingest(cli, args).await,
        Some(Command::Windows(args)) => windows(cli, *args).await,
        Some(Command::Token(TokenCommand::New { name, scope })) => {
            access::new_grant(&name, &scope)
                .map(|(token, line)| {
                    eprintln!(
                        "A new token, shown this once (keep it secret), then the line to add to the access file:"
                    );
                    println!("{token}");
                    println!("{line}");
                })
                .map_err(Failure::from)
        }
        Some(Command::Fixtures { out }) => fixtures::write_fixtures(&out)
            .map(|paths| {
                for path in paths {
                    println!("{}", path.display());
                }
            })
            .map_err(Failure::from),
        Some(Command::Fleet {
            out,
            assets,
            days,
            first,
        }) => Day::parse(&first)
            .map_err(Failure::from)
            .and_then(|first| Ok(fixtures::write_fleet(&out, assets, days, first)?))
            .map(|paths| println!("{} files in {}", paths.len(), out.display())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), Failure> {
    if let Some(at_once) = cli.server.max_renders {
        WorkLimit::set_renders(at_once);
    }
    // Listening first: while the storage opens (migrations waiting for
    // another replica's, a database not reachable yet) /readyz says 503.
    let listener = tokio::net::TcpListener::bind(cli.server.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.server.bind))?;
    let address = listener.local_addr()?;
    let (ready_tx, ready) = tokio::sync::watch::channel(None);
    let (failed_tx, failed) = tokio::sync::oneshot::channel();
    let access = open_access(&cli)?;
    let (sources, server) = (cli.sources.clone(), cli.server.clone());
    let watching = cli.watch.options();
    tokio::spawn(async move {
        match http::open_when_ready((sources, server, access), watching, ready_tx).await {
            Ok(()) => tracing::info!(
                %address,
                "serving; try /footprint/abc123xyz/2019-11-25/14-20"
            ),
            Err(err) => {
                let _ = failed_tx.send(err);
            }
        }
    });
    tracing::info!(
        %address,
        data_dir = %cli.sources.data_dir.display(),
        db = %cli.sources.db,
        intensity_url = %cli.sources.intensity_url,
        "listening; opening the storage"
    );
    let mut startup_failure = None;
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {}
            Ok(err) = failed => startup_failure = Some(err),
        }
    };
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(bind) = cli.server.metrics_bind {
        let metrics = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("cannot listen for metrics on {bind}: {e}"))?;
        tracing::info!(address = %bind, "serving /metrics without a token on a second listener");
        tokio::spawn(http::serve_metrics(metrics, async {
            let _ = metrics_stopped.await;
        }));
    }
    http::serve(listener, ready, &cli.server, stop).await;
    let _ = stop_metrics.send(());
    if let Some(err) = startup_failure {
        return Err(err.into());
    }
    tracing::info!("stopped");
    Ok(())
}

/// The access file, if one is given, read before anything listens (a file
/// that cannot be used stops the start) and read again as it changes.
fn open_access(cli: &Cli) -> Result<Option<Access>, Failure> {
    let Some(path) = &cli.server.access_file else {
        tracing::info!(
            "access is off: anyone who reaches the port reads every asset (give --access-file to need tokens)"
        );
        return Ok(None);
    };
    let access = Access::open(path)?;
    tracing::info!(
        file = %path.display(),
        tokens = access.tokens(),
        "access is on: every data route needs a token"
    );
    access.spawn_reload();
    Ok(Some(access))
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn report(cli: Cli, args: ReportArgs) -> Result<(), Failure> {
    let size = ChartSize::new(args.width, args.height)?;
    let format = args.format;
    let pipeline = cli.sources.open_pipeline()?;
    let period = |from: &str, to: &str, step: PeriodStep| -> Result<Period, Failure> {
        Ok(Period::new(Day::parse(from)?, Day::parse(to)?, step)?)
    };
    let step: PeriodStep = match &args.step {
        Some(step) => step.parse()?,
        None => PeriodStep::Day,
    };
    let area: AreaChoice = match &args.intensity {
        Some(text) => text.parse()?,
        None => AreaChoice::AssetDefault,
    };
    let bytes = match (&args.fleet, &args.asset, &args.from, &args.to) {
        // --fleet DATE, or --fleet --from --to
        (Some(fleet), None, from, to) => {
            let period = match (fleet.as_str(), from, to) {
                ("", Some(from), Some(to)) => period(from, to, PeriodStep::Day)?,
                (date, None, None) if !date.is_empty() => period(date, date, PeriodStep::Day)?,
                _ => return Err("give `--fleet DATE` or `--fleet --from DAY --to DAY`".into()),
            };
            let days = pipeline.periods().period_days(period).await?;
            let answer = pipeline
                .periods()
                .fleet(
                    &days,
                    carbon_footprint::footprint::FleetSeries::None,
                    &carbon_footprint::asset::AssetScope::everything(),
                )
                .await?;
            WorkLimit::renders()
                .run(move || render::render_fleet(&answer, format, size))
                .await??
        }
        (None, Some(asset), Some(from), Some(to)) if args.date.is_none() => {
            let asset = AssetId::parse(asset)?;
            let days = pipeline
                .periods()
                .period_days(period(from, to, step)?)
                .await?;
            let other = pipeline.periods().other_area(&asset, area, &days).await?;
            let answer = pipeline
                .periods()
                .asset_period(&asset, &days, step, other.as_ref())
                .await?;
            WorkLimit::renders()
                .run(move || render::render_period(&answer, format, size))
                .await??
        }
        (None, Some(asset), None, None) => {
            let Some(date) = &args.date else {
                return Err("give a date (YYYY-MM-DD) or `--from` and `--to`".into());
            };
            if args.day == "uk" {
                let day = SettlementDay::new(Day::parse(date)?);
                let range = day.parse_range(args.range.as_deref())?;
                let (report, _) = pipeline
                    .settlement()
                    .footprint(
                        &AssetId::parse(asset)?,
                        day,
                        range,
                        args.kind.parse()?,
                        area,
                    )
                    .await?;
                return write_out(
                    args.output.as_deref(),
                    &WorkLimit::renders()
                        .run(move || render::render_settlement(&report, format, size))
                        .await??,
                );
            }
            let query = FootprintQuery {
                asset: AssetId::parse(asset)?,
                day: Day::parse(date)?,
                range: match &args.range {
                    Some(r) => HalfHourRange::parse(r)?,
                    None => HalfHourRange::FULL_DAY,
                },
                preference: args.kind.parse()?,
                area,
            };
            let (report, _) = pipeline.footprints().answer(&query).await?;
            WorkLimit::renders()
                .run(move || render::render(&report, format, size))
                .await??
        }
        _ => {
            return Err("give `ASSET DATE [RANGE]`, `ASSET --from DAY --to DAY`, \
                        `--fleet DATE` or `--fleet --from DAY --to DAY`"
                .into());
        }
    };
    write_out(args.output.as_deref(), &bytes)
}

/// The best windows of `/windows`, from the same pipeline.
async fn windows(cli: Cli, args: WindowsArgs) -> Result<(), Failure> {
    use carbon_footprint::footprint::windows::WindowAsk;
    use carbon_footprint::intensity::ahead::{Round, bound};
    use carbon_footprint::intensity::{Area, floor_half_hour};
    let size = ChartSize::new(args.width, args.height)?;
    let format = args.format;
    let ask = WindowAsk {
        minutes: args.minutes,
        results: args.results,
        contiguous: !args.pausing,
        energy_kwh: args.energy_kwh,
    };
    ask.check()?;
    let parse = |name: &str, text: &str, end: bool| {
        bound(text, end, Round::Down).ok_or_else(|| {
            Failure::from(format!(
                "--{name} `{text}` is not a date (2019-11-25) or a UTC time (2019-11-25T12:00Z)"
            ))
        })
    };
    let from = match &args.from {
        Some(text) => parse("from", text, false)?,
        None => floor_half_hour(chrono::Utc::now()),
    };
    let before = args
        .before
        .as_deref()
        .map(|text| parse("before", text, true))
        .transpose()?;
    let pipeline = cli.sources.open_pipeline()?;
    let area = match &args.asset {
        Some(asset) => pipeline.aheads().area_of(&AssetId::parse(asset)?).await?,
        None => Area::named(&args.area)?,
    };
    let series = pipeline.aheads().series(&area, from, before).await?.series;
    let windows = pipeline.aheads().windows(series, ask)?;
    let bytes = WorkLimit::renders()
        .run(move || render::render_windows(&windows, format, size))
        .await??;
    write_out(args.output.as_deref(), &bytes)
}

/// Reads the days asked for into the database, oldest first (each day's
/// carry-in is then the stored day before): one line per day on stdout, a
/// progress bar on a terminal; an error naming every day that failed.
async fn ingest(cli: Cli, args: IngestArgs) -> Result<(), Failure> {
    let sources = cli.sources.clone();
    let pipeline = tokio::task::spawn_blocking(move || sources.open_pipeline()).await??;
    let days: Vec<Day> = match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            let (from, to) = (Day::parse(from)?, Day::parse(to)?);
            if from > to {
                return Err(format!("--from {from} is after --to {to}").into());
            }
            from.through(to).collect()
        }
        _ => {
            let dir = cli.sources.data_dir.clone();
            let mut days: Vec<Day> = power_files(&dir)
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .into_iter()
                .map(|(day, _)| day)
                .collect();
            days.sort();
            days
        }
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(days.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut failed = Vec::new();
    let mut stored = 0;
    for &day in &days {
        bar.set_message(day.to_string());
        let started = std::time::Instant::now();
        let outcome = pipeline.day_files().ensure_day(day).await;
        let seconds = started.elapsed().as_secs_f64();
        let line = match outcome {
            Ok(ingested) => match ingested.skipped_rows_read {
                Some(skipped) => {
                    stored += 1;
                    format!(
                        "{day}  {} assets  {skipped} rows skipped  {seconds:.2} s",
                        ingested.record.assets
                    )
                }
                None => format!(
                    "{day}  {} assets  already stored  {seconds:.2} s",
                    ingested.record.assets
                ),
            },
            Err(err) => {
                failed.push(day);
                format!("{day}  failed: {}", chain(&err))
            }
        };
        bar.suspend(|| println!("{line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if stored > 1 {
        let started = std::time::Instant::now();
        let storage = pipeline.storage().clone();
        if let Some(done) = tokio::task::spawn_blocking(move || storage.after_bulk_load()).await?? {
            let seconds = started.elapsed().as_secs_f64();
            println!("after the load: {done}  {seconds:.2} s");
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        failed => Err(format!(
            "{} of {} days failed: {}",
            failed.len(),
            days.len(),
            failed
                .iter()
                .map(Day::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()),
    }
}

/// The answer to `--output`, or to stdout.
fn write_out(output: Option<&std::path::Path>, bytes: &[u8]) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into()),
        None => Ok(std::io::stdout().lock().write_all(bytes)?),
    }
}
