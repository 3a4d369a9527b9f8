//! `env_logger` set-up: plain or JSON lines, to standard error and optionally a file.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::settings::{LogFormat, LogSettings};

/// Writes every line to standard error and to a file.
struct Tee {
    file: std::fs::File,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The file is the durable copy; standard error is best effort.
        let _ = io::stderr().write_all(buf);
        self.file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        self.file.flush()
    }
}

/// Installs the global logger; `RUST_LOG` overrides `settings.level`. Fails only when the
/// log file cannot be opened.
pub fn init(settings: &LogSettings) -> io::Result<()> {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&settings.level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    if settings.format == LogFormat::Json {
        builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    if !settings.file.is_empty() {
        let path = Path::new(&settings.file);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        builder.target(env_logger::Target::Pipe(Box::new(Tee { file })));
    }
    // A second initialisation (tests) keeps the first logger.
    let _ = builder.try_init();
    Ok(())
}
