//! Hand-written SQL whose prepared statement is cached per connection.
//!
//! diesel's `sql_query` is never cached: every call is prepared and planned again, costing an
//! extra round trip and the planner's time on each receipt. [`cached`] queries are keyed by
//! their (static) SQL text in diesel's statement cache, so each connection prepares them once.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A query with binds referenced in its text as `$1`, `$2`, ... in bind order.
#[derive(Debug, Clone, Copy)]
#[must_use = "queries run only when executed"]
pub struct Cached<B> {
    sql: &'static str,
    binds: B,
}

/// One bind value and those before it.
#[derive(Debug, Clone, Copy)]
pub struct Bind<P, V, ST> {
    prev: P,
    value: V,
    _sql_type: PhantomData<ST>,
}

/// Starts a cached query.
pub fn cached(sql: &'static str) -> Cached<()> {
    Cached { sql, binds: () }
}

impl<B> Cached<B> {
    /// Binds the next parameter (`$n` for the n-th call).
    pub fn bind<ST, V>(self, value: V) -> Cached<Bind<B, V, ST>> {
        Cached { sql: self.sql, binds: Bind { prev: self.binds, value, _sql_type: PhantomData } }
    }
}

impl<B: QueryFragment<Pg>> QueryFragment<Pg> for Cached<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.sql);
        // diesel writes a `$n` placeholder for every bind it collects; the SQL text already
        // names them, so the generated ones go into a trailing comment where they are inert.
        out.push_sql(" /* ");
        self.binds.walk_ast(out.reborrow())?;
        out.push_sql(" */");
        Ok(())
    }
}

impl<P, V, ST> QueryFragment<Pg> for Bind<P, V, ST>
where
    P: QueryFragment<Pg>,
    V: ToSql<ST, Pg>,
    Pg: HasSqlType<ST>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.prev.walk_ast(out.reborrow())?;
        out.push_bind_param::<ST, V>(&self.value)
    }
}

impl<B> QueryId for Cached<B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> Query for Cached<B> {
    type SqlType = Untyped;
}

impl<B, Conn> RunQueryDsl<Conn> for Cached<B> {}
