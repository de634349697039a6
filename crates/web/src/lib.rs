//! Periscope's HTTP surface for people and tools. Today: the Prometheus-compatible query API
//! ([`prom_api`]), so Grafana's Prometheus data source, `promtool` and scripts written for
//! Prometheus can read Periscope.
//!
//! The one decision behind the crate: it knows HTTP and JSON shapes, never how a query is
//! answered. Evaluation, series lookup and alert state come through the [`prom_api::QueryBackend`]
//! seam that the binary implements over the store and the rule engine, so this crate depends on
//! `model` alone and its handlers are tested as functions (`router(..).oneshot(request)`).

pub mod prom_api;
