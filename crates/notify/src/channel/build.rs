//! From a channel's config table to a running channel: one match over the kinds, so the config
//! loader needs to know nothing about any of them.

use std::sync::Arc;

use model::ConfigIssue;
use serde::{Deserialize, Deserializer};

use super::slack::ChatService;
use super::{Channel, ChannelContext};

/// Every channel kind, as written in `kind = "..."`.
pub const KINDS: &[&str] = &[
    "email",
    "webhook",
    "slack",
    "mattermost",
    "teams",
    "pagerduty",
    "zendesk",
    "jira",
    "command",
];

/// Why a channel could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// `kind` names no channel; the known kinds are [`KINDS`].
    UnknownKind,
    /// The settings do not have the kind's shape (an unknown key, a wrong type): the
    /// deserializer's message.
    Shape(String),
    /// The settings have the right shape but wrong values: every problem, by key path.
    Issues(Vec<ConfigIssue>),
}

/// Builds a channel of `kind` from `settings` (the table without `kind`).
pub fn build<'de, D>(
    kind: &str,
    settings: D,
    ctx: &ChannelContext,
) -> Result<Arc<dyn Channel>, BuildError>
where
    D: Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    fn read<'de, T: Deserialize<'de>, D>(settings: D) -> Result<T, BuildError>
    where
        D: Deserializer<'de>,
        D::Error: std::fmt::Display,
    {
        T::deserialize(settings).map_err(|e| BuildError::Shape(e.to_string()))
    }
    fn boxed<C: Channel + 'static>(
        built: Result<C, Vec<ConfigIssue>>,
    ) -> Result<Arc<dyn Channel>, BuildError> {
        built
            .map(|c| Arc::new(c) as Arc<dyn Channel>)
            .map_err(BuildError::Issues)
    }
    match kind {
        "email" => boxed(read::<super::email::EmailSettings, _>(settings)?.build(ctx)),
        "webhook" => boxed(read::<super::webhook::WebhookSettings, _>(settings)?.build(ctx)),
        "slack" => {
            boxed(read::<super::slack::SlackSettings, _>(settings)?.build(ChatService::Slack, ctx))
        }
        "mattermost" => boxed(
            read::<super::slack::SlackSettings, _>(settings)?.build(ChatService::Mattermost, ctx),
        ),
        "teams" => boxed(read::<super::teams::TeamsSettings, _>(settings)?.build(ctx)),
        "pagerduty" => boxed(read::<super::pagerduty::PagerDutySettings, _>(settings)?.build(ctx)),
        "zendesk" => boxed(read::<super::zendesk::ZenDeskSettings, _>(settings)?.build(ctx)),
        "jira" => boxed(read::<super::jira::JiraSettings, _>(settings)?.build(ctx)),
        "command" => boxed(read::<super::command::CommandSettings, _>(settings)?.build(ctx)),
        _ => Err(BuildError::UnknownKind),
    }
}
