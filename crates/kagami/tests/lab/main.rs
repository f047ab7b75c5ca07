//! End-to-end tests: the real `kagami` binary against the lab's real servers
//! (BIND on 127.10.0.53/54 and [::1], the CT search on 127.10.0.80, the DNS
//! fault injector on 127.10.0.55-57). Start the lab with `lab/up`.

mod bad_input;
mod discovery;
mod dns_engine;
mod email;
mod formats;
mod probing;
mod report;
mod support;
mod vuln;
mod web;
