//! `skr`: the secure key release sidecar.
#![forbid(unsafe_code)]

use std::path::Path;

use csc_cli::logging;
use skr::{config, run};

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skr: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("demo") {
        #[cfg(feature = "sandbox")]
        {
            let _ = logging::init(config::LogLevel::Warning, None);
            if let Err(e) = runtime().block_on(skr::simulate::demo()) {
                eprintln!("skr demo: {e}");
                std::process::exit(1);
            }
            return;
        }
        #[cfg(not(feature = "sandbox"))]
        {
            eprintln!("skr: {}", config::ConfigError::NoSimulator("demo"));
            std::process::exit(2);
        }
    }
    let config = match config::Config::from_args_and_env(&args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(config::ConfigError::Help) => {
            println!("{}", config::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("skr: {e}");
            std::process::exit(2);
        }
    };
    if let Some(w) = &config.wrap {
        if let Err(e) = run::wrap(w) {
            eprintln!("skr: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = logging::init(config.log_level, config.log_file.as_deref().map(Path::new)) {
        eprintln!("skr: log file: {e}");
        std::process::exit(2);
    }
    let log_to_file = config.log_file.is_some();
    if let Err(e) = runtime().block_on(run::serve(config)) {
        tracing::error!("{e}");
        if log_to_file {
            eprintln!("skr: {e}");
        }
        std::process::exit(1);
    }
}
