//! `[partner.NAME]`: each partner becomes a receiver (`partner:NAME`) with its own channels,
//! a route outside the tree for alerts carrying `partner="NAME"`, and maintenance windows for
//! its downtime (see `notify::partner`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use model::time_period::TimePeriods;
use notify::channel::ChannelContext;
use notify::maintenance::MaintenanceWindows;
use notify::partner::{Partner, Partners, RawPartner};
use notify::pipeline::Receiver;
use notify::route::RouteTree;

use super::Reader;

/// Partners read from the config, before the routing tree exists.
pub(super) struct Pending {
    built: notify::partner::Built,
}

impl Reader<'_, '_> {
    /// Checks every partner and adds its receiver to `receivers`. `None` when something is
    /// wrong (reported).
    pub(super) fn partners(
        &mut self,
        raw: BTreeMap<String, RawPartner<toml::Table>>,
        periods: &TimePeriods,
        ctx: &ChannelContext,
        base_dir: &Path,
        receivers: &mut HashMap<String, Receiver>,
    ) -> Option<Pending> {
        let built = Partners::build(&raw, periods)
            .map_err(|issues| self.issues("partner", issues))
            .ok();
        for (name, p) in raw {
            let key = format!("partner.{name}");
            let receiver_name = Partner::receiver_name(&name);
            let mut receiver = Receiver::new(receiver_name.clone(), Vec::new());
            receiver.partner = built
                .as_ref()
                .and_then(|b| b.partners.get(&name))
                .map(Arc::clone);
            let never = p.notify.as_deref() == Some("never") && p.failure_mode.is_empty();
            let mut channels = p.channel;
            if channels.is_empty() && !never {
                if p.contact.iter().any(|c| c.email.is_some()) {
                    // Agreed contacts with addresses are the natural way to tell a partner.
                    let mut table = toml::Table::new();
                    table.insert("kind".into(), toml::Value::String("email".into()));
                    channels.push(table);
                } else {
                    self.error(
                        &key,
                        format!("partner `{name}` has no way to be told"),
                        Some(format!(
                            "add [[{key}.channel]] (kind = \"email\", \"webhook\"...), a [[{key}.contact]] with an email, or notify = \"never\""
                        )),
                    );
                }
            }
            for (i, table) in channels.into_iter().enumerate() {
                let path = format!("{key}.channel.{i}");
                if let Some(slot) = self.channel(&receiver_name, i, &path, table, ctx, base_dir) {
                    receiver.channels.push(slot);
                }
            }
            receivers.insert(receiver_name, receiver);
        }
        built.map(|built| Pending { built })
    }
}

impl Pending {
    /// Adds each partner's route to `tree` and its downtime to `maintenance`.
    pub(super) fn install(
        self,
        reader: &mut Reader<'_, '_>,
        tree: &mut RouteTree,
        maintenance: &mut MaintenanceWindows,
        periods: &TimePeriods,
    ) -> Partners {
        for (name, route) in &self.built.routes {
            let path = Partner::receiver_name(name);
            if let Err(issues) = tree.add_side(&path, route, &|_| true, periods) {
                reader.issues(&format!("partner.{name}"), issues);
            }
        }
        maintenance.extend(self.built.downtime);
        self.built.partners
    }
}
