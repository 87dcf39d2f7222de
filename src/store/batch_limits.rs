//! How much of an org one write transaction of the planner takes, by backend: up to `teams`
//! teams (a pulse opened or a window decided each) and, unless one team alone is more, the
//! `people` invited in them.

use super::{Backend, Store};

/// A batch's limits: at most `teams` teams and, unless one team alone is more, `people`
/// people invited in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub teams: usize,
    pub people: usize,
}

impl BatchLimits {
    /// Pulses opened by one transaction of [`Store::open_waves_and_plan`] on SQLite. It has
    /// one writer, and an answer arriving meanwhile waits for the whole batch: about a
    /// millisecond of statements per ten sellers, so a batch holds the write lock for a few
    /// tens of milliseconds at most. Batches of 800 sellers made an answer wait up to 104 ms
    /// (`planner_bench 1000 100`).
    pub const OPEN_SQLITE: BatchLimits = BatchLimits {
        teams: 64,
        people: 400,
    };
    /// The same on PostgreSQL, which locks only the batch's new rows, and no answer reads them
    /// before they commit: answers do not wait for a batch, and each batch's reads, statements
    /// and commit are round trips. Opening 100,000 invitations in 1,000 teams took 3.6 to
    /// 3.8 s in batches of 64 teams or 400 sellers, 3.0 s in batches of 256 or 3,200 (`fanout`
    /// on PostgreSQL); an answer waited at most 6.9 ms meanwhile (`planner_bench 1000 100`).
    pub const OPEN_POSTGRES: BatchLimits = BatchLimits {
        teams: 256,
        people: 3200,
    };
    /// Windows decided by one transaction of [`Store::close_and_decide_many`] on SQLite, with
    /// the invitees of their waves. An answer arriving meanwhile waits for the whole batch: a
    /// release deletes each invitee's invitation and reminder, and their answers, so batches
    /// of 64 teams of 100 made it wait 89 ms at the median and up to 150 ms
    /// (`planner_bench 1000 100`); 400 invitees is about 64 teams of 5, a batch of about 10 ms.
    pub const CLOSE_SQLITE: BatchLimits = BatchLimits {
        teams: 64,
        people: 400,
    };
    /// The same on PostgreSQL, which locks only the rows of the batch's own windows and waves,
    /// so answers to other pulses do not wait for it, and each statement's planning (about
    /// 0.7 ms: their lists of ids differ every time) is shared by as many windows as an
    /// `IN (…)` list holds. Releasing 10,000 windows took 2.2 s in batches of 64, 1.2 s in
    /// batches of 500 with the settings of [`Store::close_and_decide_many`] (`planner_bench` on
    /// PostgreSQL); an answer to another pulse waited at most 14 ms meanwhile. Two batches are
    /// written at once ([`Store::close_batches_at_once`]), each of 250: the close tick 1,425 ms
    /// against 1,953 one batch of 500 at a time (three alternated pairs). Two of 500 were
    /// faster still (1,114 ms against 1,783, five pairs), but an answer during the tick then
    /// waited up to 48 ms (goal 50); against two of 250, six alternated pairs: up to 48 ms
    /// against 42, 37 at the mean against 24.
    pub const CLOSE_POSTGRES: BatchLimits = BatchLimits {
        teams: 250,
        people: 1600,
    };
}

impl Store {
    /// The limits of a batch of pulses opened, on this store's backend.
    pub fn open_batch_limits(&self) -> BatchLimits {
        match self.backend {
            Backend::Sqlite => BatchLimits::OPEN_SQLITE,
            Backend::Postgres => BatchLimits::OPEN_POSTGRES,
        }
    }

    /// How many of the planner's opening batches may be written at once: one on SQLite, which
    /// has one writer; two on PostgreSQL (`schedule::planner`, `Writing`).
    pub fn open_batches_at_once(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        }
    }

    /// The limits of a batch of windows closed and decided, on this store's backend.
    pub fn close_batch_limits(&self) -> BatchLimits {
        match self.backend {
            Backend::Sqlite => BatchLimits::CLOSE_SQLITE,
            Backend::Postgres => BatchLimits::CLOSE_POSTGRES,
        }
    }

    /// How many batches of windows closed and decided may be written at once: one on SQLite,
    /// which has one writer; two on PostgreSQL, where a batch is a chain of statements, each
    /// the server's work on one backend, and a second backend uses the other core (sampled
    /// during `planner_bench`'s close tick one at a time: the server busy 0.7 of a core, the
    /// two cores idle 58% of the time). Their windows and waves differ, so they lock different
    /// rows.
    pub fn close_batches_at_once(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        }
    }
}
