//! `cohai-bootstrap`: the database tool of the Cohai Stretching backend. It parses the command
//! line, loads the server's settings and dispatches to `cohai_bootstrap`.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use cohai_bootstrap::{Bars, GenerateOptions};
use cohai_config::{Settings, logging};
use cohai_persistence::{Database, DatabaseUrl};

/// Database tool of the Cohai Stretching backend: migrations, demo data, schema check,
/// benchmark data and SQLite backups.
///
/// Uses the server's settings: the built-in defaults (documented in config/default.toml, which
/// is not read), then the TOML file named by COHAI_CONFIG, then the environment. DATABASE_URL
/// selects the database: sqlite://path/to/file.db (the default, data/cohai.db) or
/// postgres://user:password@host/db. RUST_LOG sets the log level.
#[derive(Debug, Parser)]
#[command(name = "cohai-bootstrap", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations and print their names.
    Migrate,
    /// Apply pending migrations, then load the demo data (idempotent).
    ///
    /// Three studios (two in Moscow, one in Yekaterinburg), six program types, eight trainers,
    /// four membership plans per studio, a weekly timetable of eight classes a day per studio,
    /// and its class sessions for the 14 days starting today in each studio's local time,
    /// generated as the server generates them (one in 40 is then cancelled). Rows are found by
    /// name (slots by studio, weekday and time) and created only when missing; a class is
    /// generated once per slot and date, so running seed again changes nothing. Prints how
    /// many rows were created and how many existed.
    Seed,
    /// Verify that every table and column the code maps exists in the database with a
    /// compatible type; exits with status 1 and lists the differences when not.
    Check,
    /// Apply pending migrations, then add large synthetic data for benchmarks.
    ///
    /// Uses the studios "Bench studio 0001" … (created when missing), six bench program types
    /// and twelve bench trainers; adds class sessions spread over a year before and after now,
    /// and leads created over the past year, each with its "created" event. Sessions and leads
    /// are added on every run. Shows progress bars on a terminal and ends with a one-line
    /// summary including elapsed time and rows per second.
    Generate(GenerateArgs),
    /// Write a consistent copy of the SQLite database (VACUUM INTO) while the server runs.
    ///
    /// Refuses to overwrite an existing file. For PostgreSQL use pg_dump.
    Backup {
        /// The file to create, e.g. backups/cohai-2026-11-24.db.
        #[arg(long)]
        output: PathBuf,
    },
}

/// Sizes of the generated data.
#[derive(Debug, Args)]
struct GenerateArgs {
    /// Bench studios to spread the class sessions and leads over.
    #[arg(long, default_value_t = 10)]
    locations: usize,
    /// Class sessions to add.
    #[arg(long, default_value_t = 100_000)]
    sessions: u64,
    /// Leads to add (each with its "created" event).
    #[arg(long, default_value_t = 100_000)]
    leads: u64,
    /// Rows per transaction.
    #[arg(long, default_value_t = NonZeroUsize::new(GenerateOptions::DEFAULT_BATCH_SIZE).unwrap_or(NonZeroUsize::MIN))]
    batch_size: NonZeroUsize,
    /// Seed of the pseudo-random choices (the same seed gives the same data).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// SQLite page cache of `generate`'s connections, KiB: enough for the index pages that
/// millions of inserts touch. (256 MiB was measured slower: it made each statement's end cost
/// more than the re-reads it saved.)
const GENERATE_SQLITE_CACHE_KIB: u32 = 32 * 1024;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load().context("loading settings")?;
    if matches!(cli.command, Command::Generate(_)) {
        // Millions of rows into indexed tables: the index pages must stay cached, or each
        // insert re-reads them from the file (1M leads took 47 s with the small default).
        settings.database.sqlite_cache_kib = settings
            .database
            .sqlite_cache_kib
            .max(GENERATE_SQLITE_CACHE_KIB);
    }
    logging::init(&settings.log).context("opening the log file")?;
    let db = Database::open(DatabaseUrl::parse(&settings.database_url), &settings.pool())
        .with_context(|| {
            format!(
                "opening the database {}",
                DatabaseUrl::parse(&settings.database_url).redacted()
            )
        })?;
    match cli.command {
        Command::Migrate => migrate(&db),
        Command::Seed => seed(&db),
        Command::Check => check(&db),
        Command::Generate(args) => generate(&db, &args),
        Command::Backup { output } => backup(&db, &output),
    }
}

fn migrate(db: &Database) -> anyhow::Result<()> {
    let applied = cohai_bootstrap::migrate(db).context("applying migrations")?;
    print_migrations(&applied);
    Ok(())
}

fn print_migrations(applied: &[String]) {
    if applied.is_empty() {
        println!("migrations: nothing to apply");
    }
    for name in applied {
        println!("applied migration {name}");
    }
}

fn seed(db: &Database) -> anyhow::Result<()> {
    let report = cohai_bootstrap::seed(db, chrono::Utc::now()).context("seeding demo data")?;
    print_migrations(&report.migrations);
    println!("{report}");
    if report.created_total() == 0 {
        println!("seed: nothing to create, the demo data are complete");
    }
    Ok(())
}

fn check(db: &Database) -> anyhow::Result<()> {
    let mismatches = cohai_bootstrap::check(db).context("reading the database schema")?;
    if mismatches.is_empty() {
        println!("schema OK: every mapped table and column exists with a compatible type");
        return Ok(());
    }
    for mismatch in &mismatches {
        println!("{mismatch}");
    }
    bail!(
        "the database schema does not match the code: {} difference(s)",
        mismatches.len()
    )
}

fn generate(db: &Database, args: &GenerateArgs) -> anyhow::Result<()> {
    let options = GenerateOptions {
        batch_size: args.batch_size.get(),
        seed: args.seed,
        ..GenerateOptions::new(
            args.locations,
            args.sessions,
            args.leads,
            chrono::Utc::now(),
        )
    };
    let report = cohai_bootstrap::generate(db, &options, &mut Bars::new())
        .context("generating benchmark data")?;
    print_migrations(&report.migrations);
    println!("{report}");
    Ok(())
}

fn backup(db: &Database, output: &Path) -> anyhow::Result<()> {
    let bytes = cohai_bootstrap::backup(db, output)
        .with_context(|| format!("backing up to {}", output.display()))?;
    println!("backup written to {} ({bytes} bytes)", output.display());
    Ok(())
}
