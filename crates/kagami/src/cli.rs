//! Command-line arguments.

pub(crate) mod db;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod scan;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kagami_core::Severity;

pub(crate) use crate::cli::render::{Format, RenderArgs};

#[derive(Debug, Parser)]
#[command(
    name = "kagami",
    version,
    about = "Kagami (鏡): see your organisation as an attacker sees it from the internet"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Discover and assess the internet-facing assets of one or more domains.
    Scan(ScanArgs),
    /// Render a saved JSON report again (another format, language or company
    /// profile) without scanning.
    Report(ReportArgs),
    /// Manage the local vulnerability data (NVD, CISA KEV, EPSS, Debian and
    /// Ubuntu security trackers).
    Db(DbArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DbArgs {
    #[command(subcommand)]
    pub(crate) command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Download the feeds and import them into the store (each feed
    /// atomically: a failed import keeps the previous data).
    Update(DbUpdateArgs),
    /// Show what vulnerability data is loaded and how old it is.
    Status(DbStatusArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DbUpdateArgs {
    /// The store file. Default: $XDG_DATA_HOME/kagami/vuln.sqlite.
    #[arg(long, value_name = "FILE", env = "KAGAMI_VULN_DB")]
    pub(crate) db: Option<PathBuf>,

    /// Import the feed files from this directory instead of downloading
    /// (layout in docs/cli.md).
    #[arg(long, value_name = "DIR", conflicts_with = "mirror")]
    pub(crate) from: Option<PathBuf>,

    /// Download every file from this base URL instead of the publishers
    /// (a web server serving a --from directory).
    #[arg(long, value_name = "URL")]
    pub(crate) mirror: Option<String>,

    /// Only these feeds (repeatable): nvd, kev, epss, debian, ubuntu.
    #[arg(long = "feed", value_name = "FEED", value_parser = parse_feed)]
    pub(crate) feeds: Vec<kagami_vuln::Feed>,

    /// Extra trusted root certificates (PEM) for the downloads (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub(crate) ca_files: Vec<PathBuf>,

    /// Time-out of connecting and of each read of a download, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub(crate) timeout: f64,

    /// Print only errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DbStatusArgs {
    /// The store file. Default: $XDG_DATA_HOME/kagami/vuln.sqlite.
    #[arg(long, value_name = "FILE", env = "KAGAMI_VULN_DB")]
    pub(crate) db: Option<PathBuf>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_feed(text: &str) -> Result<kagami_vuln::Feed, String> {
    kagami_vuln::Feed::parse(text)
        .ok_or_else(|| format!("unknown feed {text:?} (nvd, kev, epss, debian or ubuntu)"))
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// A JSON report written by `kagami scan --format json`.
    #[arg(value_name = "REPORT.json")]
    pub(crate) input: PathBuf,

    /// Output format (not jsonl).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) render: RenderArgs,

    /// Print only the report and errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Target domains (e.g. example.co.jp).
    #[arg(required = true, value_name = "DOMAIN")]
    pub(crate) targets: Vec<String>,

    /// DNS server to ask, IP[:PORT] (repeatable). Default: the system's.
    #[arg(long = "resolver", value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub(crate) resolvers: Vec<SocketAddr>,

    /// Also scan loopback, private, link-local, CGNAT and multicast addresses.
    #[arg(long)]
    pub(crate) allow_private: bool,

    /// Base URL of a crt.sh-compatible certificate-transparency search.
    #[arg(long, value_name = "URL", default_value = "https://crt.sh", value_parser = parse_ct_url)]
    pub(crate) ct_url: String,

    /// Do not search certificate transparency.
    #[arg(long)]
    pub(crate) no_ct: bool,

    /// Time limit of the certificate-transparency search, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub(crate) ct_timeout: f64,

    /// Extra names to brute-force, one per line (repeatable); added to the bundled list.
    #[arg(long = "wordlist", value_name = "FILE")]
    pub(crate) wordlists: Vec<PathBuf>,

    /// Do not use the bundled wordlist (only --wordlist files).
    #[arg(long)]
    pub(crate) no_default_wordlist: bool,

    /// DNS blocklist zone to look addresses up in (repeatable). Default: a built-in list.
    #[arg(long = "dnsbl", value_name = "ZONE")]
    pub(crate) dnsbl: Vec<String>,

    /// Do not look addresses up in DNS blocklists.
    #[arg(long)]
    pub(crate) no_dnsbl: bool,

    /// Extra trusted root certificates (PEM) for every TLS connection (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub(crate) ca_files: Vec<PathBuf>,

    /// DNS, certificate transparency and e-mail checks only; nothing is probed.
    #[arg(long)]
    pub(crate) passive: bool,

    /// TCP ports to scan: top100, top1000, all, or a list such as 22,80,8000-8100.
    #[arg(long, value_name = "PORTS", default_value = "top1000")]
    pub(crate) ports: String,

    /// TCP ports never to scan (same syntax as --ports).
    #[arg(long, value_name = "PORTS")]
    pub(crate) exclude_ports: Option<String>,

    /// Name asked of the organisation's name servers to test whether they
    /// resolve names of others for anyone (open resolver).
    #[arg(long, value_name = "NAME", default_value = "www.example.com")]
    pub(crate) recursion_probe: String,

    /// The vulnerability store written by `kagami db update`. Default:
    /// $XDG_DATA_HOME/kagami/vuln.sqlite; without one, only the data set
    /// bundled with Kagami is used.
    #[arg(long, value_name = "FILE", env = "KAGAMI_VULN_DB")]
    pub(crate) vuln_db: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) render: RenderArgs,

    /// Network questions in flight at once.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) concurrency: u32,

    /// Packets per second at most (0 = no limit).
    #[arg(long, value_name = "PER_SECOND", default_value_t = 2_000)]
    pub(crate) rate: u32,

    /// Time-out of one network attempt, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub(crate) timeout: f64,

    /// Exit with code 4 when a finding of this severity or worse is reported.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub(crate) fail_on: Option<Severity>,

    /// Print only the report and errors (no progress, no warnings).
    #[arg(short, long, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// More log output on standard error (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!("{text:?} is not IP or IP:PORT (IPv6 with a port: [2001:db8::53]:5353)")
        })
}

fn parse_ct_url(text: &str) -> Result<String, String> {
    kagami_discovery::CtSource::parse_base(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
}
