//! `skr`: the secure key release sidecar.
#![forbid(unsafe_code)]

use skr::config;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match config::Config::from_args_and_env(&args, |k| std::env::var(k).ok()) {
        Ok(c) => println!("{c:?}"),
        Err(config::ConfigError::Help) => println!("{}", config::USAGE),
        Err(e) => {
            eprintln!("skr: {e}");
            std::process::exit(2);
        }
    }
}
