//! Command-line arguments.

pub(crate) mod scan;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use kagami_core::Severity;

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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Discover and assess the internet-facing assets of one or more domains.
    Scan(ScanArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Jsonl,
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

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

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
