//! Telling "the database is down, full or busy" apart from other database errors, so callers
//! get a clear retry answer instead of an internal error.

use std::fmt;

use diesel::result::{DatabaseErrorKind, Error};

/// Why the database could not serve a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No connection could be made, or the server went away mid-request.
    Unreachable,
    /// Every pooled connection stayed busy for the whole wait.
    PoolExhausted,
    /// The server is out of disk space.
    DiskFull,
}

impl Unavailable {
    /// Every reason, in the order /metrics lists them.
    pub const ALL: [Unavailable; 3] = [Unavailable::Unreachable, Unavailable::PoolExhausted, Unavailable::DiskFull];

    /// The `reason` label of `imreceipts_db_unavailable_total`.
    pub fn label(self) -> &'static str {
        match self {
            Unavailable::Unreachable => "unreachable",
            Unavailable::PoolExhausted => "pool_exhausted",
            Unavailable::DiskFull => "disk_full",
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unavailable::Unreachable => "unreachable",
            Unavailable::PoolExhausted => "every connection is in use",
            Unavailable::DiskFull => "out of disk space",
        })
    }
}

/// Whether `err` means the database is unavailable rather than the query being wrong.
pub fn classify(err: &Error) -> Option<Unavailable> {
    match err {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => {
            Some(Unavailable::Unreachable)
        }
        // diesel exposes no SQLSTATE for these; PostgreSQL's messages are stable (53100
        // disk_full reports the OS error text; 57P01-57P03 are shutdown and startup).
        Error::DatabaseError(_, info) => {
            let msg = info.message();
            if msg.contains("No space left on device") || msg.contains("could not extend file") {
                Some(Unavailable::DiskFull)
            } else if msg.contains("terminating connection due to administrator command")
                || msg.contains("the database system is shutting down")
                || msg.contains("the database system is starting up")
                || msg.contains("server closed the connection unexpectedly")
            {
                Some(Unavailable::Unreachable)
            } else {
                None
            }
        }
        _ => None,
    }
}
