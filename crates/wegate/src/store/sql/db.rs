//! The two engines under [`SqlStore`](super::SqlStore), behind one small statement API.
//!
//! A statement is SQL text with `$n` placeholders and its bound values ([`Stmt`]); a row is a list of named
//! values ([`Row`]). [`Db`] runs statements on SQLite (one dedicated connection thread, `lite`) or on
//! PostgreSQL (a sqlx pool). The aggregate files write their SQL once, for both.
//!
//! Why not sqlx's `Any` for SQLite too: its SQLite driver runs every statement as a round trip to a worker
//! thread per pooled connection, and each pooled connection has its own page cache that every other
//! connection's write invalidates. Under login load that was 40 % of wegate's CPU (bench/README.md). One
//! connection on one thread, running a whole group of statements per hop ([`Db::transaction`]), keeps its
//! cache warm and costs one hop per group.

use std::borrow::Cow;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::{Column as _, Row as _, TypeInfo as _};

use super::lite::Lite;
use super::{db_err, pg_err_in};
use crate::store::{StoreError, StoreResult};

/// A bound value. Nulls keep their type: PostgreSQL refuses a text null for a BIGINT column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

/// What `.bind()` takes: integers, strings and their options.
pub(crate) trait IntoArg {
    fn into_arg(self) -> Arg;
    /// The typed null of this kind of value.
    fn null() -> Arg
    where
        Self: Sized;
}

impl IntoArg for i64 {
    fn into_arg(self) -> Arg {
        Arg::Int(self)
    }
    fn null() -> Arg {
        Arg::NullInt
    }
}

impl IntoArg for String {
    fn into_arg(self) -> Arg {
        Arg::Text(self)
    }
    fn null() -> Arg {
        Arg::NullText
    }
}

impl IntoArg for &str {
    fn into_arg(self) -> Arg {
        Arg::Text(self.to_string())
    }
    fn null() -> Arg {
        Arg::NullText
    }
}

impl IntoArg for &String {
    fn into_arg(self) -> Arg {
        Arg::Text(self.clone())
    }
    fn null() -> Arg {
        Arg::NullText
    }
}

impl<T: IntoArg> IntoArg for Option<T> {
    fn into_arg(self) -> Arg {
        match self {
            Some(value) => value.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg {
        T::null()
    }
}

/// A statement and its bound values, in `$n` order.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub sql: Cow<'static, str>,
    pub args: Vec<Arg>,
}

/// A statement without values yet: `q("SELECT … WHERE id = $1").bind(id)`.
pub(crate) fn q(sql: impl Into<Cow<'static, str>>) -> Stmt {
    Stmt { sql: sql.into(), args: Vec::new() }
}

/// Statements that each take the one value `$1`, e.g. the deletes of one row and its dependants.
pub(crate) fn each_bound_to(sqls: &[&'static str], value: &str) -> Vec<Stmt> {
    sqls.iter().map(|&sql| q(sql).bind(value)).collect()
}

impl Stmt {
    pub fn bind(mut self, value: impl IntoArg) -> Stmt {
        self.args.push(value.into_arg());
        self
    }
}

/// A column's value. The schema has TEXT and BIGINT columns only.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Text(String),
}

/// One result row: the statement's column names (shared by its rows) and the values.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub names: Arc<[Box<str>]>,
    pub vals: Vec<Val>,
}

/// Reading a typed value out of a [`Val`]; `None` when the stored type is not this one.
pub(crate) trait FromVal: Sized {
    fn from_val(value: &Val) -> Option<Self>;
}

impl FromVal for i64 {
    fn from_val(value: &Val) -> Option<i64> {
        match value {
            Val::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromVal for String {
    fn from_val(value: &Val) -> Option<String> {
        match value {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(value: &Val) -> Option<Option<T>> {
        match value {
            Val::Null => Some(None),
            other => T::from_val(other).map(Some),
        }
    }
}

impl Row {
    pub fn get<T: FromVal>(&self, name: &str) -> StoreResult<T> {
        let index = self
            .names
            .iter()
            .position(|n| n.as_ref() == name)
            .ok_or_else(|| StoreError::Backend(format!("no column {name} in the result")))?;
        T::from_val(&self.vals[index])
            .ok_or_else(|| StoreError::Backend(format!("column {name} holds an unexpected type")))
    }
}

/// The engine under a store, and how many statements and calls it ran (for `/metrics` and the benchmark).
#[derive(Clone)]
pub(crate) struct Db {
    engine: Engine,
    statements: Counter,
    calls: Counter,
}

#[derive(Clone)]
enum Engine {
    Sqlite(Lite),
    Postgres(PgPool),
}

impl Db {
    pub fn sqlite(lite: Lite) -> Db {
        Db { engine: Engine::Sqlite(lite), statements: Counter::default(), calls: Counter::default() }
    }

    pub fn postgres(pool: PgPool) -> Db {
        Db { engine: Engine::Postgres(pool), statements: Counter::default(), calls: Counter::default() }
    }

    /// Statements run so far (a transaction's BEGIN and COMMIT not counted).
    pub fn statements(&self) -> Counter {
        self.statements.clone()
    }

    /// Calls so far: a statement, a transaction of several, or an [`in_order`](Self::in_order) group — on
    /// SQLite, one hop to the connection thread each.
    pub fn calls(&self) -> Counter {
        self.calls.clone()
    }

    /// The rows of one statement (stepped to the end, so a `RETURNING` statement has done its work).
    pub async fn fetch(&self, stmt: Stmt) -> StoreResult<Vec<Row>> {
        self.calls.inc();
        self.statements.inc();
        tracing::trace!(target: "wegate::sql", "{}", stmt.sql);
        match &self.engine {
            Engine::Sqlite(lite) => lite.run(move |conn| super::lite::fetch(conn, &stmt)).await,
            Engine::Postgres(pool) => {
                let rows = pg_query(&stmt).fetch_all(pool).await.map_err(db_err)?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub async fn exec(&self, stmt: Stmt) -> StoreResult<u64> {
        self.calls.inc();
        self.statements.inc();
        tracing::trace!(target: "wegate::sql", "{}", stmt.sql);
        match &self.engine {
            Engine::Sqlite(lite) => lite.run(move |conn| super::lite::exec(conn, &stmt)).await,
            Engine::Postgres(pool) => Ok(pg_query(&stmt).execute(pool).await.map_err(db_err)?.rows_affected()),
        }
    }

    /// Runs the statements in order in one transaction and gives each one's rows. With `first_must_hit`, a
    /// first statement that changes no row rolls everything back as [`StoreError::NotFound`]. On SQLite the
    /// whole group is one hop to the connection thread.
    pub async fn transaction(&self, stmts: Vec<Stmt>, first_must_hit: bool) -> StoreResult<Vec<Vec<Row>>> {
        self.calls.inc();
        self.statements.inc_by(stmts.len() as u64);
        for stmt in &stmts {
            tracing::trace!(target: "wegate::sql", "(in a transaction) {}", stmt.sql);
        }
        match &self.engine {
            Engine::Sqlite(lite) => lite.run(move |conn| super::lite::transaction(conn, &stmts, first_must_hit)).await,
            Engine::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(db_err)?;
                let mut results = Vec::with_capacity(stmts.len());
                for (i, stmt) in stmts.iter().enumerate() {
                    let is_select_or_returning = returns_rows(&stmt.sql);
                    let rows = if is_select_or_returning {
                        let rows = pg_query(stmt).fetch_all(&mut *tx).await.map_err(db_err)?;
                        if i == 0 && first_must_hit && rows.is_empty() {
                            return Err(StoreError::NotFound);
                        }
                        rows.iter().map(pg_row).collect::<StoreResult<Vec<_>>>()?
                    } else {
                        let done = pg_query(stmt).execute(&mut *tx).await.map_err(db_err)?;
                        if i == 0 && first_must_hit && done.rows_affected() == 0 {
                            return Err(StoreError::NotFound);
                        }
                        Vec::new()
                    };
                    results.push(rows);
                }
                tx.commit().await.map_err(db_err)?;
                Ok(results)
            }
        }
    }

    /// Runs the statements one after another in one call, each on its own — no transaction: one that fails
    /// leaves those before it done — and gives each one's rows. For a write and the reads that follow it: on
    /// SQLite one hop to the connection thread, on PostgreSQL one connection of the pool and no BEGIN and
    /// COMMIT round trips.
    pub async fn in_order(&self, stmts: Vec<Stmt>) -> StoreResult<Vec<Vec<Row>>> {
        self.calls.inc();
        self.statements.inc_by(stmts.len() as u64);
        for stmt in &stmts {
            tracing::trace!(target: "wegate::sql", "(in order) {}", stmt.sql);
        }
        match &self.engine {
            Engine::Sqlite(lite) => {
                lite.run(move |conn| stmts.iter().map(|stmt| super::lite::fetch(conn, stmt)).collect()).await
            }
            Engine::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(db_err)?;
                let mut results = Vec::with_capacity(stmts.len());
                for stmt in &stmts {
                    results.push(if returns_rows(&stmt.sql) {
                        let rows = pg_query(stmt).fetch_all(&mut *conn).await.map_err(db_err)?;
                        rows.iter().map(pg_row).collect::<StoreResult<Vec<_>>>()?
                    } else {
                        pg_query(stmt).execute(&mut *conn).await.map_err(db_err)?;
                        Vec::new()
                    });
                }
                Ok(results)
            }
        }
    }

    /// SQLite: a consistent copy into `path` (see [`super::lite::Lite::vacuum_into`]). PostgreSQL: `false`.
    pub async fn vacuum_into(&self, path: &std::path::Path) -> StoreResult<bool> {
        match &self.engine {
            Engine::Sqlite(lite) => lite.vacuum_into(path).await.map(|()| true),
            Engine::Postgres(_) => Ok(false),
        }
    }

    /// Closes the engine: SQLite's thread closes its connection (releasing an exclusive lock), the
    /// PostgreSQL pool waits for connections in use to come back.
    pub async fn close(&self) {
        match &self.engine {
            Engine::Sqlite(lite) => lite.close().await,
            Engine::Postgres(pool) => pool.close().await,
        }
    }
}

/// Whether a statement gives rows back (a SELECT, or a change with RETURNING).
pub(crate) fn returns_rows(sql: &str) -> bool {
    starts_with_keyword(sql, "select")
        || starts_with_keyword(sql, "with")
        || sql.to_ascii_uppercase().contains("RETURNING")
}

/// Whether the statement's first word is `keyword` (any case).
pub(crate) fn starts_with_keyword(sql: &str, keyword: &str) -> bool {
    sql.trim_start().get(..keyword.len()).is_some_and(|head| head.eq_ignore_ascii_case(keyword))
}

fn pg_query(stmt: &Stmt) -> sqlx::query::Query<'_, sqlx::Postgres, PgArguments> {
    let mut query = sqlx::query(&stmt.sql);
    for arg in &stmt.args {
        query = match arg {
            Arg::Int(n) => query.bind(*n),
            Arg::Text(s) => query.bind(s.as_str()),
            Arg::NullInt => query.bind(None::<i64>),
            Arg::NullText => query.bind(None::<&str>),
        };
    }
    query
}

fn pg_row(row: &PgRow) -> StoreResult<Row> {
    let columns = row.columns();
    let names: Arc<[Box<str>]> = columns.iter().map(|c| Box::from(c.name())).collect();
    let mut vals = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let value = match column.type_info().name() {
            "INT8" => row.try_get::<Option<i64>, _>(i).map(|v| v.map_or(Val::Null, Val::Int)),
            "INT4" => row.try_get::<Option<i32>, _>(i).map(|v| v.map_or(Val::Null, |n| Val::Int(i64::from(n)))),
            "INT2" => row.try_get::<Option<i16>, _>(i).map(|v| v.map_or(Val::Null, |n| Val::Int(i64::from(n)))),
            "BOOL" => row.try_get::<Option<bool>, _>(i).map(|v| v.map_or(Val::Null, |b| Val::Int(i64::from(b)))),
            _ => row.try_get::<Option<String>, _>(i).map(|v| v.map_or(Val::Null, Val::Text)),
        }
        .map_err(|e| pg_err_in(column.name(), e))?;
        vals.push(value);
    }
    Ok(Row { names, vals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_keep_their_type() {
        assert_eq!(None::<i64>.into_arg(), Arg::NullInt);
        assert_eq!(None::<&str>.into_arg(), Arg::NullText);
        assert_eq!(Some("a").into_arg(), Arg::Text("a".into()));
    }

    #[test]
    fn rows_are_read_by_name_and_type() {
        let row = Row { names: Arc::from(vec![Box::from("a"), Box::from("b")]), vals: vec![Val::Int(1), Val::Null] };
        assert_eq!(row.get::<i64>("a").ok(), Some(1));
        assert_eq!(row.get::<Option<String>>("b").ok(), Some(None));
        assert!(row.get::<String>("a").is_err());
        assert!(row.get::<i64>("c").is_err());
    }

    #[test]
    fn statements_that_return_rows_are_told_apart() {
        assert!(returns_rows("SELECT 1"));
        assert!(returns_rows("  select 1"));
        assert!(returns_rows("DELETE FROM x WHERE a = $1 RETURNING a"));
        assert!(!returns_rows("DELETE FROM x WHERE a = $1"));
    }
}
