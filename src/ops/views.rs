//! What each person may see, as plain models read from the store: the seller's, the manager's
//! and the admin's App Home, and the `/pulse` replies. The chat layer renders them (pure
//! functions, snapshot-tested); nothing here knows how they look.
//!
//! Privacy: a seller's model holds no number about the team; an admin's holds participation
//! only, and only in words that pass `privacy::participation_words` (never under k).

use jiff::Timestamp;

use super::AppState;
use super::commitments::{TeamLoop, team_loop};
use super::digests::{digest_for, seller_next_pulse_words};
use crate::digest::Digest;
use crate::privacy::participation_words;
use crate::store::{CadenceScope, Commitment, SharedChart};
use crate::survey::cadence::Cadence;

/// Where a team's current window stands, in the terms a seller may know (no number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStanding {
    /// A pulse is open, and the last one's answers are held with it (too few answered).
    OpenWithHeld,
    Open,
    /// No pulse open; the last one's answers are held for the next (too few answered).
    Held,
    Idle,
}

/// What a seller sees about their own team's pulse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerView {
    pub manager: String,
    pub opted_out: bool,
    /// When their next pulse opens, in words in their own time zone (None: not scheduled).
    pub next_pulse: Option<String>,
    pub window: WindowStanding,
    /// The team's latest commitment from their manager, done or not.
    pub commitment: Option<Commitment>,
}

/// One team on the admin's screen: sizes, cadence, and participation in words at k or more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRow {
    pub manager: String,
    pub sellers: i64,
    pub eligible: i64,
    /// The team's own cadence in words (None: the org default).
    pub own_cadence: Option<String>,
    pub pulse_open: bool,
    /// "5 of 6 took part", only where the release reached k.
    pub took_part: Option<String>,
}

/// What an admin sees: cadences, teams, participation (never a score) and the admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminView {
    /// The org default cadence in words (None: not set, so nothing is sent).
    pub org_cadence: Option<String>,
    pub teams: Vec<TeamRow>,
    /// Teams beyond those listed (a screen with a limit lists the first few).
    pub more_teams: usize,
    pub admins: Vec<String>,
}

/// Teams App Home lists: each takes two blocks, well inside the 100-block limit of a Home tab.
pub const HOME_TEAMS: usize = 40;

/// A manager's own section: the digest, and where the team's loop stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerView {
    pub digest: Digest,
    pub team_loop: TeamLoop,
    /// The trend chart last shared in the manager's direct message, shown again here.
    pub chart: Option<SharedChart>,
}

/// A person's App Home: a section per role they hold (none: not on any roster).
#[derive(Debug, Clone, PartialEq)]
pub struct HomeView {
    pub admin: Option<AdminView>,
    pub manager: Option<ManagerView>,
    pub seller: Option<SellerView>,
}

/// `/pulse status`: the manager's digest and the seller's next pulse, as they apply.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub manager: Option<Digest>,
    pub seller: Option<SellerView>,
}

pub async fn home(state: &AppState, person: &str, now: Timestamp) -> anyhow::Result<HomeView> {
    let store = &state.store;
    let admin = match store.is_admin(person).await? {
        true => Some(admin(state, Some(HOME_TEAMS)).await?),
        false => None,
    };
    let manager = match store.is_current_manager(person).await? {
        true => Some(ManagerView {
            digest: digest_for(state, person, now).await?,
            team_loop: team_loop(state, person).await?,
            chart: store.chart_of(person).await?,
        }),
        false => None,
    };
    Ok(HomeView {
        admin,
        manager,
        seller: seller(state, person, now).await?,
    })
}

pub async fn status(state: &AppState, person: &str, now: Timestamp) -> anyhow::Result<StatusView> {
    let manager = match state.store.is_current_manager(person).await? {
        true => Some(digest_for(state, person, now).await?),
        false => None,
    };
    Ok(StatusView {
        manager,
        seller: seller(state, person, now).await?,
    })
}

/// The seller's view of their team, if they are on one.
pub async fn seller(
    state: &AppState,
    person: &str,
    now: Timestamp,
) -> anyhow::Result<Option<SellerView>> {
    let store = &state.store;
    let Some(manager) = store.current_manager_of(person).await? else {
        return Ok(None);
    };
    let record = store.person(person).await?;
    let next_pulse = seller_next_pulse_words(state, &manager, record.as_ref(), now).await?;
    Ok(Some(SellerView {
        opted_out: record.is_some_and(|p| p.opted_out),
        next_pulse,
        window: window_standing(state, &manager).await?,
        commitment: store.latest_commitment(&manager).await?,
        manager,
    }))
}

/// Where `manager`'s team's window stands.
pub async fn window_standing(state: &AppState, manager: &str) -> anyhow::Result<WindowStanding> {
    let open = state.store.open_wave_of(manager).await?.is_some();
    let held = state
        .store
        .held_window(manager, state.release_policy.max_window_waves)
        .await?
        .is_some();
    Ok(match (open, held) {
        (true, true) => WindowStanding::OpenWithHeld,
        (true, false) => WindowStanding::Open,
        (false, true) => WindowStanding::Held,
        (false, false) => WindowStanding::Idle,
    })
}

/// The admin's view, listing the first `limit` teams (None: all); their cadences and open
/// pulses are read for those only. Participation only, and only where at least k were invited.
pub async fn admin(state: &AppState, limit: Option<usize>) -> anyhow::Result<AdminView> {
    let store = &state.store;
    let k = state.k.get();
    let participation = store.latest_participation().await?;
    let sizes = store.team_sizes().await?;
    let listed = limit.unwrap_or(sizes.len()).min(sizes.len());
    let more_teams = sizes.len() - listed;
    let mut teams = Vec::new();
    for (manager, sellers, eligible) in sizes.into_iter().take(listed) {
        let own_cadence = store
            .cadence(&CadenceScope::Manager(manager.clone()))
            .await?
            .as_ref()
            .map(Cadence::describe);
        let took_part = participation
            .iter()
            .find(|p| p.manager_id == manager)
            .and_then(|p| participation_words(p.respondents, p.invited, k));
        teams.push(TeamRow {
            pulse_open: store.open_wave_of(&manager).await?.is_some(),
            manager,
            sellers,
            eligible,
            own_cadence,
            took_part,
        });
    }
    Ok(AdminView {
        org_cadence: store
            .cadence(&CadenceScope::Org)
            .await?
            .as_ref()
            .map(Cadence::describe),
        teams,
        more_teams,
        admins: store.admins().await?,
    })
}
