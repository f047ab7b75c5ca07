//! The vulnerability stage, after probing and the web stage: every product
//! seen with a version (service banners, web technologies) is judged by
//! kagami-vuln against the curated set and the local feed store. One
//! sighting per service and product: a server seen under several names is
//! one server.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use kagami_core::{Progress, Service, Transport, WebOrigin};
use kagami_vuln::catalog::Catalog;
use kagami_vuln::{Assessment, Place, Sighting, Software};
use time::OffsetDateTime;

use crate::probing::ProbeTarget;

/// Gathers the sightings of a probing round.
#[derive(Default)]
pub(crate) struct Sightings {
    by_key: BTreeMap<(IpAddr, u16, String, String), Sighting>,
}

impl Sightings {
    fn add(&mut self, software: Software, place: Place) {
        let (Some(ip), Some(port)) = (place.ip, place.port) else {
            return;
        };
        let product = Catalog::bundled()
            .find(&software.product, software.cpe.as_deref())
            .map_or_else(|| software.product.to_lowercase(), |p| p.name.clone());
        let key = (ip, port, product, software.version.clone());
        let sighting = Sighting { software, place };
        match self.by_key.get_mut(&key) {
            // Keep the richer record: one with a name, or with a revision.
            Some(existing) => {
                let better = (existing.place.hostname.is_none()
                    && sighting.place.hostname.is_some())
                    || (existing.software.revision.is_none()
                        && sighting.software.revision.is_some());
                if better {
                    *existing = sighting;
                }
            }
            None => {
                self.by_key.insert(key, sighting);
            }
        }
    }

    pub(crate) fn services<'a>(
        &mut self,
        services: impl Iterator<Item = &'a Service>,
        targets: &BTreeMap<IpAddr, ProbeTarget>,
    ) {
        for service in services {
            let (Some(software), Some(target)) =
                (Software::from_service(service), targets.get(&service.ip))
            else {
                continue;
            };
            let place = Place {
                domain: target.domain.clone(),
                hostname: service.hostnames.first().cloned(),
                ip: Some(service.ip),
                port: Some(service.port),
                transport: Some(service.transport),
            };
            self.add(software, place);
        }
    }

    pub(crate) fn web(&mut self, origins: &[WebOrigin], targets: &BTreeMap<IpAddr, ProbeTarget>) {
        for origin in origins {
            let Some(target) = targets.get(&origin.ip) else {
                continue;
            };
            for tech in &origin.technologies {
                let Some(version) = &tech.version else {
                    continue;
                };
                let software = Software::new(&tech.name, version)
                    .cpe(tech.cpe.as_deref())
                    .context(Some(&tech.evidence));
                let place = Place {
                    domain: target.domain.clone(),
                    hostname: origin
                        .hostname
                        .clone()
                        .or_else(|| target.hostnames.first().cloned()),
                    ip: Some(origin.ip),
                    port: Some(origin.port),
                    transport: Some(Transport::Tcp),
                };
                self.add(software, place);
            }
        }
    }

    /// Judges everything seen.
    pub(crate) async fn assess(self, store: Option<&Path>, progress: &dyn Progress) -> Assessment {
        let sightings: Vec<Sighting> = self.by_key.into_values().collect();
        progress.start("vulnerabilities", None);
        let (knowledge, store_step, warning) = kagami_vuln::knowledge_for(store, &sightings).await;
        let mut assessment =
            kagami_vuln::assess(&sightings, &knowledge, OffsetDateTime::now_utc().date());
        progress.finish();
        assessment.steps.extend(store_step);
        assessment.warnings.extend(warning);
        assessment
    }
}
