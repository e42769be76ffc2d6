//! The environment dashboard: this server's role, the master and epoch, every server with its
//! reachability, pending operations and conflicts, and the PMS links with their state,
//! counters and last messages, with a button to start a General Reset.

use super::error::{UiError, UiResult};
use super::format::{query, url_encode};
use super::layout::{self, Nav};
use super::session::{NoFields, Posted, UiUser};
use super::words::{self, Names};
use crate::auth::Permission;
use crate::pms::LinkStatus;
use crate::problem::Problem;
use crate::replication::environment_view::EnvironmentView;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Days;
use innsync_core::dates::Nights;
use innsync_core::Authority;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Query of the dashboard: what just happened, if anything.
#[derive(Deserialize, Default)]
pub struct DashQuery {
    #[serde(default)]
    reset: String,
    #[serde(default)]
    handover: String,
    #[serde(default)]
    done: String,
}

/// GET `/ui/environment`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<DashQuery>,
) -> UiResult<Markup> {
    let env = EnvironmentView::read(&state).await?;
    let links = state.pms.statuses();
    let notice = if !q.reset.is_empty() {
        Some(layout::done_box(&format!(
            "General Reset requested on link {}; the link shows \"resetting\" while it runs.",
            q.reset
        )))
    } else if !q.done.is_empty() {
        Some(layout::done_box(&q.done))
    } else if !q.handover.is_empty() {
        Some(layout::done_box(&format!(
            "Master handed over: {} ({}) is now the master (handover number {}).",
            Names::read(&state).await?.server(&q.handover),
            q.handover,
            env.epoch
        )))
    } else {
        None
    };
    let queues = super::operations::Queues::read(&state).await?;
    let extra = Extra::read(&state).await?;
    Ok(render(&user, &env, &links, &queues, &extra, notice))
}

/// Nights ahead the handover form counts when it says what each server will sell.
pub const HANDOVER_HORIZON_NIGHTS: u64 = 14;

/// What the dashboard shows beside the environment view: names, the environment file's
/// addresses, and the free units each holder holds over the next nights.
struct Extra {
    names: Names,
    /// `(code, address in the environment file)`.
    file_urls: Vec<(String, String)>,
    /// Free room-nights per holder (`env` or a server code) over the horizon.
    free: BTreeMap<String, u64>,
    /// The off-site archive, when `archive_url` is set.
    archive: Option<ArchiveView>,
}

/// The off-site archive as the dashboard shows it (issue 21): the gauges `/metrics` exports,
/// so an operator sees the data at risk, and a stalled archive, before a disaster does.
struct ArchiveView {
    url: String,
    /// This process ships (a single node, or the cluster's leader); a follower's gauges are
    /// those of its last turn as leader, so they are not shown.
    ships_here: bool,
    lag_seconds: f64,
    changes_behind: i64,
    segments: i64,
    backups: i64,
    failures: i64,
    failing: bool,
}

impl ArchiveView {
    fn read(state: &AppState) -> Option<Self> {
        let url = state.settings.offsite.url.clone()?;
        let a = &state.metrics.archive;
        Some(Self {
            url,
            ships_here: state.cluster.as_ref().is_none_or(|n| n.is_leader()),
            lag_seconds: a.lag_seconds.get(),
            changes_behind: a.changes_behind.get(),
            segments: a.segments_shipped.get(),
            backups: a.backups_shipped.get(),
            failures: a.failures.get(),
            failing: a.failing.get() != 0,
        })
    }
}

impl Extra {
    async fn read(state: &AppState) -> UiResult<Self> {
        let names = Names::read(state).await?;
        let file_urls = state
            .env
            .as_ref()
            .map(|c| {
                c.env
                    .servers
                    .iter()
                    .map(|s| {
                        (
                            s.code.to_string(),
                            s.url.as_str().trim_end_matches('/').to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let today = (state.clock)().date_naive();
        let nights = Nights {
            from: today,
            to: today + Days::new(HANDOVER_HORIZON_NIGHTS),
        };
        let free = state
            .read(move |r| {
                let mut free: BTreeMap<String, u64> = BTreeMap::new();
                for p in r.properties()? {
                    if let Some(h) = r.holdings(&p.code, nights)? {
                        for hn in h
                            .room_types
                            .iter()
                            .flat_map(|t| t.nights.iter())
                            .flat_map(|n| n.holders.iter())
                        {
                            let key = match &hn.holder {
                                Authority::Env => "env".to_string(),
                                Authority::Server(s) => s.to_string(),
                            };
                            *free.entry(key).or_default() +=
                                u64::try_from((hn.held - i64::from(hn.sold)).max(0)).unwrap_or(0);
                        }
                    }
                }
                Ok(free)
            })
            .await?;
        Ok(Self {
            names,
            file_urls,
            free,
            archive: ArchiveView::read(state),
        })
    }

    fn free_of(&self, key: &str) -> u64 {
        self.free.get(key).copied().unwrap_or(0)
    }
}

fn state_badge(state: &str) -> Markup {
    let class = match state {
        "up" | "master" => "ok",
        "resetting" | "starting" | "handing_over" => "st-provisional",
        "down" => "down",
        _ => "idle",
    };
    html! { span class={ "badge " (class) } { (state) } }
}

fn render(
    user: &UiUser,
    env: &EnvironmentView,
    links: &[LinkStatus],
    queues: &super::operations::Queues,
    extra: &Extra,
    notice: Option<Markup>,
) -> Markup {
    let n = &extra.names;
    let body = html! {
        div.pagehead { h1 { "Environment" } span.muted { (env.environment) } }
        @if let Some(n) = notice { (n) }
        section.card data-testid="this-server" {
            h2 { "This server" }
            div.stats {
                div.stat { span.muted { "Server" } b { (n.server(&env.server)) } span.muted.code data-testid="server" { (env.server) } }
                div.stat { span.muted { "This server is" } b data-state=(env.state) { (words::role_state(&env.state)) } span.muted.code data-testid="state" { (env.state) } }
                div.stat { span.muted { "Master" } b { (n.server(&env.master)) } span.muted { span.code data-testid="master" { (env.master) } " · handover number " span data-testid="epoch" { (env.epoch) } } }
                div.stat { span.muted { "Pending operations" } b data-testid="pending" { (env.pending) }
                    span.muted { @if env.pending > 0 { "oldest " (env.pending_oldest_age_s) " s" } @else { "none waiting" } } }
                div.stat { span.muted { "Failed" } b data-testid="failed" { (env.failed) } }
                div.stat { span.muted { "Conflicts" } b data-testid="conflicts" { (env.conflicts) } }
            }
        }
        @if let Some(a) = &extra.archive { (archive_card(a)) }
        section.card {
            h2 { "Servers" }
            div.scroll {
                table.list data-testid="servers" {
                    thead { tr { th { "Server" } th { "Role" } th { "Address" } th { "Reachable" } th { "Last sync" } th { "Changes behind" } th { "Link" } th { "Master" } th {} } }
                    tbody {
                        @for s in &env.servers {
                            @let file_url = extra.file_urls.iter().find(|(c, _)| *c == s.code).map(|(_, u)| u.clone());
                            tr data-server=(s.code) {
                                td { strong { (n.server(&s.code)) } " " span.muted.code { (s.code) } @if s.this_server { " " span.muted { "(this server)" } } }
                                td { (s.role) }
                                td.mono {
                                    @match (&file_url, &s.url) {
                                        (Some(f), Some(u)) if f != u => { (f) br; span.muted { "reached through " (u) } }
                                        (Some(f), _) => { (f) }
                                        (None, Some(u)) => { (u) }
                                        (None, None) => { span.muted { "—" } }
                                    }
                                }
                                td { @if s.reachable { span.badge.ok { "reachable" } } @else { span.badge.down { "unreachable" } } }
                                td { @if let Some(t) = &s.last_sync { (super::format::audit_time(t)) } @else { span.muted { "—" } } }
                                td { (s.behind)
                                    @if let Some(e) = &s.last_error { br; span.muted title=(e) { "last error: " (e) } } }
                                td data-testid="link" { @if let Some(l) = &s.link { (link_cell(l)) } @else { span.muted { "—" } } }
                                td { @if s.code == env.master { span.badge.ok { "master" } } }
                                td { @if !s.this_server { (super::operations::transfer_button(user, &s.code)) } }
                            }
                        }
                    }
                }
            }
        }
        @if env.can_hand_over() && user.may(Permission::Admin) {
            (handover_form(user, env, extra))
        }
        (super::operations::pending_section(user, &queues.pending))
        (super::operations::conflicts_section(user, &queues.conflicts))
        section.card data-testid="pms" {
            h2 { "PMS links" }
            @if links.is_empty() {
                p.muted { "No PMS link is configured on this server. An administrator adds one with PUT /api/v1/pms/links/{name}." }
            }
            @for l in links {
                (link_card(user, l))
            }
        }
    };
    layout::page(user, &env.server, Nav::Environment, "Environment", body)
}

/// The off-site archive's card: how far the bucket is behind (what a lost site would lose).
fn archive_card(a: &ArchiveView) -> Markup {
    let (class, state) = if a.failing {
        ("down", "failing")
    } else if a.changes_behind == 0 {
        ("ok", "up to date")
    } else {
        ("st-provisional", "shipping")
    };
    html! {
        section.card data-testid="archive" {
            div.pagehead { h2 { "Off-site archive" } span.muted.mono { (a.url) } }
            @if a.ships_here {
                div.stats {
                    div.stat { span.muted { "State" } b { span class={ "badge " (class) } data-testid="archive-state" { (state) } } }
                    div.stat { span.muted { "Archive lag" } b data-testid="archive-lag" data-seconds=(format!("{:.3}", a.lag_seconds)) { (format!("{:.1}", a.lag_seconds)) " s" }
                        span.muted { "age of the oldest change not yet in the bucket: what losing the whole site now would lose" } }
                    div.stat { span.muted { "Changes behind" } b data-testid="archive-behind" { (a.changes_behind) } }
                    div.stat { span.muted { "Shipped" } b data-testid="archive-segments" { (a.segments) } span.muted { "segments · " (a.backups) " backups" } }
                    div.stat { span.muted { "Failed rounds" } b data-testid="archive-failures" { (a.failures) } span.muted { "each retried" } }
                }
            } @else {
                p.muted data-testid="archive-state" { "This node does not ship: the cluster's leader does. Its dashboard shows the archive lag." }
            }
        }
    }
}

fn handover_form(user: &UiUser, env: &EnvironmentView, extra: &Extra) -> Markup {
    let n = &extra.names;
    let shared = extra.free_of("env");
    html! {
        section.card data-testid="handover" {
            h2 { "Hand over master" }
            p.muted { "The master writes the environment's shared data and sells its shared stock. A handover waits until the new master has every change, then moves the master token; writes of shared data pause for that moment." }
            table.list data-testid="handover-effect" {
                caption.muted { "What each server may sell after the handover (free room-nights over the next " (HANDOVER_HORIZON_NIGHTS) " nights, all properties)" }
                thead { tr { th scope="col" { "If the new master is" } th scope="col" { "It sells" } th scope="col" { "This server then sells" } } }
                tbody {
                    @for s in env.servers.iter().filter(|s| !s.this_server) {
                        tr data-target=(s.code) {
                            th scope="row" { (n.server(&s.code)) " " span.muted.code { (s.code) } @if !s.reachable { " " span.badge.down { "unreachable" } } }
                            td { (shared + extra.free_of(&s.code)) " (shared stock " (shared) " + its own " (extra.free_of(&s.code)) ")" }
                            td { (extra.free_of(&env.server)) " (its own allotment only)" }
                        }
                    }
                }
            }
            form.row method="post" action="/ui/environment/handover"
                data-confirm="Hand the master role to the chosen server? Shared data will be written there from now on." {
                (layout::csrf(user))
                label { "New master"
                    select name="to" required {
                        option value="" disabled selected { "Choose the new master…" }
                        @for s in env.servers.iter().filter(|s| !s.this_server) {
                            option value=(s.code) { (n.server(&s.code)) " (" (s.code) ")" @if !s.reachable { " — unreachable" } }
                        }
                    }
                }
                label { "Reason" input name="reason" maxlength="500" placeholder="e.g. shift change"; }
                button.danger type="submit" data-action="handover" { "Hand over" }
            }
        }
    }
}

/// A peer link's figures in one cell: traffic, round trip, retries, catch-up.
fn link_cell(l: &crate::replication::link_meter::LinkFigures) -> Markup {
    html! {
        span.mono { "in " (format!("{:.0}", l.bytes_in_per_s)) " B/s · out " (format!("{:.0}", l.bytes_out_per_s)) " B/s" }
        br;
        span.muted {
            "round trip " @if let Some(r) = l.rtt_ms { (r) " ms" } @else { "—" }
            " · retries " (l.retries)
            @if let Some(c) = l.catch_up_s { @if c > 0.0 { " · catch-up ≈ " (format!("{c:.0}")) " s" } }
        }
    }
}

fn link_card(user: &UiUser, l: &LinkStatus) -> Markup {
    html! {
        div.card data-link=(l.name) {
            div.pagehead {
                h3 { (l.name) }
                (state_badge(&l.state))
                @if let Some(s) = &l.settings {
                    span.muted { (s.property) " · " (format!("{:?}", s.dialect).to_lowercase()) " · " (format!("{:?}", s.role).to_lowercase()) " " span.mono { (s.address) } }
                }
                span.spacer {}
                @if user.may(Permission::FrontDesk) {
                    form method="post" action={ "/ui/pms/" (url_encode(&l.name)) "/reset" }
                        data-confirm={ "Start a General Reset on " (l.name) "? The system's whole room state is resent." } {
                        (layout::csrf(user))
                        button.secondary type="submit" data-action="general-reset" { "Start General Reset" }
                    }
                }
            }
            div.stats {
                div.stat { span.muted { "Delivered" } b { (l.delivered) } }
                div.stat { span.muted { "Failed" } b { (l.failed) } }
                div.stat { span.muted { "Received" } b { (l.received) } }
                div.stat { span.muted { "General Resets" } b { (l.resets) } span.muted { @if let Some(t) = &l.last_reset_at { "last " (super::format::audit_time(t)) } @else { "none yet" } } }
                div.stat { span.muted { "Outbox position" } b { (l.outbox_delivered) } }
                div.stat { span.muted { "Skipped" } b data-testid="pms-skipped" { (l.skipped) } }
                div.stat { span.muted { "Postings (not charged)" } b data-testid="pms-postings" { (l.postings) } }
            }
            @if !l.last_skipped.is_empty() {
                h3 { "Skipped records" }
                ul.messages { @for m in l.last_skipped.iter().rev() { li { (m) } } }
            }
            @if !l.last_postings.is_empty() {
                h3 { "Postings to charge by hand" }
                ul.messages { @for p in l.last_postings.iter().rev() {
                    li { (super::format::audit_time(&p.received_at)) " · " (p.words()) @if let Some(b) = &p.booking { " · booking " a href={ "/ui/bookings/" (b) } { (b) } } }
                } }
            }
            h3 { "Last messages" }
            @if l.last_messages.is_empty() {
                p.muted { "None yet." }
            } @else {
                ul.messages { @for m in l.last_messages.iter().rev() { li { (m) } } }
            }
        }
    }
}

/// POST `/ui/pms/{name}/reset`: asks the link for a General Reset (as the API's reset).
pub async fn reset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    posted: Posted<NoFields>,
) -> UiResult<Response> {
    posted.user.require(Permission::FrontDesk)?;
    if !state.pms.reset(&name) {
        return Err(UiError::not_found(format!(
            "there is no running PMS link named {name:?}, or it is busy with another request; \
             reload the dashboard and try again"
        )));
    }
    Ok(Redirect::to(&format!("/ui/environment?{}", query(&[("reset", &name)]))).into_response())
}

/// The fields of the handover form.
#[derive(Deserialize)]
pub struct HandoverForm {
    #[serde(default)]
    to: String,
    reason: Option<String>,
}

/// POST `/ui/environment/handover`: hands the master token over (as the API's handover,
/// admin only); back to the dashboard, which then shows the new master, or the reason it failed.
pub async fn handover(
    State(state): State<AppState>,
    Posted { user, form }: Posted<HandoverForm>,
) -> UiResult<Response> {
    user.require(Permission::Admin)?;
    let result = match innsync_core::ServerCode::parse(&form.to) {
        Ok(to) => {
            let reason = form
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| format!("handover from the dashboard by {}", user.username));
            crate::replication::handover::run(&state, to, &reason, &user.username).await
        }
        Err(why) => Err(Problem::invalid(why)),
    };
    match result {
        Ok(g) => Ok(Redirect::to(&format!(
            "/ui/environment?{}",
            query(&[("handover", &g.master)])
        ))
        .into_response()),
        Err(p) => {
            let env = EnvironmentView::read(&state).await?;
            let links = state.pms.statuses();
            let queues = super::operations::Queues::read(&state).await?;
            let extra = Extra::read(&state).await?;
            let page = render(
                &user,
                &env,
                &links,
                &queues,
                &extra,
                Some(layout::problem_box(&p)),
            );
            Ok((p.status, page).into_response())
        }
    }
}
