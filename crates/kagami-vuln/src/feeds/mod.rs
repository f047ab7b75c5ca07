//! The feeds `kagami db update` imports, each in its publisher's exact
//! format: NVD CVE API 2.0 JSON (the yearly feed files or API pages), the
//! CISA KEV catalogue (JSON), FIRST EPSS scores (CSV, gzip), the Debian
//! security tracker (JSON) and Ubuntu's OSV records (a directory of JSON
//! files or the `osv-all.tar.xz` archive). Parsers stream: a feed is never
//! held in memory whole, and every record is checked before it is stored.

pub(crate) mod debian;
pub(crate) mod epss;
pub(crate) mod kev;
pub(crate) mod nvd;
pub(crate) mod ubuntu;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The feeds, in import order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    Nvd,
    Kev,
    Epss,
    Debian,
    Ubuntu,
}

impl Feed {
    pub const ALL: [Self; 5] = [Self::Nvd, Self::Kev, Self::Epss, Self::Debian, Self::Ubuntu];

    pub fn name(self) -> &'static str {
        match self {
            Self::Nvd => "nvd",
            Self::Kev => "kev",
            Self::Epss => "epss",
            Self::Debian => "debian",
            Self::Ubuntu => "ubuntu",
        }
    }

    /// What the feed is, for status output.
    pub fn title(self) -> &'static str {
        match self {
            Self::Nvd => "NVD CVE 2.0",
            Self::Kev => "CISA KEV catalogue",
            Self::Epss => "FIRST EPSS scores",
            Self::Debian => "Debian security tracker",
            Self::Ubuntu => "Ubuntu OSV records",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: corrupt or truncated: {1}")]
    Corrupt(String, String),
    #[error("{0}: unknown format or schema version: {1}")]
    Schema(String, String),
    #[error("no {0} files in {1}")]
    Missing(&'static str, String),
    #[error("download of {0} failed: {1}")]
    Download(String, String),
    #[error("store: {0}")]
    Store(String),
}

/// One record to store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Row {
    Cve {
        cve: String,
        published: Option<String>,
        cvss: Option<f64>,
        cvss_version: Option<String>,
        cvss_vector: Option<String>,
        summary: String,
    },
    Match {
        cve: String,
        vendor: String,
        product: String,
        version: Option<String>,
        start_incl: Option<String>,
        start_excl: Option<String>,
        end_incl: Option<String>,
        end_excl: Option<String>,
        platform: Option<String>,
    },
    Kev {
        cve: String,
        date_added: Option<String>,
        ransomware: bool,
        name: String,
    },
    Epss {
        cve: String,
        probability: f64,
        percentile: f64,
    },
    Distro {
        distro: &'static str,
        release: String,
        package: String,
        cve: String,
        status: &'static str,
        fixed: Option<String>,
    },
}

/// What a parser learnt about the feed as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FeedMeta {
    /// The date the data describes, `YYYY-MM-DD`.
    pub(crate) data_date: Option<String>,
    /// The publisher's version of the data (EPSS model, KEV catalogue).
    pub(crate) version: Option<String>,
    pub(crate) detail: String,
}

/// Receives the parsed rows; an error stops the parser.
pub(crate) type Sink<'a> = dyn FnMut(Row) -> Result<(), FeedError> + 'a;

/// The files of one feed in an import directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFiles {
    pub feed: Feed,
    pub paths: Vec<PathBuf>,
}

/// File names in a `--from` directory (and on a `--mirror`):
/// `nvd/*.json[.gz]` or `nvdcve-2.0-*.json[.gz]`,
/// `known_exploited_vulnerabilities.json`, `epss_scores-current.csv[.gz]`,
/// `debian.json[.gz]`, and `osv-all.tar.xz` or `ubuntu/` (OSV JSON files).
pub fn find_files(dir: &Path) -> Vec<FeedFiles> {
    let mut found = Vec::new();
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    };
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let top = list(dir);
    let mut nvd: Vec<PathBuf> = top
        .iter()
        .filter(|p| {
            let n = name_of(p);
            n.starts_with("nvdcve-2.0-") && (n.ends_with(".json") || n.ends_with(".json.gz"))
        })
        .cloned()
        .collect();
    nvd.extend(list(&dir.join("nvd")).into_iter().filter(|p| {
        let n = name_of(p);
        n.ends_with(".json") || n.ends_with(".json.gz")
    }));
    if !nvd.is_empty() {
        found.push(FeedFiles {
            feed: Feed::Nvd,
            paths: nvd,
        });
    }
    let first = |names: &[&str]| {
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .map(|p| vec![p])
    };
    if let Some(paths) = first(&["known_exploited_vulnerabilities.json"]) {
        found.push(FeedFiles {
            feed: Feed::Kev,
            paths,
        });
    }
    if let Some(paths) = first(&["epss_scores-current.csv.gz", "epss_scores-current.csv"]) {
        found.push(FeedFiles {
            feed: Feed::Epss,
            paths,
        });
    }
    if let Some(paths) = first(&["debian.json.gz", "debian.json"]) {
        found.push(FeedFiles {
            feed: Feed::Debian,
            paths,
        });
    }
    if let Some(paths) = first(&["osv-all.tar.xz"]).or_else(|| {
        let ubuntu = dir.join("ubuntu");
        ubuntu.is_dir().then(|| vec![ubuntu])
    }) {
        found.push(FeedFiles {
            feed: Feed::Ubuntu,
            paths,
        });
    }
    found
}

/// Opens a feed file, decompressing gzip transparently (recognised by its
/// magic bytes, so a server's transfer encoding does not matter).
pub(crate) fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, FeedError> {
    let label = path.display().to_string();
    let file = File::open(path).map_err(|e| FeedError::Io(label.clone(), e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(|e| FeedError::Io(label, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(1 << 16, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// A reader that turns I/O errors into feed errors with the file's name.
pub(crate) fn read_error(label: &str, e: &std::io::Error) -> FeedError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof || e.kind() == std::io::ErrorKind::InvalidData
    {
        FeedError::Corrupt(label.into(), e.to_string())
    } else {
        FeedError::Io(label.into(), std::io::Error::new(e.kind(), e.to_string()))
    }
}

/// Maps a serde_json error to a feed error: an early end is truncation.
pub(crate) fn json_error(label: &str, e: &serde_json::Error) -> FeedError {
    if let Some(inner) = e.io_error_kind() {
        return read_error(label, &std::io::Error::new(inner, e.to_string()));
    }
    FeedError::Corrupt(label.into(), e.to_string())
}

/// The date part of an ISO 8601 timestamp, validated.
pub(crate) fn date_of(timestamp: &str) -> Option<String> {
    let date = timestamp.get(..10)?;
    crate::eol::parse_date(date).map(|_| date.to_owned())
}

/// Reads everything left, for small feeds.
pub(crate) fn read_all(
    label: &str,
    mut reader: impl Read,
    cap: usize,
) -> Result<Vec<u8>, FeedError> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(label, &e))?;
    if bytes.len() > cap {
        return Err(FeedError::Corrupt(
            label.into(),
            format!("larger than {} MB", cap >> 20),
        ));
    }
    Ok(bytes)
}
