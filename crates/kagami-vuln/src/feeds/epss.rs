//! FIRST EPSS daily scores (CSV, usually gzip): a comment line
//! `#model_version:v2025.03.14,score_date:2026-11-20T12:55:00+0000`, the
//! header `cve,epss,percentile`, then one row per CVE.

use std::io::BufRead;

use super::{FeedError, FeedMeta, Row, Sink, date_of, read_error};
use crate::advisory::is_cve_id;

pub(crate) fn parse(
    label: &str,
    reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<FeedMeta, FeedError> {
    let mut lines = reader.lines();
    let mut next = || -> Result<Option<String>, FeedError> {
        lines.next().transpose().map_err(|e| read_error(label, &e))
    };
    let comment = next()?.unwrap_or_default();
    let fields: Vec<(&str, &str)> = comment
        .strip_prefix('#')
        .unwrap_or("")
        .split(',')
        .filter_map(|f| f.split_once(':'))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim())
    };
    let (Some(model), Some(score_date)) = (field("model_version"), field("score_date")) else {
        return Err(FeedError::Schema(
            label.into(),
            "the first line is not #model_version:…,score_date:…".into(),
        ));
    };
    let score_date = date_of(score_date)
        .ok_or_else(|| FeedError::Schema(label.into(), format!("bad score_date {score_date:?}")))?;
    let header = next()?.unwrap_or_default();
    if header.trim() != "cve,epss,percentile" {
        return Err(FeedError::Schema(
            label.into(),
            format!("header {header:?} is not cve,epss,percentile"),
        ));
    }
    let mut rows = 0u64;
    let mut number = 2u64;
    while let Some(line) = next()? {
        number += 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(',');
        let (Some(cve), Some(p), Some(pct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FeedError::Corrupt(
                label.into(),
                format!("line {number}: {line:?}"),
            ));
        };
        let probability: f64 = p.parse().unwrap_or(f64::NAN);
        let percentile: f64 = pct.parse().unwrap_or(f64::NAN);
        if !is_cve_id(cve)
            || !(0.0..=1.0).contains(&probability)
            || !(0.0..=1.0).contains(&percentile)
        {
            return Err(FeedError::Corrupt(
                label.into(),
                format!("line {number}: {line:?}"),
            ));
        }
        sink(Row::Epss {
            cve: cve.to_owned(),
            probability,
            percentile,
        })?;
        rows += 1;
    }
    if rows == 0 {
        return Err(FeedError::Corrupt(label.into(), "no scores".into()));
    }
    Ok(FeedMeta {
        data_date: Some(score_date.clone()),
        version: Some(model.to_owned()),
        detail: format!("model {model}, scores of {score_date}: {rows} CVEs"),
    })
}
